"""Reading finished (or partly finished) experiments from disk, without Ray or any model.

A grid folder holds one experiment folder per (model, dataset), each with our
`tsadbench_experiment.json` and Ray Tune's trial folders (`params.json`, `result.json` with one
JSON line per epoch, `error.txt` for a failed trial).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

EXPERIMENT_FILE = "tsadbench_experiment.json"
COMPLETE_FILE = "tsadbench_complete.json"


@dataclasses.dataclass(frozen=True)
class TrialRecord:
    """One trial: its config, every epoch's report, and how it ended."""

    experiment: str
    model: str
    dataset: str
    trial_dir: Path
    config: dict[str, Any]
    epochs: list[dict[str, Any]]
    error: str | None
    meta: dict[str, Any]

    @property
    def status(self) -> str:
        if self.error is not None:
            return "ERROR"
        return "TERMINATED" if self.epochs else "NO_RESULT"

    @property
    def last(self) -> dict[str, Any]:
        """The last epoch's report (empty when the trial reported nothing)."""
        return self.epochs[-1] if self.epochs else {}


def flat_value(report: dict[str, Any], key: str) -> Any:
    """A value of a nested report by its flattened key ('at_compat/pa_f1')."""
    node: Any = report
    for part in key.split("/"):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _read_epochs(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_experiment(folder: Path) -> list[TrialRecord]:
    """Every trial of one experiment folder, in trial-folder order."""
    meta = json.loads((folder / EXPERIMENT_FILE).read_text())
    meta["complete"] = (folder / COMPLETE_FILE).is_file()
    records = []
    for params in sorted(folder.glob("*/params.json")):
        trial_dir = params.parent
        error_file = trial_dir / "error.txt"
        records.append(TrialRecord(
            experiment=folder.name,
            model=meta["model"],
            dataset=meta["dataset"],
            trial_dir=trial_dir,
            config=json.loads(params.read_text()),
            epochs=_read_epochs(trial_dir / "result.json"),
            error=error_file.read_text().strip() if error_file.is_file() else None,
            meta=meta,
        ))
    return records


def experiment_folders(grid_dir: Path) -> list[Path]:
    """Experiment folders of a grid folder (or the folder itself if it is one experiment)."""
    grid_dir = Path(grid_dir)
    if (grid_dir / EXPERIMENT_FILE).is_file():
        return [grid_dir]
    return sorted(p.parent for p in grid_dir.glob(f"*/{EXPERIMENT_FILE}"))


def read_grid(grid_dir: Path) -> tuple[list[dict[str, Any]], list[TrialRecord]]:
    """The experiments' metadata and all their trials."""
    folders = experiment_folders(grid_dir)
    if not folders:
        raise FileNotFoundError(
            f"{grid_dir} holds no experiment (no */{EXPERIMENT_FILE}): pass a grid folder written by orchestrate.py"
        )
    metas, trials = [], []
    for folder in folders:
        experiment_trials = read_experiment(folder)
        meta = json.loads((folder / EXPERIMENT_FILE).read_text())
        meta["complete"] = (folder / COMPLETE_FILE).is_file()
        meta["experiment"] = folder.name
        metas.append(meta)
        trials.extend(experiment_trials)
    return metas, trials
