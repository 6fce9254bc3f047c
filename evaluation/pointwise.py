"""Point-wise confusion counts and precision / recall / F1.

Conventions for undefined ratios (the same as scikit-learn's ``zero_division=0``): precision is 0 when
nothing is predicted, recall is 0 when nothing is labelled, and F1 is 0 when there is no true positive.
They keep every record free of NaN.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .validation import predictions_and_labels


class PRF(NamedTuple):
    """Precision, recall and their harmonic mean F1."""

    precision: float
    recall: float
    f1: float


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def prf_from_counts(tp: ArrayLike, fp: ArrayLike, fn: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised precision, recall and F1 from true-positive, false-positive and false-negative counts."""
    tp = np.asarray(tp, dtype=np.float64)
    fp = np.asarray(fp, dtype=np.float64)
    fn = np.asarray(fn, dtype=np.float64)
    return _ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(2.0 * tp, 2.0 * tp + fp + fn)


def harmonic_mean(precision: float, recall: float) -> float:
    """F = 2PR / (P + R), and 0 when P + R = 0."""
    total = precision + recall
    return 2.0 * precision * recall / total if total > 0 else 0.0


def confusion_counts(pred: np.ndarray, labels: np.ndarray) -> tuple[int, int, int, int]:
    """``(tp, fp, fn, tn)`` of bool predictions against bool labels (validated by the caller)."""
    n_pred = int(np.count_nonzero(pred))
    n_pos = int(np.count_nonzero(labels))
    tp = int(np.count_nonzero(pred & labels))
    fp = n_pred - tp
    fn = n_pos - tp
    return tp, fp, fn, labels.shape[0] - tp - fp - fn


def precision_recall_f1(pred: ArrayLike, labels: ArrayLike) -> PRF:
    """Point-wise precision, recall and F1 of binary predictions (no adjustment)."""
    p, y = predictions_and_labels(pred, labels)
    tp, fp, fn, _ = confusion_counts(p, y)
    precision, recall, f1 = prf_from_counts(tp, fp, fn)
    return PRF(float(precision), float(recall), float(f1))
