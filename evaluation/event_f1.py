"""Event-wise F1 in its three published, incompatible variants (spec B.6); name the variant wherever shown.

* ``composite`` (Garg et al., TNNLS 2021; TSB-AD "Event-based-F1"): event recall (share of ground-truth
  events with a predicted point) with point-wise precision.
* ``overlap`` (Orion ``contextual_f1_score(weighted=False)``, overlap segment): TP = ground-truth events
  overlapping a predicted event, FN = the others, FP = predicted events overlapping no ground-truth event.
  Two events overlap when they share at least one time point.
* ``revised_pa`` (Merlion's default revised point-adjusted F1, no early/late tolerance): TP / FN count
  ground-truth events detected / missed, FP counts predicted *points* outside every ground-truth event.

Undefined ratios are 0, as in :mod:`.pointwise`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .pointwise import PRF, harmonic_mean, prf_from_counts
from .segments import segment_bounds, segment_max
from .validation import predictions_and_labels, require_positive


def _events_hit(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    starts, ends = segment_bounds(reference)
    return segment_max(other, starts, ends)


def _prepare(pred: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p, y = predictions_and_labels(pred, labels)
    require_positive(y, "event-wise recall")
    return p, y, _events_hit(y, p)


def event_f1_composite(pred: ArrayLike, labels: ArrayLike) -> PRF:
    """Composite F-score: point-wise precision, event-wise recall."""
    p, y, detected = _prepare(pred, labels)
    n_pred = int(p.sum())
    precision = float(np.count_nonzero(p & y) / n_pred) if n_pred else 0.0
    recall = float(detected.mean())
    return PRF(precision, recall, harmonic_mean(precision, recall))


def event_f1_overlap(pred: ArrayLike, labels: ArrayLike) -> PRF:
    """Overlap-segment F1: events counted on both sides."""
    p, y, detected = _prepare(pred, labels)
    tp = int(detected.sum())
    fp = int(np.count_nonzero(~_events_hit(p, y))) if p.any() else 0
    return PRF(*(float(v) for v in prf_from_counts(tp, fp, detected.size - tp)))


def event_f1_revised_pa(pred: ArrayLike, labels: ArrayLike) -> PRF:
    """Revised point-adjusted F1: events for TP/FN, predicted points outside events for FP."""
    p, y, detected = _prepare(pred, labels)
    tp = int(detected.sum())
    fp = int(np.count_nonzero(p & ~y))
    return PRF(*(float(v) for v in prf_from_counts(tp, fp, detected.size - tp)))
