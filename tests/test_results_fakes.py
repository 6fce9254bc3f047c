"""Fake grids in exactly the layout orchestrate.py writes, for the results tests (no Ray, no model).

A grid folder holds `<model>__<dataset>` experiment folders with `tsadbench_experiment.json`,
`tsadbench_complete.json` once finished, and trial folders with `params.json`, `result.json` (one
line per epoch: our report plus Ray's own keys), `error.txt` for a failed trial and the last two
`checkpoint_00000N/` folders with `scores.npz` and `state.pt`. Protocol records carry exactly the
keys `tsadbench.evaluation.evaluate` writes (their numbers are replaced by the caller's or random ones).
"""
from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import numpy as np

from tsadbench.evaluation import evaluate, threshold_free_metrics

SEARCH_SPACE = {
    "lr": {"name": "lr", "type": "float", "low": 1e-4, "high": 1e-2, "step": None, "log": True, "choices": []},
    "d_model": {"name": "d_model", "type": "categorical", "low": None, "high": None, "step": None, "log": False,
                "choices": [16, 32, 64]},
    "anomaly_ratio": {"name": "anomaly_ratio", "type": "float", "low": 0.5, "high": 5.0, "step": None,
                      "log": False, "choices": []},
}


PROTOCOLS = ("at-compat", "best-f1", "val-percentile")


def objective(name: str, headline: str = "at-compat") -> dict[str, Any]:
    """The objective as tuning writes it into the metadata (bound to the headline protocol)."""
    if name == "val_loss":
        return {"name": "val_loss", "metric": "val_loss", "mode": "min", "split": "val", "uses_test_labels": False,
                "description": "the model's training objective on the validation tail of train (label-free)"}
    return {"name": "pa_f1", "metric": f"{headline.replace('-', '_')}/pa_f1", "mode": "max", "split": "test",
            "uses_test_labels": True,
            "description": f"F1 after point adjustment at the {headline} threshold, on test labels (oracle)"}


@dataclasses.dataclass
class FakeTrial:
    """One trial to write: its config, our per-epoch reports, an error, and the scores of its epochs."""

    trial_id: str
    config: dict[str, Any]
    reports: list[dict[str, Any]]
    error: str | None = None
    scores: dict[str, np.ndarray] | None = None

    @property
    def last(self) -> dict[str, Any]:
        return self.reports[-1]


@functools.cache
def _templates() -> dict[str, dict[str, Any]]:
    """Real records of a tiny series: their keys and kinds are what trials report."""
    rng = np.random.default_rng(0)
    scores, labels = rng.random(300), np.zeros(300, bool)
    labels[50:60] = labels[200:230] = True
    records = {protocol.replace("-", "_"): evaluate(scores, labels, protocol, train_scores=rng.random(200),
                                                    val_scores=rng.random(100), anomaly_ratio=1.0)
               for protocol in PROTOCOLS}
    return {**records, "threshold_free": threshold_free_metrics(scores, labels)}


RATIO_KEYS = {"precision", "recall", "f1", "pak_auc_f1", "roc_auc", "pr_auc", "vus_roc", "vus_pr", "r_auc_roc",
              "r_auc_pr"}


def random_section(rng: np.random.Generator, section: str, **fixed: Any) -> dict[str, Any]:
    """A record of `section` with every ratio-valued metric drawn at random in (0.05, 0.95)."""
    record = dict(_templates()[section])
    for key in record:
        if key in RATIO_KEYS or key.endswith(("_precision", "_recall", "_f1")):
            record[key] = float(rng.uniform(0.05, 0.95))
    record.update(fixed)
    return record


def random_reports(rng: np.random.Generator, epochs: int, planned: int, *, seed: int = 0, ratio: float = 1.0,
                   val_losses: list[float] | None = None, vus: bool = True) -> list[dict[str, Any]]:
    """Our reports of `epochs` epochs (of `planned`), random metrics, the given validation losses."""
    reports = []
    for epoch in range(1, epochs + 1):
        free = random_section(rng, "threshold_free")
        if not vus:
            free = {k: free[k] for k in ("roc_auc", "pr_auc")}
        reports.append({
            "epoch": epoch, "epochs_planned": planned, "seed": seed, "anomaly_ratio": ratio,
            "train_loss": float(rng.uniform(0.1, 1.0)),
            "val_loss": float(val_losses[epoch - 1] if val_losses else rng.uniform(0.1, 1.0)),
            "at_compat": random_section(rng, "at_compat", anomaly_ratio=ratio),
            "best_f1": random_section(rng, "best_f1"),
            "val_percentile": random_section(rng, "val_percentile", anomaly_ratio=ratio),
            "threshold_free": free,
            "train_seconds": 0.01, "epoch_seconds": 0.02,
        })
    return reports


def scored_reports(scores: dict[str, np.ndarray], epochs: int, *, seed: int = 0, ratio: float = 1.0,
                   val_loss: float = 0.5) -> list[dict[str, Any]]:
    """Reports whose records are evaluated on `scores` (the same every epoch), as a trial computes them."""
    whole_train = np.concatenate([scores["train"], scores["val"]])
    records = {protocol.replace("-", "_"): evaluate(scores["test"], scores["labels"], protocol, whole_train,
                                                    scores["val"], ratio) for protocol in PROTOCOLS}
    records["threshold_free"] = threshold_free_metrics(scores["test"], scores["labels"])
    return [{"epoch": epoch, "epochs_planned": epochs, "seed": seed, "anomaly_ratio": ratio,
             "train_loss": 1.0 / epoch, "val_loss": val_loss + 0.1 * (epochs - epoch), **records,
             "train_seconds": 0.01, "epoch_seconds": 0.02} for epoch in range(1, epochs + 1)]


