"""Benchmark of how well a grid fills the cluster (issue 12); run by hand, not by pytest, and
under the machine's Ray lock:

    flock /tmp/tsadbench-ray.lock python benchmarks/bench_grid.py --slots 8 \\
        --models random,one_liner,mlp_autoencoder,slmr,dual_stf --num-samples 1

Starts one local Ray cluster with `--slots` declared CPUs and runs the same grid once per mode in
that one sitting: `sequential` (one experiment at a time: the loop `run_grid` was before issue 12)
and `concurrent` (every experiment side by side). For each it prints

- wall: seconds from the first experiment's start to the last one's end (Ray start-up excluded);
- trial work: the sum over trials of Ray's `time_total_s` (the trainable's own time);
- peak: most trials running at once, from the driver's trial start/end times;
- occupancy: mean over the grid's wall time of running / slots while work remains;
- vs possible: mean of running / min(slots, trials not yet ended) (issue 12 asks >= 0.7);
- the same two means over the trial window only (first trial start to last trial end: the window
  of the issue's own "mean 0.53" figure, which leaves out Ray's and the first experiment's start-up);
- overhead per trial: the driver's span of a trial minus its `time_total_s` (actor start, result
  and checkpoint handling);
- start-up per experiment: from its folder being written to its first trial starting;

and the concurrent / sequential ratios.
"""
from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import ray

from tsadbench.tuning.cluster import configure_ray_environment
from tsadbench.tuning.experiment import EXPERIMENT_FILE
from tsadbench.tuning.grids import get_grid
from tsadbench.tuning.progress import GridBoard
from tsadbench.tuning.runner import GridRequest, fit_to_cluster, plan_grid, planned_trials, run_grid


def occupancy(spans: list[tuple[float, float]], slots: int, start: float, end: float) -> tuple[float, float, int]:
    """(mean running / slots while work remains, mean running / min(slots, trials not yet ended),
    peak running) over [start, end], from each trial's (start, end)."""
    moments = sorted({start, end, *(t for span in spans for t in span if start <= t <= end)})
    filled = possible = 0.0
    peak = 0
    for left, right in zip(moments, moments[1:]):
        middle = (left + right) / 2
        running = sum(a <= middle < b for a, b in spans)
        unfinished = sum(middle < b for _, b in spans)
        peak = max(peak, running)
        filled += (right - left) * running / slots
        possible += (right - left) * (running / min(slots, unfinished) if unfinished else 1.0)
    total = end - start
    return filled / total, possible / total, peak


def _trial_work(grid_dir: Path) -> dict[str, float]:
    """trial id -> Ray's time_total_s of its last report."""
    work = {}
    for result in grid_dir.glob("*/trial_*/result.json"):
        lines = [line for line in result.read_text().splitlines() if line.strip()]
        if lines:
            work[result.parent.name.removeprefix("trial_")] = json.loads(lines[-1])["time_total_s"]
    return work


def run_mode(mode: str, args: argparse.Namespace, storage: Path) -> dict[str, float]:
    request = GridRequest(grid=get_grid(args.grid), storage=storage, run_name=mode, models=tuple(args.models.split(",")),
                          num_samples=args.num_samples, cpus_per_trial=args.cpus_per_trial, untrained_copies=False,
                          max_concurrent_experiments=1 if mode == "sequential" else None, protocol=args.protocol)
    plan = plan_grid(request)
    fit_to_cluster(plan, ray.cluster_resources())
    board = GridBoard(planned_trials(plan), printer=lambda line: None)
    started = time.time()
    outcomes = run_grid(plan, printer=lambda line: None, board=board)
    ended = time.time()
    assert all(o.status == "complete" for o in outcomes), outcomes
    spans = {trial_id: tuple(span) for (_, trial_id), span in board.trial_spans.items()}
    work = _trial_work(request.grid_dir)
    first_start = {}
    for (experiment, _), (begin, _) in board.trial_spans.items():
        first_start[experiment] = min(begin, first_start.get(experiment, math.inf))
    startups = [first_start[e.name] - (e.path / EXPERIMENT_FILE).stat().st_mtime for e in plan.experiments]
    if args.timeline:
        for (experiment, trial_id), (begin, end) in sorted(board.trial_spans.items(), key=lambda item: item[1][0]):
            print(f"{mode:>10s} {experiment:32s} trial {trial_id}: {begin - started:7.2f} s -> {end - started:7.2f} s "
                  f"(work {work[trial_id]:.2f} s)")
    filled, versus_possible, peak = occupancy(list(spans.values()), args.slots, started, ended)
    first, last = min(s for s, _ in spans.values()), max(e for _, e in spans.values())
    filled_while_trials, versus_possible_while_trials, _ = occupancy(list(spans.values()), args.slots, first, last)
    return {"trials": len(spans), "wall_s": ended - started, "trial_work_s": sum(work.values()), "peak": peak,
            "occupancy": filled, "vs_possible": versus_possible,
            "occupancy_trial_window": filled_while_trials, "vs_possible_trial_window": versus_possible_while_trials,
            "overhead_per_trial_s": float(np.mean([spans[t][1] - spans[t][0] - work[t] for t in spans])),
            "startup_per_experiment_s": float(np.mean(startups))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", type=int, default=8, help="CPUs the local cluster declares")
    parser.add_argument("--grid", default="smoke")
    parser.add_argument("--models", default="random,one_liner,mlp_autoencoder,slmr,dual_stf")
    parser.add_argument("--num-samples", type=int, default=1)
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    parser.add_argument("--protocol", default="paper")
    parser.add_argument("--modes", default="sequential,concurrent")
    parser.add_argument("--timeline", action="store_true", help="print when each trial ran")
    args = parser.parse_args()
    configure_ray_environment()
    ray.init(num_cpus=args.slots, include_dashboard=False, log_to_driver=False, logging_level="error")
    rows = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-grid-") as folder:
            for mode in args.modes.split(","):
                rows[mode] = run_mode(mode, args, Path(folder))
    finally:
        ray.shutdown()
    keys = list(next(iter(rows.values())))
    print(f"grid {args.grid}, models {args.models}, {args.num_samples} sample(s) each, {args.slots} slots, "
          f"{args.cpus_per_trial:g} CPU per trial")
    print(f"{'':26s}" + "".join(f"{mode:>13s}" for mode in rows) + ("        ratio" if len(rows) == 2 else ""))
    for key in keys:
        values = [rows[mode][key] for mode in rows]
        ratio = f"{values[1] / values[0]:13.2f}" if len(values) == 2 and values[0] else ""
        print(f"{key:26s}" + "".join(f"{v:13.3f}" for v in values) + ratio)


if __name__ == "__main__":
    main()
