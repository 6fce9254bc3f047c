"""Affiliation precision / recall (Huet, Navarro, Rossi, KDD 2022; reference ``ahstat/affiliation-metrics-py``).

Events are half-open intervals (time point i is [i, i+1)). The time range is cut midway between
consecutive ground-truth events into one affiliation zone per event. In zone j, with E the zone and J
the event, and the predicted intervals cut to the zone:

* precision distance: mean over predicted points x of d(x, J); precision probability: mean over them of
  P(d(U, J) >= d(x, J)) for U uniform on E;
* recall distance: mean over y in J of the distance to the nearest predicted point of the zone; recall
  probability: mean over y in J of P(|U − y| >= that distance) for U uniform on E.

Precision averages the zones that hold a prediction, recall averages all zones. Every integral is a
closed form of a piecewise-linear integrand, computed for all pieces at once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .pointwise import harmonic_mean
from .segments import segment_bounds
from .validation import EvaluationInputError, predictions_and_labels, require_positive


class Affiliation(NamedTuple):
    """Affiliation precision, recall and F, with the per-event figures.

    ``precision`` is 0 when nothing is predicted (the reference returns NaN); per-event precision
    entries are NaN for zones without a prediction and recall distances are inf for them.
    """

    precision: float
    recall: float
    f1: float
    individual_precision_probabilities: np.ndarray
    individual_recall_probabilities: np.ndarray
    individual_precision_distances: np.ndarray
    individual_recall_distances: np.ndarray


def events_from_binary(values: np.ndarray) -> np.ndarray:
    """Half-open events ``[[start, end), ...]`` of a binary vector, shape (n, 2)."""
    starts, ends = segment_bounds(values)
    return np.stack((starts, ends), axis=1).astype(np.float64)


def affiliation(pred: ArrayLike, labels: ArrayLike) -> Affiliation:
    """Affiliation metrics of binary predictions against labels, on the time range (0, T)."""
    p, y = predictions_and_labels(pred, labels)
    require_positive(y, "the affiliation metrics")
    return affiliation_from_events(events_from_binary(p), events_from_binary(y), (0.0, float(y.size)))


def _int_pos_right(lo: np.ndarray, hi: np.ndarray, c: np.ndarray) -> np.ndarray:
    """∫_lo^hi max(0, x − c) dx (0 when hi <= lo)."""
    hi = np.maximum(hi, lo)
    return (np.maximum(0.0, hi - c) ** 2 - np.maximum(0.0, lo - c) ** 2) / 2.0


def _int_pos_left(lo: np.ndarray, hi: np.ndarray, c: np.ndarray) -> np.ndarray:
    """∫_lo^hi max(0, c − x) dx (0 when hi <= lo)."""
    hi = np.maximum(hi, lo)
    return (np.maximum(0.0, c - lo) ** 2 - np.maximum(0.0, c - hi) ** 2) / 2.0


def _length(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.maximum(hi - lo, 0.0)


def _check_events(events: ArrayLike, name: str) -> np.ndarray:
    ev = np.asarray(events, dtype=np.float64).reshape(-1, 2)
    if np.any(ev[:, 1] <= ev[:, 0]) or np.any(ev[1:, 0] < ev[:-1, 1]):
        raise EvaluationInputError(f"{name} must be sorted, disjoint, non-empty intervals (start < end)")
    return ev


def affiliation_from_events(events_pred: ArrayLike, events_gt: ArrayLike, trange: tuple[float, float]) -> Affiliation:
    """Affiliation metrics from event lists ``[(start, end), ...]`` within ``trange`` = (t0, t1)."""
    pred = _check_events(events_pred, "events_pred")
    gt = _check_events(events_gt, "events_gt")
    t0, t1 = float(trange[0]), float(trange[1])
    if gt.shape[0] == 0:
        raise EvaluationInputError("the affiliation metrics need at least one ground-truth event")
    both = np.concatenate((pred, gt))
    if both.min() < t0 or both.max() > t1:
        raise EvaluationInputError(f"every event must lie inside trange {trange}")
    n_zones = gt.shape[0]
    cuts = (gt[:-1, 1] + gt[1:, 0]) / 2.0
    zone_lo = np.concatenate(([t0], cuts))
    zone_hi = np.concatenate((cuts, [t1]))

    # Cut every predicted interval at the zone boundaries.
    first = np.searchsorted(cuts, pred[:, 0], side="right")
    count = np.searchsorted(cuts, pred[:, 1], side="left") - first + 1
    owner = np.repeat(np.arange(pred.shape[0]), count)
    zone = first[owner] + np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    lo = np.maximum(pred[owner, 0], zone_lo[zone])
    hi = np.minimum(pred[owner, 1], zone_hi[zone])
    keep = hi > lo
    lo, hi, zone = lo[keep], hi[keep], zone[keep]

    j0, j1 = gt[zone, 0], gt[zone, 1]
    e0, e1 = zone_lo[zone], zone_hi[zone]
    size = e1 - e0

    # Precision: integrals over each predicted piece of d(x, J) and of its survival probability.
    left_hi = np.minimum(hi, j0)
    right_lo = np.maximum(lo, j1)
    prec_dist = _int_pos_left(lo, left_hi, j0) + _int_pos_right(right_lo, hi, j1)
    prec_prob = (
        _length(np.maximum(lo, j0), np.minimum(hi, j1))
        + (_int_pos_right(lo, left_hi, e0) + _int_pos_right(lo, left_hi, j0 + j1 - e1)) / size
        + (_int_pos_left(right_lo, hi, j0 + j1 - e0) + _int_pos_left(right_lo, hi, e1)) / size
    )
    piece_len = hi - lo
    pred_len = np.bincount(zone, weights=piece_len, minlength=n_zones)
    has_pred = pred_len > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        precision_dist = np.where(has_pred, np.bincount(zone, prec_dist, n_zones) / pred_len, np.nan)
        precision_prob = np.where(has_pred, np.bincount(zone, prec_prob, n_zones) / pred_len, np.nan)

    # Recall: each piece owns the part of J nearer to it than to the zone's other pieces.
    same_prev = np.concatenate(([False], zone[1:] == zone[:-1]))
    same_next = np.concatenate((same_prev[1:], [False]))
    mid = (hi[:-1] + lo[1:]) / 2.0
    own_lo = np.maximum(j0, np.where(same_prev, np.concatenate(([-np.inf], mid)), -np.inf))
    own_hi = np.minimum(j1, np.where(same_next, np.concatenate((mid, [np.inf])), np.inf))
    before_hi = np.minimum(own_hi, lo)  # y < i0: distance i0 − y
    after_lo = np.maximum(own_lo, hi)  # y > i1: distance y − i1
    rec_dist = _int_pos_left(own_lo, before_hi, lo) + _int_pos_right(after_lo, own_hi, hi)
    rec_prob = (
        _length(np.maximum(own_lo, lo), np.minimum(own_hi, hi))
        + (2.0 * _int_pos_right(own_lo, before_hi, (lo + e0) / 2.0) + (e1 - lo) * _length(own_lo, before_hi)) / size
        + ((hi - e0) * _length(after_lo, own_hi) + 2.0 * _int_pos_left(after_lo, own_hi, (e1 + hi) / 2.0)) / size
    )
    gt_len = gt[:, 1] - gt[:, 0]
    recall_dist = np.where(has_pred, np.bincount(zone, rec_dist, n_zones) / gt_len, np.inf)
    recall_prob = np.bincount(zone, rec_prob, n_zones) / gt_len

    precision = float(np.nanmean(precision_prob)) if has_pred.any() else 0.0
    recall = float(recall_prob.mean())
    return Affiliation(
        precision, recall, harmonic_mean(precision, recall), precision_prob, recall_prob, precision_dist, recall_dist
    )
