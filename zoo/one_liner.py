"""The one-liner sanity baseline: the absolute first difference, summed over channels.

After Wu & Keogh, "Current Time Series Anomaly Detection Benchmarks are Flawed and are Creating the
Illusion of Progress" (arXiv 2009.13807), who solve many benchmark exemplars with one line such as
thresholding `abs(diff(TS))`. Our multivariate form, for a normalised [T, C] series x:

    score[t] = sum_c |x[t, c] - x[t-1, c]|   for t >= 1,   score[0] = score[1].

Decisions (ours):
* The first point has no predecessor; it takes the second point's score (the first difference is
  attributed to both its ends), so it is scored like its neighbour, neither ignored nor favoured.
* Nothing is learned: `train_epoch` returns an empty dict. A `train_loss` of 0.0 would read as a
  perfect fit in logs and plots, which would be wrong.
* The validation loss is the mean score on the held-out series (the mean absolute step size): it is
  label-free and, like a training loss, lower on smoother data; it does not change between epochs.
* `win_size` (default 2, the span of one difference) is only the shortest series accepted; the
  score uses no windows. It never thresholds; the evaluation package applies any protocol.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .base import AnomalyDetector, DetectorConfig
from .registry import register


@dataclasses.dataclass(frozen=True)
class OneLinerConfig(DetectorConfig):
    """No hyperparameters: `win_size` is only the shortest series accepted (>= 2)."""

    win_size: int = 2


@register
class OneLiner(AnomalyDetector):
    """Sum over channels of |x[t] - x[t-1]|; untrained, deterministic."""

    name = "one_liner"
    display_name = "One-liner |Δx| (Wu & Keogh 2021)"
    Config = OneLinerConfig
    learns = False

    def _train_epoch(self, train: np.ndarray, max_windows: int | None) -> dict[str, float]:
        return {}

    def _validation_loss(self, series: np.ndarray) -> float:
        return float(self._score(series).mean())

    def _score(self, series: np.ndarray) -> np.ndarray:
        steps = np.abs(np.diff(series.astype(np.float64), axis=0)).sum(axis=1)
        return np.concatenate([steps[:1], steps])
