"""Train and scoring throughput (windows per second) and peak memory of the AT-family models.

For each model and configuration it times `--steps` optimisation steps (`_training_step`) and
`--steps` scoring batches (`_window_point_scores`, eval mode, no grad) on random windows, after one
warm-up of each. Peak memory: on CUDA `torch.cuda.max_memory_allocated`; on CPU each case runs in
its own process and reports its peak resident set size (ru_maxrss) minus the peak after a warm-up
step of the tiny model (which loads the kernels). Configurations: "tiny" (the tests' models,
3 channels) and "repo" (each repository's PSM setting: 25 channels, its window and batch size;
`--batch-size` overrides the batch).

    .venv/bin/python benchmarks/bench_at_family.py --configs tiny repo --batch-size 16 --steps 2
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from tsadbench.zoo import get_model

MODELS = ("anomaly_transformer", "transmamba", "stformer")
CONFIGS = {
    "tiny": {
        "anomaly_transformer": (3, dict(win_size=30, d_model=16, n_heads=2, e_layers=1, d_ff=16, batch_size=32)),
        "stformer": (3, dict(win_size=24, d_model=16, d_ff=16, n_heads=2, e_layers=1, batch_size=32)),
        "transmamba": (3, dict(win_size=60, d_model=16, batch_size=32, patch_sizes=[[3, 5], [6, 10]])),
    },
    "repo": {name: (25, {}) for name in MODELS},  # the Config defaults are the PSM settings
}


def run_case(model_name: str, config_name: str, device: str, batch_size: int | None, steps: int) -> dict:
    """Measure one (model, configuration) in this process."""
    channels, values = CONFIGS[config_name][model_name]
    if batch_size:
        values = {**values, "batch_size": batch_size}
    cls = get_model(model_name)
    warm_channels, warm_values = CONFIGS["tiny"][model_name]  # load the kernels before the baseline
    warm = cls(warm_channels, cls.Config.from_dict({**warm_values, "batch_size": 2}), seed=0, device=device)
    warm._training_step(torch.randn(2, warm.config.win_size, warm_channels, device=device))
    del warm
    rss_before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    model = cls(channels, cls.Config.from_dict(values), seed=0, device=device)
    config = model.config
    windows = torch.randn(config.batch_size, config.win_size, channels, device=device)

    def synchronise() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    model.network.train()
    model._training_step(windows)
    synchronise()
    start = time.perf_counter()
    for _ in range(steps):
        model._training_step(windows)
    synchronise()
    train_rate = steps * config.batch_size / (time.perf_counter() - start)
    model.network.eval()
    with torch.no_grad():
        model._window_point_scores(windows)
        synchronise()
        start = time.perf_counter()
        for _ in range(steps):
            model._window_point_scores(windows)
        synchronise()
    score_rate = steps * config.batch_size / (time.perf_counter() - start)
    if device == "cuda":
        peak_mib = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before_kib) / 1024
    counts = model.parameter_counts()
    return {"model": model_name, "config": config_name, "device": device, "channels": channels,
            "win_size": config.win_size, "batch_size": config.batch_size, "threads": torch.get_num_threads(),
            "train_windows_per_s": round(train_rate, 1), "score_windows_per_s": round(score_rate, 1),
            "peak_memory_mib": round(peak_mib, 1), "parameters_all": counts["all"],
            "parameters_used": counts["used"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--configs", nargs="+", default=["tiny", "repo"], choices=sorted(CONFIGS))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=None, help="override every configuration's batch")
    parser.add_argument("--steps", type=int, default=3, help="timed batches per measurement")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.case:
        model_name, config_name = args.case.split(":")
        print(json.dumps(run_case(model_name, config_name, args.device, args.batch_size, args.steps)))
        return
    rows = []
    for config_name in args.configs:
        for model_name in args.models:
            command = [sys.executable, __file__, "--case", f"{model_name}:{config_name}", "--device", args.device,
                       "--steps", str(args.steps), "--threads", str(args.threads)]
            if args.batch_size:
                command += ["--batch-size", str(args.batch_size)]
            result = subprocess.run(command, capture_output=True, text=True, check=True)
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    print(f"{'model':20} {'config':6} {'C':>3} {'W':>4} {'batch':>5} {'train win/s':>12} {'score win/s':>12} "
          f"{'peak MiB':>9}")
    for row in rows:
        print(f"{row['model']:20} {row['config']:6} {row['channels']:3d} {row['win_size']:4d} {row['batch_size']:5d} "
              f"{row['train_windows_per_s']:12.1f} {row['score_windows_per_s']:12.1f} {row['peak_memory_mib']:9.1f}")


if __name__ == "__main__":
    main()
