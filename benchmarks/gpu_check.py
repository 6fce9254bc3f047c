"""GPU check for a lent CUDA machine (issue 12), Ray-free: needs only Python >= 3.11, torch and numpy
(no Ray, Optuna, PyYAML or downloads), runs from a plain copy of the repository, well under
8 minutes on one GPU.

    python benchmarks/gpu_check.py --out gpu_check.json             # CUDA, every model, repository configs
    python benchmarks/gpu_check.py --device cpu --tiny              # the same code path on CPU, seconds

For every registered model at its repository configuration (its Config defaults) on a synthetic
series of `--channels` channels (38, as SMD):

1. the Ray-free trial loop (`tuning.trial.run_trial`, one epoch of `--train-windows` windows,
   scoring every split and evaluating every protocol, in `--precision`) on the device: epoch and
   training seconds;
2. train windows/s and scored points/s, fp32 and bf16 (`set_precision`, bf16 autocast as
   `orchestrate.py --precision bf16`), after a warm-up epoch, through the device data path (each
   series moved once, windows cut and batches gathered on the device); beside them, fp32 through
   the host batching that path replaced (numpy windows, one host-to-device copy per batch);
3. peak GPU memory of a trial (`torch.cuda.max_memory_allocated` over training and scoring), the
   figure behind the GPU fractions in `search_spaces/*.yaml`;
4. CPU-vs-device score equality: the same initialised weights score the test series on CPU and
   on the device; the largest difference relative to the scores' spread is reported; and the
   Spearman correlation of the fp32 and bf16 test scores after the same training, with the ROC-AUC
   of each on the planted anomalies;
5. our Adam and AdamW (`zoo/optim.py`, which the built-in models step) against `torch.optim`'s with
   its defaults on the device (on CUDA its multi-tensor path): the largest parameter difference
   after 30 steps of a small network, 0 when bit-equal.

Prints a table and writes every figure to `--out` (JSON). TransMamba's PyTorch scan needs mambapy
(pure Python, about 300 KiB): carry its package folder with the tree and put it on PYTHONPATH, or
its row says what is missing while the other models are measured.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent


def _import_package() -> None:
    """Make the repository root importable as `tsadbench`, installed or not (the lent machine
    gets a bare copy of the tree)."""
    if "tsadbench" in sys.modules:
        return
    try:
        import tsadbench  # noqa: F401
        return
    except ImportError:
        pass
    spec = importlib.util.spec_from_file_location("tsadbench", ROOT / "__init__.py",
                                                  submodule_search_locations=[str(ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["tsadbench"] = module
    spec.loader.exec_module(module)


_import_package()

from tsadbench.datasets.preprocessing import prepare  # noqa: E402
from tsadbench.datasets.synthetic import SyntheticSpec, generate_synthetic  # noqa: E402
from tsadbench.datasets.windows import sliding_windows  # noqa: E402
from tsadbench.evaluation.ranking import roc_auc  # noqa: E402
from tsadbench.tuning.trial import TrialSettings, run_trial  # noqa: E402
from tsadbench.zoo import MODELS, TorchWindowDetector, get_model  # noqa: E402
from tsadbench.zoo.base import PRECISIONS  # noqa: E402
from tsadbench.zoo.optim import Adam, AdamW  # noqa: E402


def _synchronise(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def host_batches(cls: type[TorchWindowDetector]) -> type[TorchWindowDetector]:
    """`cls` batched as before the device path: numpy windows, every batch copied from the host."""
    return type(f"HostBatches{cls.__name__}", (cls,), {
        "_on_device": lambda self, windows: windows,
        "_device_windows": lambda self, series, win_size, stride: sliding_windows(series, win_size, stride),
    })


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation of two score series (numpy only: the lent machine has no scipy)."""
    return float(np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1])


def throughput(model_name: str, data, device: str, precision: str, windows: int,
               host: bool = False) -> tuple[dict[str, float], np.ndarray]:
    """Train windows/s and scored points/s of a fresh model (a warm-up epoch first), and its test
    scores; `host` batches from the host as before the device path."""
    cls = host_batches(get_model(model_name)) if host else get_model(model_name)
    model = cls(data.n_channels, cls.Config(), seed=0, device=device)
    model.set_precision(precision)
    model.train_epoch(data.train, max_windows=windows)
    _synchronise(device)
    started = time.perf_counter()
    model.train_epoch(data.train, max_windows=windows)
    _synchronise(device)
    trained = time.perf_counter()
    scores = model.score(data.test)
    _synchronise(device)
    scored = time.perf_counter()
    return ({"train_windows_per_s": windows / (trained - started),
             "scored_points_per_s": data.test.shape[0] / (scored - trained)}, scores)


