"""The TSB-AD metric bundle (``TSB_AD.evaluation.metrics.get_metrics``), for leaderboard-comparable figures.

Reproduces TSB-AD's choices, which differ from this package's own metrics:

* ``standard_f1``: max over the precision-recall curve of 2PR / (P + R + 1e-5) (note the 1e-5);
* ``pa_f1``, ``event_based_f1``, ``r_based_f1``, ``affiliation_f``: with ``pred=None`` the best over the
  100 thresholds ``linspace(min, max, 100)`` with ``score > threshold``, which uses the test labels
  (``oracle`` is then True); with ``pred`` given, the value for those predictions;
* ``pa_f1`` uses the AT/OmniAnomaly adjustment loop; ``event_based_f1`` is the composite F-score;
  ``r_based_f1`` is range-based with recall α = 0.2, reciprocal cardinality, flat bias;
* ``vus_roc`` / ``vus_pr`` with buffers 0..``sliding_window`` and 250 thresholds.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .affiliation import affiliation
from .best_f1 import f1_at_thresholds
from .event_f1 import event_f1_composite
from .point_adjust import point_adjust
from .pointwise import harmonic_mean, precision_recall_f1
from .range_based import range_prf
from .ranking import average_precision, roc_auc
from .segments import segment_bounds, segment_max
from .validation import as_binary, check_same_length, scores_and_labels
from .vus import DEFAULT_THRESHOLDS, DEFAULT_WINDOW, vus

TSB_GRID = 100


def _standard_f1(s: np.ndarray, y: np.ndarray) -> float:
    order = np.argsort(-s, kind="stable")
    ranked = s[order]
    last = np.concatenate((ranked[1:] != ranked[:-1], [True]))
    tp = np.cumsum(y[order])[last].astype(np.float64)
    precision = tp / (np.flatnonzero(last) + 1)
    recall = tp / y.sum()
    return float(np.max(2 * precision * recall / (precision + recall + 1e-5)))


def _composite_at(s: np.ndarray, y: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    starts, ends = segment_bounds(y)
    peaks = np.sort(segment_max(s, starts, ends))
    recall = (peaks.size - np.searchsorted(peaks, thresholds, side="right")) / peaks.size
    precision = f1_at_thresholds(s, y, thresholds, adjust=False)[0]
    return np.array([harmonic_mean(p, r) for p, r in zip(precision, recall)])


def tsb_ad_metrics(
    scores: ArrayLike,
    labels: ArrayLike,
    sliding_window: int = DEFAULT_WINDOW,
    pred: ArrayLike | None = None,
    n_thresholds: int = DEFAULT_THRESHOLDS,
) -> dict:
    """TSB-AD's nine metrics under its own conventions (flat dict; ``oracle`` True when ``pred`` is None)."""
    s, y = scores_and_labels(scores, labels)
    vus_roc, vus_pr = vus(s, y, sliding_window, n_thresholds)
    out = {"oracle": pred is None, "auc_pr": average_precision(s, y), "auc_roc": roc_auc(s, y),
           "vus_pr": vus_pr, "vus_roc": vus_roc}
    if pred is None:
        grid = np.linspace(s.min(), s.max(), TSB_GRID)
        preds = [s > t for t in grid]
        out["standard_f1"] = _standard_f1(s, y)
        out["pa_f1"] = float(f1_at_thresholds(s, y, grid, at_compat=True)[2].max())
        out["event_based_f1"] = float(_composite_at(s, y, grid).max())
        out["r_based_f1"] = max(range_prf(p, y, alpha=0.2, cardinality="reciprocal").f1 for p in preds)
        out["affiliation_f"] = max(affiliation(p, y).f1 for p in preds)
        return out
    p = as_binary(pred, "pred")
    check_same_length(p, y, "pred")
    out["standard_f1"] = precision_recall_f1(p, y).f1
    out["pa_f1"] = precision_recall_f1(point_adjust(p, y, at_compat=True), y).f1
    out["event_based_f1"] = event_f1_composite(p, y).f1
    out["r_based_f1"] = range_prf(p, y, alpha=0.2, cardinality="reciprocal").f1
    out["affiliation_f"] = affiliation(p, y).f1
    return out
