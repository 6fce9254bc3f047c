"""SPOT initialisation (Siffer et al., KDD 2017): a label-free threshold from extreme value theory.

The peaks of the training scores over their ``level`` quantile are fitted with a generalised Pareto
distribution by maximum likelihood (Grimshaw's reduction to a one-dimensional root search), and the
threshold is the score exceeded with probability ``q``. OmniAnomaly, MTAD-GAT and SLMR run SPOT this way
(``pot_eval``: initialised on train scores, then run non-dynamically over the test scores, which keeps
the initial threshold). Differences from their vendored ``spot.py``: every root of Grimshaw's equation is
bracketed on a fine logarithmic grid over its whole domain and solved by bisection to machine precision (instead of a
multi-start L-BFGS-B on the squared equation over two bounded intervals, rounded to 5 decimals), and the exponential case uses the correct log-likelihood.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .validation import EvaluationInputError

_GRID = 2000


class PotThreshold(NamedTuple):
    """Outcome of the SPOT initialisation: the threshold and the fitted tail."""

    threshold: float
    initial_threshold: float
    gamma: float
    sigma: float
    n_peaks: int


def pot_threshold(train_scores: np.ndarray, q: float = 1e-3, level: float = 0.99) -> PotThreshold:
    """The score exceeded with probability ``q`` under a GPD tail fitted above the ``level`` quantile."""
    if not 0.0 < q < 1.0:
        raise EvaluationInputError(f"pot_q must lie in (0, 1); got {q}")
    if not 0.0 <= level < 1.0:
        raise EvaluationInputError(f"pot_level must lie in [0, 1); got {level}")
    data = np.sort(np.asarray(train_scores, dtype=np.float64))
    n = data.size
    initial = float(data[int(level * n)])
    peaks = data[data > initial] - initial
    if peaks.size < 2:
        raise EvaluationInputError(
            f"SPOT needs at least two training scores above the level-{level} quantile ({initial:g}); found "
            f"{peaks.size}. Lower pot_level or use more (or less tied) training scores."
        )
    gamma, sigma = _fit_gpd(peaks)
    r = n * q / peaks.size
    if gamma != 0.0:
        threshold = initial + sigma / gamma * (r ** (-gamma) - 1.0)
    else:
        threshold = initial - sigma * np.log(r)
    return PotThreshold(float(threshold), initial, float(gamma), float(sigma), int(peaks.size))


def _log_likelihood(peaks: np.ndarray, gamma: float, sigma: float) -> float:
    if sigma <= 0:
        return -np.inf
    if gamma == 0.0:
        return float(-peaks.size * np.log(sigma) - peaks.sum() / sigma)
    z = 1.0 + gamma / sigma * peaks
    if np.any(z <= 0):
        return -np.inf
    return float(-peaks.size * np.log(sigma) - (1.0 + 1.0 / gamma) * np.log(z).sum())


def _fit_gpd(peaks: np.ndarray) -> tuple[float, float]:
    """Grimshaw (1993): the MLE solves u(t)·v(t) = 1 with u = 1 + mean log(1 + tY), v = mean 1/(1 + tY)."""

    def w(t: float) -> float:
        s = 1.0 + t * peaks
        return (1.0 + np.log(s).mean()) * np.mean(1.0 / s) - 1.0

    y_max, y_mean = peaks.max(), peaks.mean()
    near = np.logspace(-12, 0, _GRID // 2, endpoint=False)
    grids = (
        -np.unique(np.concatenate((near, 1.0 - near))) / y_max,  # (-1/max, 0): gamma < 0
        np.logspace(-8, 8, _GRID) / y_mean,  # (0, inf): gamma > 0
    )
    best = (0.0, float(y_mean))
    best_ll = _log_likelihood(peaks, *best)
    for grid in grids:
        values = np.array([w(t) for t in grid])
        for i in np.flatnonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0):
            t = _bisect(w, grid[i], grid[i + 1])
            gamma = float(np.log(1.0 + t * peaks).mean())
            if gamma == 0.0:
                continue
            ll = _log_likelihood(peaks, gamma, gamma / t)
            if ll > best_ll:
                best, best_ll = (gamma, gamma / t), ll
    return best


def _bisect(f, lo: float, hi: float) -> float:
    """A root of ``f`` in [lo, hi], where f changes sign, to machine precision."""
    f_lo = f(lo)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        f_mid = f(mid)
        if (f_mid < 0) == (f_lo < 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
