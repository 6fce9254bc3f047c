"""The inflation plot: F1 after point adjustment against F1 without it, at the same threshold (each
model's headline protocol, as in the main table), for every model and dataset, sanity baselines
included."""
from __future__ import annotations

from itertools import cycle
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from ..entities import pair_cell, pair_groups, table_dataset
from ..columns import section_of
from ..select import SANITY_BASELINES, UNTRAINED_MODEL_SUFFIX, Selection, is_sanity_baseline
from .common import WrittenFigure, save

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _marker_styles(models: list[str]) -> dict[str, dict]:
    """A colour per model, shared by its untrained copy (drawn hollow); random and the one-liner
    get a black ring."""
    trained = list(dict.fromkeys(m.removesuffix(UNTRAINED_MODEL_SUFFIX) for m in models))
    colours = dict(zip(trained, cycle(plt.get_cmap("tab10").colors)))
    styles = {}
    for model in models:
        colour = colours[model.removesuffix(UNTRAINED_MODEL_SUFFIX)]
        if model.endswith(UNTRAINED_MODEL_SUFFIX):
            styles[model] = dict(color=colour, markerfacecolor="white", markeredgecolor=colour, markeredgewidth=2)
        elif is_sanity_baseline(model):
            styles[model] = dict(color=colour, markeredgecolor="black", markeredgewidth=2)
        else:
            styles[model] = dict(color=colour, markeredgecolor=colour, markeredgewidth=0.5)
    return styles


def inflation_figure(selections: list[Selection], labels: dict[str, str], out: Path) -> WrittenFigure | None:
    """One point per (model, dataset) with both numbers (mean ± std over seeds as error bars)."""
    points = []
    for members in pair_groups(selections).values():
        raw, adjusted = (pair_cell(members, lambda s, key=key: f"{section_of(s.headline_protocol)}/{key}")
                         for key in ("f1", "pa_f1"))
        if raw.values and adjusted.values:
            points.append((members[0], raw, adjusted))
    if not points:
        return None
    models = list(labels)
    styles = _marker_styles(models)
    datasets = list(dict.fromkeys(table_dataset(s) for s, _, _ in points))
    markers = dict(zip(datasets, cycle(MARKERS)))
    figure, ax = plt.subplots(figsize=(6.4, 6.4 + 0.22 * (len(models) + len(datasets) + 1) / 2), layout="constrained")
    ax.plot([0, 100], [0, 100], color="grey", ls=":", lw=1)
    for selection, raw, adjusted in points:
        baseline = is_sanity_baseline(selection.model)
        ax.errorbar(100 * raw.mean, 100 * adjusted.mean, xerr=100 * (raw.std or 0), yerr=100 * (adjusted.std or 0),
                    marker=markers[table_dataset(selection)], ms=8, ls="none", zorder=2 if baseline else 3,
                    **styles[selection.model])
    ax.set(xlim=(0, 100), ylim=(0, 100), aspect="equal", xlabel="F1 without adjustment (%)",
           ylabel="F1 after point adjustment (%)")
    figure.suptitle("Point adjustment inflates F1 (headline threshold of each model)", fontsize=10)
    model_handles = [Line2D([], [], ls="none", marker="o", ms=8, **styles[m],
                            label=labels[m] + (" (sanity baseline)" if is_sanity_baseline(m) else ""))
                     for m in models if any(s.model == m for s, _, _ in points)]
    dataset_handles = [Line2D([], [], ls="none", marker=markers[d], color="grey", label=f"dataset {d}")
                       for d in datasets]
    # Below the axes, outside them: the legend never covers a point nor squeezes the plot sideways.
    figure.legend(handles=model_handles + dataset_handles, loc="outside lower center", ncols=2, fontsize=8,
                  frameon=False)
    missing = sorted(set(SANITY_BASELINES) - {s.model for s, _, _ in points})
    protocols = ", ".join(dict.fromkeys(f"{labels[s.model]}: {s.headline_protocol}" for s, _, _ in points))
    oracle = sorted({f"{labels[s.model]} on {table_dataset(s)}" for s, raw, adjusted in points
                     if raw.oracle or adjusted.oracle})
    caption = ("Each point is one model on one dataset: F1 without adjustment (x) against F1 after point adjustment "
               f"(y, the main table's F1) at the same threshold, the model's headline protocol ({protocols}); the "
               "dotted diagonal is no inflation. Sanity baselines have a black edge; error bars are the standard "
               "deviation over seeds where there are several."
               + (f" Chosen with test labels (oracle): {', '.join(oracle)}." if oracle else "")
               + (f" Not in this grid: {', '.join(missing)}." if missing else ""))
    return save(figure, out, "inflation", "Inflation", "PA-F1 against F1 without adjustment", caption)