def fake_scores(rng: np.random.Generator, n: int = 600) -> dict[str, np.ndarray]:
    """Train/val/test scores and labels with two anomaly segments that score higher."""
    labels = np.zeros(n, np.int64)
    labels[n // 5:n // 5 + 20] = labels[n // 2:n // 2 + 40] = 1
    test = rng.gamma(2.0, 0.5, n) + 3.0 * labels * rng.random(n)
    return {"train": rng.gamma(2.0, 0.5, n), "val": rng.gamma(2.0, 0.5, n // 4), "test": test, "labels": labels}


def _ray_report(trial: FakeTrial, report: dict[str, Any], iteration: int) -> dict[str, Any]:
    return {**report, "timestamp": 1795406993 + iteration, "checkpoint_dir_name": f"checkpoint_{iteration - 1:06d}",
            "should_checkpoint": True, "done": False, "training_iteration": iteration, "trial_id": trial.trial_id,
            "date": "2026-11-23_04-09-53", "time_this_iter_s": 0.5, "time_total_s": 0.5 * iteration, "pid": 1,
            "hostname": "vm", "node_ip": "192.0.2.2", "config": trial.config, "time_since_restore": 0.5 * iteration,
            "iterations_since_restore": iteration}


def write_trial(experiment_dir: Path, trial: FakeTrial) -> Path:
    """A Ray Tune trial folder; the last two epochs keep a checkpoint (with the trial's scores)."""
    folder = experiment_dir / f"trial_{trial.trial_id}"
    folder.mkdir(parents=True)
    (folder / "params.json").write_text(json.dumps(trial.config, indent=2))
    lines = [json.dumps(_ray_report(trial, r, i)) for i, r in enumerate(trial.reports, start=1)]
    (folder / "result.json").write_text("".join(line + "\n" for line in lines))
    if trial.error:
        (folder / "error.txt").write_text(f"Failure # 1 (occurred at 2026-11-23)\nTraceback ...\n{trial.error}\n")
    for iteration in range(max(1, len(trial.reports) - 1), len(trial.reports) + 1) if trial.scores else ():
        checkpoint = folder / f"checkpoint_{iteration - 1:06d}"
        checkpoint.mkdir()
        np.savez_compressed(checkpoint / "scores.npz", **trial.scores)
        (checkpoint / "state.pt").write_bytes(b"fake state")
    return folder


def write_experiment(grid: Path, model: str, dataset: str, trials: list[FakeTrial], *, display_name: str,
                     objective_name: str = "val_loss", headline: str = "at-compat", mode: str = "paper",
                     complete: bool = True, seeds: list[int] | None = None,
                     extra_meta: dict[str, Any] | None = None) -> Path:
    """An experiment folder (`<model>__<dataset>`, or `...__seeds` when `seeds` are given) whose
    tables are headed by the `headline` threshold protocol; `extra_meta` replaces metadata keys."""
    name = f"{model}__{dataset.replace('/', '-')}" + ("__seeds" if seeds is not None else "")
    folder = grid / name
    folder.mkdir(parents=True)
    meta = {
        "model": model, "model_display_name": display_name, "dataset": dataset,
        "settings": {"model": model, "dataset": dataset, "seed": 0, "epochs_cap": 4, "max_windows_per_epoch": 1024,
                     "cpus": 1.0, "protocols": list(dict.fromkeys((headline, *PROTOCOLS)))},
        "protocol_mode": mode, "threshold_protocol": headline,
        "objective": objective(objective_name, headline),
        "early_stopping": "ASHA on val_loss (val split), grace 2 epochs, max 4",
        "num_samples": len(trials), "max_concurrent": 2, "resources": {"cpu": 1.0, "gpu": 0.0},
        "search_space": {"file": f"search_spaces/{model}.yaml", "fixed": {"batch_size": 64}, "params": SEARCH_SPACE,
                         "first_points": []},
        "data": {"dataset": dataset, "entities": ["e1"], "entity_policy": "concatenated", "scaler": "standard",
                 "scaler_fitted_on": "train", "val_split": "last 20% of train", "nan_policy": "error", "n_channels": 5,
                 "train_rows": 3200, "val_rows": 800, "test_rows": 5000, "anomaly_ratio": 0.05},
        "code_version": "abc1234", "started_at": "2026-11-23T04:09:47+00:00",
        **({"seeds": seeds, "seed_repeat_of": f"{model}__{dataset}"} if seeds is not None else {}),
        **(extra_meta or {}),
    }
    (folder / "tsadbench_experiment.json").write_text(json.dumps(meta, indent=2))
    for trial in trials:
        write_trial(folder, trial)
    if complete:
        (folder / "tsadbench_complete.json").write_text(json.dumps(
            {"trials": len(trials), "errors": sum(t.error is not None for t in trials), "finished_at": "2026-11-23"}))
    return folder


def config(rng: np.random.Generator, **extra: Any) -> dict[str, Any]:
    """A trial config drawn from SEARCH_SPACE, plus the fixed batch size and `extra`."""
    return {"lr": float(10 ** rng.uniform(-4, -2)), "d_model": int(rng.choice([16, 32, 64])),
            "anomaly_ratio": round(float(rng.uniform(0.5, 5.0)), 3), "batch_size": 64, **extra}
