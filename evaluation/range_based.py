"""Range-based precision and recall (Tatbul et al., NeurIPS 2018; as in ``prts``, TimeEval and TSB-AD).

For each real range R (recall) or predicted range P (precision):
``score = α · Existence + (1 − α) · γ(#overlapping ranges) · Σ_j ω(R, R ∩ P_j, δ)``, where
ω sums the positional bias δ over the overlap divided by its sum over the whole range, and γ is 1 for one
overlap, else 1 (``"one"``) or 1/#overlaps (``"reciprocal"``). Biases δ(i, ℓ) for the i-th of ℓ points:
``flat`` 1, ``front`` ℓ − i + 1, ``back`` i, ``middle`` i up to ℓ/2 then ℓ − i + 1.
Defaults differ between implementations (spec B.5): prts α = 0 / "one"; TimeEval ``RangeFScore`` recall
α = 0.5 / "reciprocal"; TSB-AD ``metric_RF1`` recall α = 0.2 / "reciprocal" (precision α = 0).
Precision is 0 when nothing is predicted.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .pointwise import harmonic_mean
from .segments import segment_bounds, segment_ids
from .validation import EvaluationInputError, predictions_and_labels, require_positive

BIASES = ("flat", "front", "back", "middle")
CARDINALITIES = ("one", "reciprocal")


class RangePRF(NamedTuple):
    """Range-based precision, recall and F1, with the parameters that produced them."""

    precision: float
    recall: float
    f1: float
    alpha: float
    precision_alpha: float
    bias: str
    cardinality: str


def _bias(position: np.ndarray, length: np.ndarray, bias: str) -> np.ndarray:
    if bias == "flat":
        return np.ones(position.shape)
    if bias == "front":
        return (length - position + 1).astype(np.float64)
    if bias == "back":
        return position.astype(np.float64)
    return np.where(position <= length / 2.0, position, length - position + 1).astype(np.float64)


def range_scores(reference: np.ndarray, other: np.ndarray, alpha: float, bias: str, cardinality: str) -> np.ndarray:
    """Per range of ``reference``: α · existence + (1 − α) · γ · ω of its overlap with ``other``."""
    starts, ends = segment_bounds(reference)
    if starts.size == 0:
        return np.empty(0)
    ids = segment_ids(reference, starts)
    inside = ids >= 0
    seg = ids[inside]
    t = np.flatnonzero(inside)
    length = (ends - starts)[seg]
    weight = _bias(t - starts[seg] + 1, length, bias)
    hit = other[inside]
    overlap = np.bincount(seg, weights=weight * hit, minlength=starts.size) / np.bincount(
        seg, weights=weight, minlength=starts.size
    )
    previous = np.concatenate(([False], other[:-1]))[inside]
    runs = np.bincount(seg, weights=hit & ((t == starts[seg]) | ~previous), minlength=starts.size)
    gamma = np.ones(starts.size) if cardinality == "one" else 1.0 / np.maximum(runs, 1.0)
    existence = runs > 0
    return alpha * existence + (1.0 - alpha) * gamma * overlap


def range_prf(
    pred: ArrayLike,
    labels: ArrayLike,
    *,
    alpha: float = 0.0,
    bias: str = "flat",
    cardinality: str = "one",
    precision_alpha: float = 0.0,
) -> RangePRF:
    """Range-based precision/recall/F1; ``alpha`` weighs existence in recall (prts defaults otherwise)."""
    p, y = predictions_and_labels(pred, labels)
    require_positive(y, "range-based recall")
    if bias not in BIASES:
        raise EvaluationInputError(f"unknown range bias {bias!r}; choose one of {', '.join(BIASES)}")
    if cardinality not in CARDINALITIES:
        raise EvaluationInputError(f"unknown cardinality {cardinality!r}; choose one of {', '.join(CARDINALITIES)}")
    for name, a in (("alpha", alpha), ("precision_alpha", precision_alpha)):
        if not 0.0 <= a <= 1.0:
            raise EvaluationInputError(f"{name} must lie in [0, 1]; got {a}")
    recall = float(range_scores(y, p, alpha, bias, cardinality).mean())
    per_pred = range_scores(p, y, precision_alpha, bias, cardinality)
    precision = float(per_pred.mean()) if per_pred.size else 0.0
    return RangePRF(precision, recall, harmonic_mean(precision, recall), float(alpha), float(precision_alpha),
                    bias, cardinality)
