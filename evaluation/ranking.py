"""Threshold-free point-wise metrics: ROC-AUC and PR-AUC (average precision)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .validation import require_negative, require_positive, scores_and_labels


def roc_auc(scores: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve: the Mann-Whitney statistic with tied scores counted as one half.

    Equal to the trapezoidal area of the exact ROC curve (scikit-learn ``roc_auc_score``).
    Needs at least one anomaly and one normal point.
    """
    s, y = scores_and_labels(scores, labels)
    require_positive(y, "ROC-AUC")
    require_negative(y, "ROC-AUC")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    rank_sum = float(_mid_ranks(s)[y].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def _mid_ranks(s: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank."""
    order = np.argsort(s, kind="stable")
    ranked = s[order]
    first = np.flatnonzero(np.concatenate(([True], ranked[1:] != ranked[:-1])))
    size = np.diff(np.concatenate((first, [s.size])))
    ranks = np.empty(s.size)
    ranks[order] = np.repeat(first + (size + 1) / 2.0, size)
    return ranks


def average_precision(scores: ArrayLike, labels: ArrayLike) -> float:
    """PR-AUC as average precision, AP = Σ_k (R_k − R_{k−1}) · P_k over distinct thresholds, high to low.

    The step-wise definition of scikit-learn ``average_precision_score`` (no interpolation).
    Needs at least one anomaly.
    """
    s, y = scores_and_labels(scores, labels)
    require_positive(y, "PR-AUC")
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    tp = np.cumsum(y[order])
    last = np.concatenate((s_sorted[1:] != s_sorted[:-1], [True]))
    tp = tp[last].astype(np.float64)
    n_pred = (np.flatnonzero(last) + 1).astype(np.float64)
    precision = tp / n_pred
    recall = tp / tp[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))
