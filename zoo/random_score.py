"""Random-score sanity baseline: i.i.d. uniform scores, no training.

Under point adjustment a random score reaches a high F1 on long anomaly segments (Kim et al.,
AAAI 2022, arXiv 2109.05257), so every table carries this row to show how much PA inflates.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .base import AnomalyDetector, DetectorConfig
from .registry import register


@dataclasses.dataclass(frozen=True)
class RandomScoreConfig(DetectorConfig):
    """No hyperparameters of its own; `win_size` 1 lets it score any series."""

    win_size: int = 1


@register
class RandomScore(AnomalyDetector):
    """Uniform random scores in [0, 1), reproducible from the seed and the series length.

    It has no training objective: its validation loss is its mean score on the held-out data
    (about 0.5), so every configuration ties under a validation-loss objective, as it should.
    """

    name = "random"
    display_name = "Random score"
    Config = RandomScoreConfig
    learns = False

    def _train_epoch(self, train: np.ndarray, max_windows: int | None) -> dict[str, float]:
        return {}

    def _validation_loss(self, series: np.ndarray) -> float:
        return float(self._score(series).mean())

    def _score(self, series: np.ndarray) -> np.ndarray:
        return np.random.default_rng([self.seed, series.shape[0]]).random(series.shape[0])
