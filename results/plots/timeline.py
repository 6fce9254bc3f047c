"""Per dataset, each model's anomaly scores on the test split over time (its selected trial, last
kept checkpoint), with the labelled anomaly segments shaded and the thresholds of that epoch drawn:
the model's headline protocol (dashed) and the label-free clean one (dotted) when it differs."""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from ..columns import CLEAN_PROTOCOL, section_of
from ..marks import ORACLE
from ..select import Selection
from .common import WrittenFigure, safe_stem, save

#: Longer series are drawn as the maximum of each of this many buckets (spikes stay visible).
MAX_POINTS = 4000


def envelope(scores: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray, int]:
    """Time positions and the maximum score of each bucket of `step` points (step 1 when short)."""
    step = max(1, int(np.ceil(scores.size / max_points)))
    if step == 1:
        return np.arange(scores.size), scores, 1
    padded = np.pad(scores, (0, (-scores.size) % step), constant_values=-np.inf)
    return np.arange(0, scores.size, step), padded.reshape(-1, step).max(axis=1), step


def segments(labels: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of every run of labelled points."""
    edges = np.diff(np.concatenate(([0], labels.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(s), int(e - s)) for s, e in zip(starts, ends)]


def load_scores(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """Test scores and labels of a checkpoint's `scores.npz` (common length); None if unreadable."""
    try:
        with np.load(path) as stored:
            scores, truth = np.asarray(stored["test"], float), np.asarray(stored["labels"]).astype(bool)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    n = min(scores.size, truth.size)
    return scores[:n], truth[:n]


def _panel(ax: Axes, selection: Selection, label: str, scores: np.ndarray, truth: np.ndarray,
           report: dict[str, Any]) -> int:
    """Draw one model's scores, segments and thresholds; returns the plotting step."""
    x, y, step = envelope(scores)
    ax.broken_barh(segments(truth), (0, 1), transform=ax.get_xaxis_transform(), color="tab:red", alpha=0.25,
                   label="labelled anomaly")
    ax.plot(x, y, color="tab:blue", lw=0.7, label="test score")
    headline = selection.headline_protocol
    for protocol, style, name in ((headline, "--", "headline threshold (protocol in the panel title)"),
                                  (CLEAN_PROTOCOL, ":", f"{CLEAN_PROTOCOL} threshold")):
        threshold = report.get(section_of(protocol), {}).get("threshold")
        if threshold is not None and (protocol == headline or headline != CLEAN_PROTOCOL):
            ax.axhline(threshold, color="black", ls=style, lw=1, label=name)
    ax.set_xlim(0, scores.size)
    ax.set_ylabel("score")
    record = report.get(section_of(headline), {})
    oracle = ORACLE.symbol * (selection.objective_uses_test_labels or bool(record.get("uses_test_labels")))
    metrics = (f"{headline}: F1 {100 * record['f1']:.1f}{oracle}, PA-F1 {100 * record['pa_f1']:.1f}{oracle}"
               if {"f1", "pa_f1"} <= set(record) else f"no {headline} record")
    ax.set_title(f"{label}: trial {selection.best.trial_id}, epoch {report.get('epoch', '?')} ({metrics})",
                 fontsize=9, loc="left")
    return step


def timeline_figure(dataset: str, selections: list[Selection], labels: dict[str, str],
                    out: Path) -> WrittenFigure | None:
    """One panel per model of `dataset` whose selected trial kept readable scores; None if none did."""
    panels = []
    for selection in selections:
        stored = selection.best.stored_scores() if selection.best is not None and selection.dataset == dataset else None
        loaded = load_scores(stored[0]) if stored else None
        if loaded is not None:
            panels.append((selection, *loaded, stored[1]))
    if not panels:
        return None
    figure, axes = plt.subplots(len(panels), 1, figsize=(10, 0.9 + 1.9 * len(panels)), squeeze=False,
                                layout="constrained")
    step = max(_panel(ax, selection, labels.get(selection.model, selection.model), scores, truth, report)
               for ax, (selection, scores, truth, report) in zip(axes[:, 0], panels))
    legend = {name: handle for ax in axes[:, 0] for handle, name in zip(*ax.get_legend_handles_labels())}
    figure.legend(legend.values(), legend.keys(), loc="outside lower center", ncols=4, fontsize=8)
    axes[-1, 0].set_xlabel("test time step" + (f" (maximum of every {step} points drawn)" if step > 1 else ""))
    figure.suptitle(f"Anomaly scores on {dataset} (test split)", fontsize=11, x=0.02, ha="left")
    caption = (f"Test-split anomaly score of each model's selected trial on {dataset}, from the scores stored with its "
               f"last kept checkpoint; labelled anomaly segments shaded red; dashed: the threshold of the model's "
               f"headline protocol at that epoch, dotted: the label-free {CLEAN_PROTOCOL} threshold where it differs "
               f"(predict score > threshold). Panel titles give that epoch's headline F1 without and with point "
               f"adjustment; {ORACLE.symbol} marks a number chosen with test labels.")
    return save(figure, out, f"timeline_{safe_stem(dataset)}", "Anomaly scores", f"Scores on {dataset}", caption)
