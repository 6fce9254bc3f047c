"""Range-AUC and VUS (Paparrizos et al., VLDB 2022) with the TSB-AD definition, and the period window.

Reference: TSB-AD ``TSB_AD/evaluation/basic_metrics.py`` (``RangeAUC_volume_opt``, ``sequencing``,
``new_sequence``) and ``TSB_AD/utils/slidingWindows.py`` (``find_length_rank``). For a buffer ℓ every
ground-truth segment [s, e] gets soft labels sqrt(1 − d/ℓ) on the ℓ//2 points either side (summed where
buffers meet, clipped to 1). At each of ``n_thresholds`` thresholds taken at evenly spaced ranks of the
descending scores (predict ``score >= threshold``):

* TP = predicted points of the segments + Σ buffer weights of predicted buffer points;
* P_new = (|y| + |y| + Σ predicted buffer weights) / 2, recall = min(TP / P_new, 1);
* existence = fraction of the merged extended segments with a predicted point; TPR = recall · existence;
* FPR = (#predicted − TP) / (T − P_new); precision = TP / #predicted.

The ROC area is the trapezoid with end points (0, 0) and (1, 1); the PR area is Σ ΔTPR · precision.
R-AUC is that pair at one buffer ℓ; VUS averages it over ℓ = 0, 1, ..., L. TSB-AD loops over every
point for every threshold and buffer (O(L · thresholds · T)); here the scores are sorted once and each
buffer only touches the buffer points, so the cost is O(T log T + L · (T + B log B)).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .segments import segment_bounds, segment_max
from .validation import EvaluationInputError, as_scores, require_negative, require_positive, scores_and_labels

#: TSB-AD's default number of thresholds (``thre=250``) and default sliding window (``slidingWindow=100``).
DEFAULT_THRESHOLDS = 250
DEFAULT_WINDOW = 100


class RangeAUCs(NamedTuple):
    """Range ROC-AUC and PR-AUC for each buffer length ℓ = 0 .. len − 1."""

    roc: np.ndarray
    pr: np.ndarray


def range_auc_by_window(
    scores: ArrayLike, labels: ArrayLike, max_window: int, n_thresholds: int = DEFAULT_THRESHOLDS
) -> RangeAUCs:
    """Range ROC-AUC and PR-AUC (TSB-AD definition) for every buffer ℓ = 0, 1, ..., ``max_window``."""
    s, y = scores_and_labels(scores, labels)
    require_positive(y, "range AUC / VUS")
    require_negative(y, "range AUC / VUS")
    max_window = _check_window(max_window)
    if n_thresholds < 1:
        raise EvaluationInputError(f"n_thresholds must be at least 1; got {n_thresholds}")
    n = s.size
    starts, ends = segment_bounds(y)
    last = ends - 1  # inclusive ends, as TSB-AD's ranges
    n_pos = float(ends.sum() - starts.sum())

    ascending = np.sort(s)
    thresholds = ascending[::-1][np.linspace(0, n - 1, n_thresholds).astype(int)]
    n_pred = (n - np.searchsorted(ascending, thresholds, side="left")).astype(np.float64)
    anomaly_scores = np.sort(s[y])
    hits_in_segments = anomaly_scores.size - np.searchsorted(anomaly_scores, thresholds, side="left")

    roc = np.empty(max_window + 1)
    pr = np.empty(max_window + 1)
    for window in range(max_window + 1):
        half = window // 2
        weight_above = _buffer_weight_above(s, y, starts, last, window, thresholds)
        tp = hits_in_segments + weight_above
        p_new = (2.0 * n_pos + weight_above) / 2.0
        recall = np.minimum(tp / p_new, 1.0)
        existence = _existence(s, starts, last, half, n, thresholds)
        tpr = np.concatenate(([0.0], recall * existence, [1.0]))
        fpr = np.concatenate(([0.0], (n_pred - tp) / (n - p_new), [1.0]))
        precision = tp / n_pred
        roc[window] = np.dot(np.diff(fpr), (tpr[1:] + tpr[:-1]) / 2.0)
        pr[window] = np.dot(np.diff(tpr[:-1]), precision)
    return RangeAUCs(roc, pr)


def _check_window(window: int) -> int:
    if int(window) != window or window < 0:
        raise EvaluationInputError(f"the sliding window must be a non-negative integer; got {window!r}")
    return int(window)


def _buffer_weight_above(
    s: np.ndarray, y: np.ndarray, starts: np.ndarray, last: np.ndarray, window: int, thresholds: np.ndarray
) -> np.ndarray:
    """Σ of buffer weights over buffer points with score >= each threshold."""
    half = window // 2
    if half == 0:
        return np.zeros(thresholds.size)
    d = np.arange(1, half + 1)
    w = np.sqrt(1.0 - d / window)
    left = starts[:, None] - d[None, :]
    right = last[:, None] + d[None, :]
    pos = np.concatenate((left.ravel(), right.ravel()))
    wts = np.concatenate((np.broadcast_to(w, left.shape).ravel(), np.broadcast_to(w, right.shape).ravel()))
    keep = (pos >= 0) & (pos < s.size)
    pos, wts = pos[keep], wts[keep]
    where, inverse = np.unique(pos, return_inverse=True)
    weight = np.minimum(np.bincount(inverse, weights=wts), 1.0)
    normal = ~y[where]
    order = np.argsort(s[where][normal])
    b_scores = s[where][normal][order]
    b_cum = np.concatenate(([0.0], np.cumsum(weight[normal][order][::-1])))
    return b_cum[b_scores.size - np.searchsorted(b_scores, thresholds, side="left")]


def _existence(
    s: np.ndarray, starts: np.ndarray, last: np.ndarray, half: int, n: int, thresholds: np.ndarray
) -> np.ndarray:
    """Fraction of merged extended segments (TSB-AD ``new_sequence``) holding a point with score >= threshold."""
    split = last[:-1] + half < starts[1:] - half
    region_start = np.concatenate(([starts[0]], starts[1:][split])) - half
    region_last = np.concatenate((last[:-1][split], [last[-1]])) + half
    region_start = np.maximum(region_start, 0)
    region_last = np.minimum(region_last, n - 1)
    peak = np.sort(segment_max(s, region_start, region_last + 1))
    return (peak.size - np.searchsorted(peak, thresholds, side="left")) / peak.size


def range_auc(
    scores: ArrayLike, labels: ArrayLike, window: int = DEFAULT_WINDOW, n_thresholds: int = DEFAULT_THRESHOLDS
) -> tuple[float, float]:
    """R-AUC-ROC and R-AUC-PR at the single buffer length ``window``."""
    curves = range_auc_by_window(scores, labels, window, n_thresholds)
    return float(curves.roc[-1]), float(curves.pr[-1])


def vus(
    scores: ArrayLike, labels: ArrayLike, window: int = DEFAULT_WINDOW, n_thresholds: int = DEFAULT_THRESHOLDS
) -> tuple[float, float]:
    """VUS-ROC and VUS-PR: range AUCs averaged over buffers ℓ = 0 .. ``window`` (TSB-AD ``generate_curve``)."""
    curves = range_auc_by_window(scores, labels, window, n_thresholds)
    return float(curves.roc.mean()), float(curves.pr.mean())


def period_window(series: ArrayLike, max_points: int = 20_000) -> int:
    """TSB-AD's period-based sliding window (``find_length_rank``, rank 1) from the (first channel of the) data.

    The highest local maximum of the autocorrelation at lags 3..400 of the first ``max_points`` points;
    125 when there is none or it lies outside lags 3..300.
    """
    x = np.asarray(series, dtype=np.float64)
    if x.ndim == 2:
        x = x[:, 0]
    x = as_scores(x, "series")[:max_points]
    base, fallback = 3, 125
    acf = _autocorrelation(x, min(400, x.size - 1))[base:]
    if acf.size < 3 or not np.all(np.isfinite(acf)):
        return fallback
    peaks = np.flatnonzero((acf[1:-1] > acf[:-2]) & (acf[1:-1] > acf[2:])) + 1
    if peaks.size == 0:
        return fallback
    lag = int(peaks[np.argsort(acf[peaks])[::-1][0]])
    return lag + base if 3 <= lag <= 300 else fallback


def _autocorrelation(x: np.ndarray, nlags: int) -> np.ndarray:
    """Biased sample autocorrelation (statsmodels ``acf(fft=True)``: demeaned, divided by n)."""
    xo = x - x.mean()
    size = 1 << int(np.ceil(np.log2(2 * x.size - 1))) if x.size > 1 else 1
    spectrum = np.fft.rfft(xo, size)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), size)[: nlags + 1] / x.size
    with np.errstate(invalid="ignore", divide="ignore"):
        return acov / acov[0]
