"""Figures (PNG and PDF, matplotlib Agg) from stored trial records and checkpoint scores."""
from __future__ import annotations

from pathlib import Path

from ..select import UNTRAINED_MODEL_SUFFIX, Selection
from .common import WrittenFigure
from .curves import curves_figure
from .inflation import inflation_figure
from .study import study_figures
from .timeline import timeline_figure


def write_figures(selections: list[Selection], labels: dict[str, str],
                  out: Path) -> tuple[list[WrittenFigure], list[str]]:
    """Every figure of a grid, and a note for each figure that could not be drawn and why."""
    figures: list[WrittenFigure] = []
    skipped: list[str] = []
    inflation = inflation_figure(selections, labels, out)
    if inflation is None:
        skipped.append("inflation plot: no pair has both F1 and PA-F1 at the at-compat threshold")
    else:
        figures.append(inflation)
    for dataset in dict.fromkeys(s.dataset for s in selections):
        timeline = timeline_figure(dataset, selections, labels, out)
        if timeline is None:
            skipped.append(f"scores on {dataset}: no selected trial kept a checkpoint with scores.npz")
        else:
            figures.append(timeline)
    for selection in selections:
        label = labels.get(selection.model, selection.model)
        if selection.model.endswith(UNTRAINED_MODEL_SUFFIX):
            skipped.append(f"optimisation history and learning curves of {label} on {selection.dataset}: an untrained "
                           "copy is one trial scored once, at epoch 0 (its scores are in the timeline)")
            continue
        study, why_not = study_figures(selection, label, out)
        figures.extend(study)
        skipped.extend(why_not)
        curves = curves_figure(selection, label, out)
        if curves is None:
            skipped.append(f"learning curves of {label} on {selection.dataset}: no trial reported a loss")
        else:
            figures.append(curves)
    return figures, skipped


__all__ = ["WrittenFigure", "write_figures"]
