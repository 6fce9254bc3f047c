"""Point adjustment (Xu et al., WWW 2018) and PA%K (Kim et al., AAAI 2022, arXiv 2109.05257).

Segment definition: every ground-truth segment that contains at least one predicted point becomes fully
predicted; predictions outside the segments are left alone, so false positives stay point-wise.

``at_compat=True`` reproduces the loop of Anomaly-Transformer / OmniAnomaly ``adjust_predicts`` (also used
by STformer, TransMamba, TranAD, TSB-AD): its backward fill runs ``for j in range(i, 0, -1)`` and so never
reaches index 0. The two definitions differ only when a segment starts at index 0 and its first point was
not predicted (oracle O-PA-1).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .pointwise import prf_from_counts
from .segments import segment_bounds, segment_sum
from .validation import EvaluationInputError, predictions_and_labels

#: Default grid for the PA%K curve: K = 0, 1, ..., 100 (percent), integrated with the trapezoid rule.
DEFAULT_K_GRID = np.arange(101, dtype=np.float64)


def point_adjust(pred: ArrayLike, labels: ArrayLike, *, at_compat: bool = False) -> np.ndarray:
    """Point-adjusted predictions (bool array); ``at_compat`` selects the AT/OmniAnomaly loop."""
    p, y = predictions_and_labels(pred, labels)
    starts, ends = segment_bounds(y)
    hit = segment_sum(p.astype(np.int64), starts, ends) > 0
    adjusted = _fill(p, starts, ends, hit)
    if at_compat and starts.size and starts[0] == 0 and not p[0]:
        adjusted[0] = False
    return adjusted


def point_adjust_k(pred: ArrayLike, labels: ArrayLike, k: float) -> np.ndarray:
    """PA%K predictions: a segment is filled only if strictly more than ``k`` % of its points are predicted.

    ``k = 0`` is point adjustment; ``k = 100`` never adjusts (point-wise). Same rule as ``tadpak.pak``.
    """
    p, y = predictions_and_labels(pred, labels)
    _check_k(k)
    starts, ends = segment_bounds(y)
    hits = segment_sum(p.astype(np.int64), starts, ends)
    return _fill(p, starts, ends, hits * 100.0 > k * (ends - starts))


def pak_f1_curve(pred: ArrayLike, labels: ArrayLike, k_grid: ArrayLike = DEFAULT_K_GRID) -> np.ndarray:
    """F1 after PA%K for every K of ``k_grid`` (percent), without building the adjusted vectors."""
    p, y = predictions_and_labels(pred, labels)
    ks = np.asarray(k_grid, dtype=np.float64)
    for k in ks:
        _check_k(k)
    starts, ends = segment_bounds(y)
    lengths = ends - starts
    hits = segment_sum(p.astype(np.int64), starts, ends)
    n_pos = int(lengths.sum())
    fp = int(np.count_nonzero(p)) - int(hits.sum())
    gain = lengths - hits
    tp = np.array([hits.sum() + gain[hits * 100.0 > k * lengths].sum() for k in ks], dtype=np.int64)
    return prf_from_counts(tp, fp, n_pos - tp)[2]


def pak_auc(pred: ArrayLike, labels: ArrayLike, k_grid: ArrayLike = DEFAULT_K_GRID) -> float:
    """Area under F1-after-PA%K versus K, normalised by the K range so that it lies in [0, 1].

    Kim et al. recommend sweeping K from 0 to 100 and reporting this area; the default grid is every
    integer K with the trapezoid rule (a coarser grid such as ``range(0, 101, 10)`` can be passed).
    """
    ks = np.asarray(k_grid, dtype=np.float64)
    if ks.ndim != 1 or ks.size < 2 or np.any(np.diff(ks) <= 0):
        raise EvaluationInputError("k_grid must be at least two strictly increasing K values in [0, 100]")
    f1 = pak_f1_curve(pred, labels, ks)
    return float(np.trapezoid(f1, ks) / (ks[-1] - ks[0]))


def _check_k(k: float) -> None:
    if not 0.0 <= float(k) <= 100.0:
        raise EvaluationInputError(f"K is a percentage and must lie in [0, 100]; got {k}")


def _fill(pred: np.ndarray, starts: np.ndarray, ends: np.ndarray, which: np.ndarray) -> np.ndarray:
    out = pred.copy()
    marks = np.zeros(pred.shape[0] + 1, dtype=np.int64)
    np.add.at(marks, starts[which], 1)
    np.add.at(marks, ends[which], -1)
    out |= np.cumsum(marks[:-1]) > 0
    return out
