"""Rank statistics over blocks (datasets, or the entities of one dataset), as Demšar (JMLR 2006)
describes them and aeon and TSB-AD's leaderboard draw them: average ranks, the Friedman test with
Iman and Davenport's F, the Nemenyi critical difference, and pairwise Wilcoxon signed-rank tests
with Holm's correction, whose non-significant groups are the bars of a critical-difference diagram.

Pure numpy/scipy: `values` is an [N blocks, k models] array where higher is better.
"""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from scipy import stats

ALPHA = 0.05
#: The fewest blocks for which a two-sided exact Wilcoxon signed-rank test can reach p < 0.05
#: (its smallest p is 2 / 2**N: 0.0625 for N = 5, 0.03125 for N = 6); with fewer, no diagram.
MIN_BLOCKS = 6


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Mean over blocks of each model's rank within the block (1 = best = highest value; ties get
    the average of the ranks they span, as in Demšar's Table 6)."""
    return stats.rankdata(-np.asarray(values, dtype=float), axis=1).mean(axis=0)


@dataclasses.dataclass(frozen=True)
class Friedman:
    """Friedman's chi-square (Demšar's eq. without tie correction), its p-value, and Iman and
    Davenport's F_F with its p-value."""

    chi2: float
    p_chi2: float
    f: float
    p_f: float


def friedman(values: np.ndarray) -> Friedman:
    """The Friedman test of k models over N blocks (Demšar 2006, Section 3.2.2)."""
    n, k = np.shape(values)
    ranks = average_ranks(values)
    chi2 = 12 * n / (k * (k + 1)) * (float(np.sum(ranks ** 2)) - k * (k + 1) ** 2 / 4)
    denominator = n * (k - 1) - chi2
    f = (n - 1) * chi2 / denominator if denominator > 0 else float("inf")
    return Friedman(chi2, float(stats.chi2.sf(chi2, k - 1)), f,
                    float(stats.f.sf(f, k - 1, (k - 1) * (n - 1))) if np.isfinite(f) else 0.0)


def nemenyi_critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """CD = q_alpha sqrt(k (k + 1) / (6 N)), q_alpha the studentized range quantile over sqrt 2."""
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
    return float(q * np.sqrt(k * (k + 1) / (6 * n)))


@dataclasses.dataclass(frozen=True)
class PairTest:
    """One Wilcoxon signed-rank test between models `a` and `b` and its Holm-adjusted p-value."""

    a: str
    b: str
    statistic: float
    p: float
    p_holm: float

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA


def wilcoxon_pair(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Wilcoxon signed-rank statistic (min of R+ and R-) and two-sided p of x - y; zero differences
    are split between R+ and R- (Demšar 2006, Section 3.1.3). Identical columns give p = 1."""
    if np.all(np.asarray(x) == np.asarray(y)):
        return 0.0, 1.0
    result = stats.wilcoxon(x, y, zero_method="zsplit")
    return float(result.statistic), float(result.pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (monotone, at most 1), in the input order."""
    order = np.argsort(p_values, kind="stable")
    m = len(p_values)
    adjusted = np.empty(m)
    running = 0.0
    for position, index in enumerate(order):
        running = max(running, min(1.0, (m - position) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def wilcoxon_holm(values: np.ndarray, models: list[str]) -> list[PairTest]:
    """Every pair of models' Wilcoxon signed-rank test, Holm-corrected over all pairs."""
    pairs = list(itertools.combinations(range(len(models)), 2))
    raw = [wilcoxon_pair(values[:, i], values[:, j]) for i, j in pairs]
    adjusted = holm([p for _, p in raw])
    return [PairTest(models[i], models[j], statistic, p, p_holm)
            for (i, j), (statistic, p), p_holm in zip(pairs, raw, adjusted)]


def cliques(models: list[str], ranks: np.ndarray, tests: list[PairTest]) -> list[tuple[str, ...]]:
    """Maximal runs of models, consecutive in average rank, no two of which differ significantly:
    the bars of the diagram (aeon's and TSB-AD's reading of the Wilcoxon-Holm tests)."""
    differ = {frozenset((t.a, t.b)) for t in tests if t.significant}
    ordered = [models[i] for i in np.argsort(ranks, kind="stable")]
    runs = []
    for start in range(len(ordered)):
        end = start
        while end + 1 < len(ordered) and not any(frozenset((ordered[end + 1], m)) in differ
                                                 for m in ordered[start:end + 1]):
            end += 1
        if end > start:
            runs.append(tuple(ordered[start:end + 1]))
    return [run for run in runs if not any(set(run) < set(other) for other in runs)]


@dataclasses.dataclass(frozen=True)
class RankComparison:
    """The rank statistics of k models over N blocks on one metric."""

    metric: str
    blocks: tuple[str, ...]
    models: tuple[str, ...]
    values: np.ndarray
    ranks: np.ndarray
    friedman: Friedman
    critical_difference: float
    tests: tuple[PairTest, ...]
    groups: tuple[tuple[str, ...], ...]


def compare(values: np.ndarray, models: list[str], blocks: list[str], metric: str) -> RankComparison:
    """Every statistic of `values` [N blocks, k models] (higher is better)."""
    values = np.asarray(values, dtype=float)
    ranks = average_ranks(values)
    tests = wilcoxon_holm(values, models)
    return RankComparison(metric, tuple(blocks), tuple(models), values, ranks, friedman(values),
                          nemenyi_critical_difference(len(models), len(blocks)), tuple(tests),
                          tuple(cliques(models, ranks, tests)))
