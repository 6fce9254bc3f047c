"""Figures (PNG and PDF, matplotlib Agg) from stored trial records and checkpoint scores."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ..select import UNTRAINED_MODEL_SUFFIX, Selection
from .common import WrittenFigure
from .curves import curves_figure
from .inflation import inflation_figure
from .study import study_figures
from .timeline import timeline_figure

if TYPE_CHECKING:
    from ..figure_helper import FigureHelper

#: One figure job: ("inflation", ""), ("timeline", dataset) or ("experiment", index of its selection).
FigureJob = tuple[str, str]
Drawn = tuple[list[WrittenFigure], list[str]]


def figure_jobs(selections: list[Selection]) -> list[FigureJob]:
    """Every figure job of a grid, in the report's order."""
    return ([("inflation", "")] + [("timeline", dataset) for dataset in dict.fromkeys(s.dataset for s in selections)]
            + [("experiment", str(index)) for index in range(len(selections))])


def draw_job(job: FigureJob, selections: list[Selection], labels: dict[str, str], out: Path) -> Drawn:
    """The figures of one job, and a note for each that could not be drawn and why."""
    kind, key = job
    if kind == "inflation":
        inflation = inflation_figure(selections, labels, out)
        if inflation is None:
            return [], ["inflation plot: no pair has both F1 and PA-F1 at the at-compat threshold"]
        return [inflation], []
    if kind == "timeline":
        timeline = timeline_figure(key, selections, labels, out)
        if timeline is None:
            return [], [f"scores on {key}: no selected trial kept a checkpoint with scores.npz"]
        return [timeline], []
    selection = selections[int(key)]
    label = labels.get(selection.model, selection.model)
    if selection.model.endswith(UNTRAINED_MODEL_SUFFIX):
        return [], [f"optimisation history and learning curves of {label} on {selection.dataset}: an untrained "
                    "copy is one trial scored once, at epoch 0 (its scores are in the timeline)"]
    figures, skipped = study_figures(selection, label, out)
    curves = curves_figure(selection, label, out)
    if curves is None:
        return figures, [*skipped, f"learning curves of {label} on {selection.dataset}: no trial reported a loss"]
    return [*figures, curves], skipped


class FigureDrawing:
    """Every figure of a grid, drawn here and, with a `helper` (a second process that reads
    `grid_dir` too), by the helper as well: it starts on the jobs at once, while the caller may do
    other work before `finish`; then both take the next job until none is left."""

    def __init__(self, selections: list[Selection], labels: dict[str, str], out: Path,
                 helper: "FigureHelper | None" = None, grid_dir: Path | None = None):
        self._selections, self._labels, self._out = selections, labels, out
        self._jobs = figure_jobs(selections)
        self._drawn: list[Drawn | None] = [None] * len(self._jobs)
        self._lock, self._order = threading.Lock(), iter(range(len(self._jobs)))
        self._feeder = None
        if helper is not None and grid_dir is not None:
            self._feeder = threading.Thread(target=self._helped, args=(helper, grid_dir), name="figure-helper")
            self._feeder.start()

    def _helped(self, helper: "FigureHelper", grid_dir: Path) -> None:
        """The helper's share: once it has read the grid (meanwhile this process draws), the next
        jobs until none is left."""
        if helper.open(grid_dir, self._out, self._jobs):
            helper.draw_all(self._next_jobs(), self._drawn)

    def _next_jobs(self) -> Iterator[int]:
        while True:
            with self._lock:
                index = next(self._order, None)
            if index is None:
                return
            yield index

    def finish(self) -> Drawn:
        """Draw the jobs left, wait for the helper's; the figures and the notes of figures not drawn
        (and why), in the report's order. A job the helper could not draw is drawn here."""
        for index in self._next_jobs():
            self._drawn[index] = draw_job(self._jobs[index], self._selections, self._labels, self._out)
        if self._feeder is not None:
            self._feeder.join()
        figures: list[WrittenFigure] = []
        skipped: list[str] = []
        for job, drawn in zip(self._jobs, self._drawn):
            job_figures, job_skipped = drawn or draw_job(job, self._selections, self._labels, self._out)
            figures.extend(job_figures)
            skipped.extend(job_skipped)
        return figures, skipped


__all__ = ["Drawn", "FigureDrawing", "FigureJob", "WrittenFigure", "draw_job", "figure_jobs"]
