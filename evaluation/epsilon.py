"""The non-parametric "epsilon" threshold of Hundman et al. (KDD 2018, telemanom), as MTAD-GAT and
SLMR apply it to training scores (`find_epsilon` in their `eval_methods.py`).

For z in 2.5, 3.0, ..., 11.5 the candidate is eps = mean + z * std of the scores. A candidate is
judged by how much removing the scores at or above it lowers the mean and the standard deviation,
(Δmean/mean + Δstd/std) / denom, where denom is 1 (`reg_level` 0), the number of points within 49
steps of a flagged score (`reg_level` 1) or its square (`reg_level` 2). Only candidates whose
buffered flags cover fewer than half of the points qualify; ties go to the larger z. Without a
qualifying candidate the threshold is the largest score (its z is then (max - mean) / std, or 0
for constant scores), which flags nothing since predictions are `score > threshold`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .validation import EvaluationInputError

Z_GRID = np.arange(2.5, 12.0, 0.5)
BUFFER = 49
REG_LEVELS = (0, 1, 2)


class EpsilonThreshold(NamedTuple):
    """The chosen threshold, its z and the number of buffered points it flags on the scores it saw."""

    threshold: float
    z: float
    flagged_with_buffer: int


def buffered_count(flags: np.ndarray, buffer: int = BUFFER) -> int:
    """How many indices lie within `buffer` steps of a flagged index (the flagged ones included)."""
    n = flags.size
    edges = np.zeros(n + 1, dtype=np.int64)
    where = np.flatnonzero(flags)
    np.add.at(edges, np.maximum(where - buffer, 0), 1)
    np.add.at(edges, np.minimum(where + buffer + 1, n), -1)
    return int(np.count_nonzero(np.cumsum(edges[:n])))


def epsilon_threshold(scores: np.ndarray, reg_level: int = 1) -> EpsilonThreshold:
    """The epsilon threshold of `scores` (usually the training scores)."""
    if reg_level not in REG_LEVELS:
        raise EvaluationInputError(f"epsilon_reg_level must be one of {REG_LEVELS}; got {reg_level!r}")
    e = np.asarray(scores, dtype=np.float64)
    mean, std = float(e.mean()), float(e.std())
    if mean == 0.0 or std == 0.0:
        return EpsilonThreshold(float(e.max()), 0.0, 0)
    best = EpsilonThreshold(float(e.max()), (float(e.max()) - mean) / std, 0)
    best_value = -np.inf
    for z in Z_GRID:
        epsilon = mean + z * std
        flags = e >= epsilon
        if not flags.any():
            continue
        count = buffered_count(flags)
        kept = e[~flags]
        decrease = (mean - kept.mean()) / mean + (std - kept.std()) / std
        value = decrease / (1, count, count ** 2)[reg_level]
        if value >= best_value and count < 0.5 * e.size:
            best_value = value
            best = EpsilonThreshold(float(epsilon), float(z), count)
    return best
