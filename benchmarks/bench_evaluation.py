"""Benchmark of the evaluation engine (issue 3); run by hand, not by pytest.

    python benchmarks/bench_evaluation.py [--points 1000000] [--loop-thresholds 1000]

T points with 1 % anomalies in 50 equal segments and noisy scores. Prints the time of the exact best
PA-F1 over all thresholds, of a loop that point-adjusts at each of ``--loop-thresholds`` thresholds (and
the measured ratio), of VUS-PR with window 100, and of the full record of one trial (threshold-free
metrics plus every protocol).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tsadbench.evaluation import best_f1, full_record, point_adjust, precision_recall_f1, vus


def make_series(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=np.int8)
    length = n // 100 // 50
    for start in np.linspace(0, n - length, 52)[1:-1].astype(int):
        labels[start : start + length] = 1
    test = rng.gamma(2.0, 1.0, n) + labels * rng.exponential(1.5, n)
    train = rng.gamma(2.0, 1.0, n)
    return test, labels, train, train[-n // 5 :]


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def loop_best_pa_f1(scores: np.ndarray, labels: np.ndarray, thresholds: np.ndarray) -> float:
    best = 0.0
    for t in thresholds:
        best = max(best, precision_recall_f1(point_adjust(scores > t, labels), labels).f1)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--loop-thresholds", type=int, default=1000)
    args = parser.parse_args()
    test, labels, train, val = make_series(args.points)
    print(f"T = {labels.size:,} points, {labels.mean():.2%} anomalies in 50 segments")

    best, t_exact = timed(best_f1, test, labels)
    print(f"exact best PA-F1 over all thresholds : {t_exact:8.3f} s  (F1 = {best.f1:.4f}, oracle)")
    grid = np.quantile(test, np.linspace(0, 1, args.loop_thresholds))
    loop_f1, t_loop = timed(loop_best_pa_f1, test, labels, grid)
    print(f"loop over {args.loop_thresholds} thresholds            : {t_loop:8.3f} s  (F1 = {loop_f1:.4f})")
    print(f"speed-up (loop / exact)              : {t_loop / t_exact:8.1f} x")

    (roc, pr), t_vus = timed(vus, test, labels, 100)
    print(f"VUS-PR, window 100 (with VUS-ROC)    : {t_vus:8.3f} s  (VUS-PR = {pr:.4f}, VUS-ROC = {roc:.4f})")

    record, t_full = timed(full_record, test, labels, train, val, 1.0)
    print(f"full record, one trial               : {t_full:8.3f} s  ({len(record)} keys, "
          f"{sum(k.endswith('/protocol') for k in record)} protocols)")


if __name__ == "__main__":
    main()
