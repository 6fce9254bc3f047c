"""Train and scoring throughput and peak memory of every registered model, through the public
detector interface (`train_epoch`, `score`), on a synthetic series.

Configurations: "smoke" (each search space's `smoke:` values, the CI grid's models) and "repo"
(the model's Config defaults: the repositories' settings), both on `--channels` channels. Train
throughput is training windows per second (`--train-windows` per measured epoch); scoring
throughput is scored time points per second (every model maps its windows back to one score per
point, whatever its stride). Each case runs in its own process; peak memory is that process's
peak resident set size on CPU, `torch.cuda.max_memory_allocated` on CUDA.

    .venv/bin/python benchmarks/bench_models.py --configs smoke repo --threads 2
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from tsadbench.search_spaces import load_search_space
from tsadbench.tuning.trial import RUN_KEYS
from tsadbench.zoo import MODELS, get_model


def _config(model_name: str, config_name: str) -> dict:
    if config_name == "repo":
        return {}
    allowed = {f.name for f in dataclasses.fields(get_model(model_name).Config)}
    smoke = load_search_space(model_name, allowed_keys=allowed | set(RUN_KEYS)).smoke
    return {key: value for key, value in smoke.items() if key in allowed and key not in RUN_KEYS}


def run_case(model_name: str, config_name: str, device: str, channels: int, train_windows: int,
             score_points: int) -> dict:
    """Measure one (model, configuration) in this process."""
    cls = get_model(model_name)
    model = cls(channels, cls.Config.from_dict(_config(model_name, config_name)), seed=0, device=device)
    rng = np.random.default_rng(0)
    length = max(score_points, model.config.win_size * 4)
    series = rng.standard_normal((length, channels)).astype(np.float32)
    model.train_epoch(series, max_windows=min(train_windows, 8))
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    model.train_epoch(series, max_windows=train_windows)
    if device == "cuda":
        torch.cuda.synchronize()
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    model.score(series)
    if device == "cuda":
        torch.cuda.synchronize()
    score_seconds = time.perf_counter() - started
    peak_mib = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
                else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"model": model_name, "config": config_name, "device": device, "channels": channels,
            "win_size": model.config.win_size, "threads": torch.get_num_threads(),
            "train_windows_per_s": round(train_windows / train_seconds, 1),
            "score_points_per_s": round(length / score_seconds, 1), "peak_memory_mib": round(peak_mib, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=sorted(MODELS), choices=sorted(MODELS))
    parser.add_argument("--configs", nargs="+", default=["smoke", "repo"], choices=["smoke", "repo"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--channels", type=int, default=25, help="25 is PSM's channel count")
    parser.add_argument("--train-windows", type=int, default=256)
    parser.add_argument("--score-points", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.case:
        model_name, config_name = args.case.split(":")
        print(json.dumps(run_case(model_name, config_name, args.device, args.channels, args.train_windows,
                                  args.score_points)))
        return
    rows = []
    for config_name in args.configs:
        for model_name in args.models:
            command = [sys.executable, __file__, "--case", f"{model_name}:{config_name}", "--device", args.device,
                       "--channels", str(args.channels), "--train-windows", str(args.train_windows),
                       "--score-points", str(args.score_points), "--threads", str(args.threads)]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode:
                print(f"{model_name}:{config_name} failed: {result.stderr.strip().splitlines()[-1]}", flush=True)
                continue
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    print(f"{'model':20} {'config':6} {'device':6} {'C':>3} {'W':>4} {'train win/s':>12} {'score pts/s':>12} "
          f"{'peak MiB':>9}")
    for row in rows:
        print(f"{row['model']:20} {row['config']:6} {row['device']:6} {row['channels']:3d} {row['win_size']:4d} "
              f"{row['train_windows_per_s']:12.1f} {row['score_points_per_s']:12.1f} {row['peak_memory_mib']:9.1f}")


if __name__ == "__main__":
    main()