def trial_loop(model_name: str, data, device: str, windows: int, precision: str) -> dict[str, float]:
    """One epoch of the Ray-free trial loop on the device, with its peak GPU memory."""
    records = []
    settings = TrialSettings(model=model_name, dataset=data.name, max_windows_per_epoch=windows, precision=precision)
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    run_trial({"epochs": 1}, data, settings, lambda metrics, artifacts: records.append(metrics), device=device)
    peak = torch.cuda.max_memory_allocated() / 2**20 if torch.device(device).type == "cuda" else float("nan")
    [record] = records
    return {"epoch_s": record["epoch_seconds"], "train_s": record["train_seconds"], "peak_gpu_mib": peak}


def score_equality(model_name: str, data, device: str) -> float:
    """Largest |CPU score - device score| over the spread of the CPU scores, same weights."""
    cls = get_model(model_name)
    on_cpu = cls(data.n_channels, cls.Config(), seed=0, device="cpu")
    on_device = cls(data.n_channels, cls.Config(), seed=0, device=device)
    on_device.load_state_dict(on_cpu.state_dict())
    reference = on_cpu.score(data.test)
    spread = float(np.ptp(reference)) or 1.0
    return float(np.max(np.abs(on_device.score(data.test) - reference)) / spread)


def optimiser_differences(device: str, steps: int = 30) -> dict[str, float]:
    """{"Adam": ..., "AdamW": ...}: largest |ours - torch.optim's| over the parameters of one small
    network after `steps` identical steps on `device` (weight decay 0.05)."""
    differences = {}
    for ours, theirs in ((Adam, torch.optim.Adam), (AdamW, torch.optim.AdamW)):
        trained = []
        for optimiser_class in (ours, theirs):
            generator = torch.Generator().manual_seed(0)
            torch.manual_seed(0)
            network = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.GELU(), torch.nn.Linear(64, 8)).to(device)
            optimiser = optimiser_class(network.parameters(), lr=1e-3, weight_decay=0.05)
            for _ in range(steps):
                batch = torch.randn(32, 16, generator=generator).to(device)
                optimiser.zero_grad(set_to_none=True)
                (network(batch) ** 2).mean().backward()
                optimiser.step()
            trained.append([parameter.detach().cpu() for parameter in network.parameters()])
        differences[ours.__name__] = max(float((a - b).abs().max()) for a, b in zip(*trained))
    return differences


