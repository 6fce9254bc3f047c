"""Exact F1 at many thresholds, and the exact best F1 over all thresholds, in O(T log K).

Every threshold rule here is ``prediction = score > threshold`` (the Anomaly-Transformer convention).

With point adjustment a ground-truth segment is detected at threshold δ iff its maximum score exceeds
δ, so each segment is one *positive item* keyed by its maximum and weighted by its length; every normal
point is a *negative item* keyed by its score (one false positive). Without adjustment every anomalous
point is a positive item of weight 1. TP only changes at positive keys and FP only falls as δ rises, so
the best F1 is reached by predicting ``score >= v`` for some positive key v: only the K positive keys
(50 segments, say) are candidates, and the normal scores are counted into the K + 1 gaps between them
with one binary search each. Choosing the threshold this way looks at the test labels: the result is an
*oracle* figure and must be reported as such.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .pointwise import prf_from_counts
from .segments import segment_bounds, segment_max
from .validation import require_positive, scores_and_labels


class ThresholdF1(NamedTuple):
    """A threshold (predict ``score > threshold``) and the precision, recall and F1 it gives."""

    threshold: float
    precision: float
    recall: float
    f1: float


def _positive_items(scores: np.ndarray, labels: np.ndarray, adjust: bool, at_compat: bool) -> tuple[np.ndarray, np.ndarray]:
    """Keys and weights of the positive items."""
    if not adjust:
        return scores[labels], np.ones(int(labels.sum()), dtype=np.int64)
    starts, ends = segment_bounds(labels)
    keys = segment_max(scores, starts, ends)
    weights = (ends - starts).astype(np.int64)
    if at_compat and starts[0] == 0:
        # The AT loop never back-fills index 0: it is its own item, the rest of the segment another.
        weights[0] -= 1
        keys = np.concatenate((keys, scores[:1]))
        weights = np.concatenate((weights, [1]))
    return keys, weights


def _counts_from(cuts: np.ndarray, keys: np.ndarray, weights: np.ndarray, normal: np.ndarray, side: str):
    """TP and FP when predicting the items whose key passes each sorted cut (``>=`` for side 'left')."""
    order = np.argsort(keys, kind="stable")
    key_sorted = keys[order]
    tp_above = np.concatenate((np.cumsum(weights[order][::-1])[::-1], [0]))
    tp = tp_above[np.searchsorted(key_sorted, cuts, side=side)]
    # bin[j] = number of cuts a normal score passes; FP at cut i = normal scores passing cuts 0..i
    opposite = "right" if side == "left" else "left"
    passed = np.bincount(np.searchsorted(cuts, normal, side=opposite), minlength=cuts.size + 1)
    fp = np.cumsum(passed[::-1])[::-1][1:]
    return tp, fp


def f1_at_thresholds(
    scores: ArrayLike, labels: ArrayLike, thresholds: ArrayLike, *, adjust: bool = True, at_compat: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 (after point adjustment when ``adjust``) at each threshold, exactly."""
    s, y = scores_and_labels(scores, labels)
    require_positive(y, "recall")
    thr = np.asarray(thresholds, dtype=np.float64).ravel()
    order = np.argsort(thr, kind="stable")
    keys, weights = _positive_items(s, y, adjust, at_compat)
    tp_sorted, fp_sorted = _counts_from(thr[order], keys, weights, s[~y], side="right")
    tp = np.empty_like(tp_sorted)
    fp = np.empty_like(fp_sorted)
    tp[order], fp[order] = tp_sorted, fp_sorted
    return prf_from_counts(tp, fp, int(y.sum()) - tp)


def best_f1(scores: ArrayLike, labels: ArrayLike, *, adjust: bool = True, at_compat: bool = False) -> ThresholdF1:
    """Exact best F1 over all thresholds (after point adjustment when ``adjust``); uses test labels: oracle.

    Ties between thresholds go to the highest one (fewest predictions). The returned threshold is the
    largest score strictly below the cut, so that ``scores > threshold`` reproduces the prediction.
    """
    s, y = scores_and_labels(scores, labels)
    require_positive(y, "the best F1")
    keys, weights = _positive_items(s, y, adjust, at_compat)
    cuts = np.unique(keys)
    tp, fp = _counts_from(cuts, keys, weights, s[~y], side="left")
    precision, recall, f1 = prf_from_counts(tp, fp, int(y.sum()) - tp)
    best = cuts.size - 1 - int(np.argmax(f1[::-1]))
    return ThresholdF1(_threshold_below(s, cuts[best]), float(precision[best]), float(recall[best]), float(f1[best]))


def _threshold_below(scores: np.ndarray, value: float) -> float:
    below = scores[scores < value]
    return float(below.max()) if below.size else float(np.nextafter(value, -np.inf))
