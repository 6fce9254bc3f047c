"""Provenance of the numbers behind the tables, from each experiment's recorded `provenance` and
`data` blocks (tuning/provenance.py writes them): code commit and dirty flag, package versions,
machine, configuration hash, sha256 of every dataset file, and the wall, CPU and GPU time spent.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from .records import TrialRecord
from .select import Selection

#: Packages named in each table's provenance footnote.
FOOTNOTE_PACKAGES = ("torch", "ray", "optuna", "numpy")


def code_state(meta: dict[str, Any]) -> str:
    """'<commit> (dirty)' or '<commit>', from the recorded git state (older records: code_version)."""
    git = (meta.get("provenance") or {}).get("git") or {}
    if not git.get("commit"):
        return str(meta.get("code_version", "not recorded"))
    return git["commit"][:12] + (" (dirty)" if git.get("dirty") else "")


def data_hashes(meta: dict[str, Any]) -> str:
    """'file:sha256' for every dataset file the experiment read, space-separated."""
    hashes = (meta.get("data") or {}).get("file_sha256") or {}
    return " ".join(f"{name}:{digest}" for name, digest in hashes.items())


def record_columns(meta: dict[str, Any]) -> dict[str, Any]:
    """The provenance columns of every row of `records.csv`."""
    provenance = meta.get("provenance") or {}
    git = provenance.get("git") or {}
    return {"config_hash": provenance.get("config_hash"), "code_commit": git.get("commit"),
            "code_dirty": git.get("dirty"), "data_sha256": data_hashes(meta)}


def precision_used(provenance: dict[str, Any]) -> str:
    """The precision the experiment's forward passes ran in (records before --precision: fp32)."""
    return str((provenance.get("precision") or {}).get("used", "fp32"))


def trial_times(trial: TrialRecord, gpu_share: float) -> dict[str, float]:
    """Seconds a trial spent over its epochs: wall, CPU of its process, and GPU (wall times the GPU
    share it held, for epochs that ran on a GPU)."""
    wall = sum(float(r.get("epoch_seconds", 0.0)) for r in trial.epochs)
    cpu = sum(float(r.get("cpu_seconds", 0.0)) for r in trial.epochs)
    gpu = sum(float(r.get("epoch_seconds", 0.0)) * gpu_share for r in trial.epochs if r.get("gpu_ids"))
    return {"wall": wall, "cpu": cpu, "gpu": gpu}


def provenance_frame(selections: list[Selection]) -> pd.DataFrame:
    """`provenance.csv`: one row per experiment behind the tables."""
    rows = []
    for selection in selections:
        for meta in selection.experiments:
            provenance = meta.get("provenance") or {}
            machine = provenance.get("machine") or {}
            trials = [t for t in selection.trials if t.experiment == meta["experiment"]]
            share = float((meta.get("resources") or {}).get("gpu", 0.0))
            times = [trial_times(t, share) for t in trials]
            rows.append({
                "experiment": meta["experiment"], "model": selection.model, "dataset": selection.dataset,
                "complete": meta.get("complete"), "config_hash": provenance.get("config_hash"),
                "code": code_state(meta),
                **{f"version.{name}": version for name, version in (provenance.get("packages") or {}).items()},
                "machine": (f"{machine.get('cpu_model', '?')} x{machine.get('cpu_count', '?')}; "
                            f"GPUs: {machine.get('gpu_count', 0)} {' / '.join(machine.get('gpu_models', []))}".strip()
                            if machine else "not recorded"),
                "precision": precision_used(provenance),
                "data_sha256": data_hashes(meta), "started_at": meta.get("started_at"),
                "finished_at": meta.get("finished_at"), "trials": len(trials),
                "trial_wall_seconds": sum(t["wall"] for t in times), "trial_cpu_seconds": sum(t["cpu"] for t in times),
                "trial_gpu_seconds": sum(t["gpu"] for t in times),
            })
    return pd.DataFrame(rows)


def provenance_note(selections: list[Selection]) -> list[str]:
    """The table footnote: the code and package versions behind the numbers (each distinct set once)."""
    states: dict[str, None] = {}
    for selection in selections:
        for meta in selection.experiments:
            packages = (meta.get("provenance") or {}).get("packages") or {}
            versions = ", ".join(f"{name} {packages[name]}" for name in FOOTNOTE_PACKAGES if name in packages)
            states[f"code {code_state(meta)}" + (f" with {versions}" if versions else "")] = None
    if not states:
        return []
    return [f"Provenance: {'; '.join(states)}; configuration hashes, machines, times and dataset sha256 in "
            f"provenance.csv and records.csv."]