def check_model(model_name: str, data, device: str, windows: int, precision: str, repeats: int = 1) -> dict[str, float]:
    row: dict[str, float] = {"model": model_name, **trial_loop(model_name, data, device, windows, precision)}
    torch_model = issubclass(get_model(model_name), TorchWindowDetector)
    scores, best = {}, {}
    # Interleaved, best of `repeats`: the device path, the host batching and bf16 see the same machine state.
    for _ in range(repeats):
        for label, run_precision, host in (("fp32", "fp32", False), ("host_fp32", "fp32", True),
                                           ("bf16", "bf16", False)):
            if not torch_model and (host or run_precision not in get_model(model_name).precisions):
                row[f"{label}_error"] = "not a TorchWindowDetector: fp32, no batching of its own"
                continue
            try:
                figures, scores[label] = throughput(model_name, data, device, run_precision, windows, host)
            except (RuntimeError, FloatingPointError) as error:  # no bf16 kernel, or a loss that overflows in bf16
                row[f"{label}_error"] = str(error).splitlines()[0]
                continue
            best[label] = {key: max(value, best.get(label, {}).get(key, 0.0)) for key, value in figures.items()}
    row.update({f"{label}_{key}": value for label, figures in best.items() for key, value in figures.items()})
    if "fp32" in scores and "bf16" in scores:
        row["fp32_vs_bf16_spearman"] = spearman(scores["fp32"], scores["bf16"])
        row.update({f"{label}_roc_auc": roc_auc(scores[label], data.labels) for label in ("fp32", "bf16")})
    row["cpu_vs_device_max_rel_diff"] = score_equality(model_name, data, device)
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", default=",".join(sorted(MODELS)))
    parser.add_argument("--channels", type=int, default=38)
    parser.add_argument("--train-windows", type=int, default=2048, help="training windows per measured epoch")
    parser.add_argument("--points", type=int, default=20000, help="length of the train and of the test series")
    parser.add_argument("--threads", type=int,
                        help="torch CPU threads (default: torch's; 1 steadies CPU figures on a busy machine)")
    parser.add_argument("--repeats", type=int, default=1, help="throughput runs per model, interleaved (best kept)")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS, help="precision of the trial loop (step 1)")
    parser.add_argument("--tiny", action="store_true", help="a few windows and points: checks the code path in seconds")
    parser.add_argument("--out", type=Path, help="write the figures here (JSON)")
    args = parser.parse_args(argv)
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        parser.exit(2, "gpu_check: no CUDA device is visible (use --device cpu to check the code path)\n")
    if args.threads:
        torch.set_num_threads(args.threads)
    windows, points = (16, 1500) if args.tiny else (args.train_windows, args.points)
    spec = SyntheticSpec(n_channels=5 if args.tiny else args.channels, train_length=points, test_length=points,
                         anomalies_per_kind=1 if args.tiny else 3)
    data = prepare("synthetic", [generate_synthetic(spec).arrays])
    started = time.perf_counter()
    rows = []
    for name in args.models.split(","):
        try:
            rows.append(check_model(name, data, args.device, windows, args.precision, args.repeats))
        except ImportError as error:  # a model whose own dependency is not on this machine (TransMamba: mambapy)
            rows.append({"model": name, "error": str(error)})
        print(json.dumps(rows[-1]), flush=True)
    optimisers = optimiser_differences(args.device)
    device_name = torch.cuda.get_device_name() if torch.device(args.device).type == "cuda" else "cpu"
    summary = {"device": device_name, "torch": torch.__version__, "python": sys.version.split()[0],
               "threads": torch.get_num_threads(),
               "channels": spec.n_channels, "points": points, "train_windows": windows, "precision": args.precision,
               "seconds": time.perf_counter() - started, "models": rows,
               "optimiser_vs_torch_max_abs_diff": optimisers}
    print(f"{device_name}, torch {torch.__version__}, {summary['seconds']:.0f} s")
    columns = [("epoch s", "epoch_s", ".2f"), ("peak MiB", "peak_gpu_mib", ".1f"),
               ("fp32 win/s", "fp32_train_windows_per_s", ".0f"), ("bf16 win/s", "bf16_train_windows_per_s", ".0f"),
               ("host win/s", "host_fp32_train_windows_per_s", ".0f"),
               ("fp32 pts/s", "fp32_scored_points_per_s", ".0f"), ("bf16 pts/s", "bf16_scored_points_per_s", ".0f"),
               ("host pts/s", "host_fp32_scored_points_per_s", ".0f"),
               ("rho bf16", "fp32_vs_bf16_spearman", ".4f"), ("AUC fp32", "fp32_roc_auc", ".4f"),
               ("AUC bf16", "bf16_roc_auc", ".4f"), ("cpu~dev", "cpu_vs_device_max_rel_diff", ".1e")]
    print(f"{'model':22s} " + " ".join(f"{title:>11s}" for title, _, _ in columns))
    for row in rows:
        print(f"{row['model']:22s} " + " ".join(format(row.get(key, float("nan")), f">11{spec}")
                                                for _, key, spec in columns))
    print("host = fp32 with numpy windows and one host-to-device copy per batch (the path before the device "
          "data path); rho bf16 = Spearman correlation of fp32 and bf16 test scores after the same training, "
          "AUC = their ROC-AUC on the planted anomalies")
    print("ours vs torch.optim, largest parameter difference after 30 steps: "
          + ", ".join(f"{name} {difference:.1e}" for name, difference in optimisers.items()))
    for row in rows:
        if "error" in row:
            print(f"{row['model']}: not measured: {row['error']}")
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2))
    return rows


if __name__ == "__main__":
    main()
