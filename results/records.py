"""Reading finished (or partly finished) experiments from disk, without Ray or any model.

A grid folder holds one experiment folder per (model, dataset), each with our
`tsadbench_experiment.json` and Ray Tune's trial folders (`params.json`, `result.json` with one
JSON line per epoch, `error.txt` for a failed trial, `checkpoint_00000N/scores.npz`). Seed repeats
of a selected configuration are trials whose config says `"seed_repeat": true`, or every trial of
an experiment whose metadata lists `"seeds"` (folder `<model>__<dataset>__seeds`).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

EXPERIMENT_FILE = "tsadbench_experiment.json"
COMPLETE_FILE = "tsadbench_complete.json"
SCORES_FILE = "scores.npz"


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
    unreadable_lines: int = 0
    ray_status: str | None = None

    @property
    def status(self) -> str:
        """TERMINATED (reported at least once and not failed, or finished after a retry), ERROR
        (Ray says so, or error.txt without a later finish) or NO_RESULT.

        A trial whose worker died is retried from its checkpoint: its folder keeps the error.txt
        of the failed attempt, and Ray's snapshot says TERMINATED once a retry finished.
        """
        if self.ray_status == "TERMINATED" and self.epochs:
            return "TERMINATED"
        if self.error is not None or self.ray_status == "ERROR":
            return "ERROR"
        return "TERMINATED" if self.epochs else "NO_RESULT"

    @property
    def retried(self) -> bool:
        """Whether the trial finished after a failed attempt (its error.txt is that attempt's)."""
        return self.error is not None and self.status == "TERMINATED"

    @property
    def final(self) -> dict[str, Any]:
        """The report of the last epoch trained (empty when the trial reported nothing)."""
        return self.epochs[-1] if self.epochs else {}

    @property
    def evaluated_epochs(self) -> list[dict[str, Any]]:
        """The reports of epochs that were scored and evaluated (`--eval-every`: the others carry
        an earlier epoch's records forward); reports that do not say are evaluated."""
        return [r for r in self.epochs if r.get("evaluated", True)]

    @property
    def last(self) -> dict[str, Any]:
        """The report the tables use, among the evaluated ones: the epoch the final report names as
        `reported_epoch` (under early stopping the best monitored epoch, restored), else the last
        evaluated report (the named epoch was not evaluated: a trial cut off between evaluations)."""
        final, evaluated = self.final, self.evaluated_epochs
        if not evaluated:
            return final
        wanted = final.get("reported_epoch", final.get("epoch"))
        return next((r for r in reversed(evaluated) if r.get("epoch") == wanted), evaluated[-1])

    @property
    def reported_epoch_reason(self) -> str:
        """Which epoch the tables report for this trial, and why."""
        report, final = self.last, self.final
        stopping = report.get("early_stopping")
        if not report:
            return "no report"
        wanted = final.get("reported_epoch", final.get("epoch"))
        if report is not final and report.get("epoch") != wanted:
            return (f"epoch {report.get('epoch')}: the last evaluated epoch (epoch {wanted}, which the trial names, "
                    "was not evaluated: --eval-every)")
        if report.get("epoch") == 0 and final.get("epochs_planned") == 0:
            return "epoch 0: the initialised model, scored untrained"
        if not isinstance(stopping, dict):
            return f"epoch {report.get('epoch')}: the last epoch trained (no early stopping)"
        rule = f"lowest {stopping['split']} loss, patience {stopping['patience']}, min_delta {stopping['min_delta']}"
        reason = (final.get("early_stopping") or {}).get("stop_reason") or stopping.get("stop_reason")
        if reason == "patience":
            ended = f"stopped early after epoch {final.get('epoch')}"
        elif reason == "planned_epochs":
            ended = f"all {final.get('epochs_planned')} planned epochs trained"
        else:
            ended = f"the trial ended after epoch {final.get('epoch')} (ASHA, a budget or an interruption)"
        restored = ", restored" if stopping.get("restored") else ""
        return f"epoch {report.get('epoch')}{restored}: {rule}; {ended}"

    @property
    def trial_id(self) -> str:
        """Ray's trial id, else the folder name."""
        return str(self.last.get("trial_id") or self.trial_dir.name)

    @property
    def seed(self) -> Any:
        """The seed the trial ran with (its reports', else its config's)."""
        return self.last.get("seed", self.config.get("seed"))

    @property
    def seed_repeat(self) -> bool:
        """Whether this trial repeats a selected configuration with another seed."""
        return bool(self.config.get("seed_repeat")) or "seeds" in self.meta

    @property
    def ran_every_epoch(self) -> bool:
        """Whether the trial finished its training: the last planned epoch was reported, or early
        stopping ended it (not ASHA, a budget or an interruption)."""
        final = self.final
        stopped = any((r.get("early_stopping") or {}).get("stop_reason") == "patience" for r in self.epochs)
        return self.status == "TERMINATED" and (stopped or final.get("epoch", 0) >= final.get("epochs_planned", float("inf")))

    def stored_scores(self) -> tuple[Path, dict[str, Any]] | None:
        """The last kept checkpoint's `scores.npz` and the report of that same epoch, if both exist."""
        checkpoints = sorted(self.trial_dir.glob(f"checkpoint_*/{SCORES_FILE}"))
        if not checkpoints:
            return None
        iteration = int(checkpoints[-1].parent.name.rpartition("_")[2]) + 1
        reports = [r for r in self.epochs if r.get("training_iteration", r.get("epoch")) == iteration]
        return (checkpoints[-1], reports[-1]) if reports else None


def flat_value(report: dict[str, Any], key: str) -> Any:
    """A value of a nested report by its flattened key ('at_compat/pa_f1')."""
    node: Any = report
    for part in key.split("/"):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _read_epochs(path: Path) -> tuple[list[dict[str, Any]], int]:
    """One report per epoch, and how many lines could not be decoded (a trial killed mid-write).

    An epoch reported twice (redone after a resume from an older checkpoint) keeps its last report.
    """
    if not path.is_file():
        return [], 0
    by_epoch: dict[Any, dict[str, Any]] = {}
    unreadable = 0
    for index, line in enumerate(path.read_text().splitlines()):
        if not line.strip():
            continue
        try:
            report = json.loads(line)
        except json.JSONDecodeError:
            unreadable += 1
            continue
        by_epoch[report.get("epoch", index)] = report
    return [by_epoch[epoch] for epoch in sorted(by_epoch)], unreadable


def _snapshot_trials(folder: Path) -> dict[str, str] | None:
    """Ray's status of every trial folder its newest experiment snapshot knows; None without a
    readable snapshot.

    A driver killed between two snapshots leaves folders of trials that a resume re-sampled
    under new ids: they are not part of the experiment and are left out.
    """
    snapshots = sorted(folder.glob("experiment_state-*.json"))
    if not snapshots:
        return None
    try:
        state = json.loads(snapshots[-1].read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    trials = (json.loads(trial) if isinstance(trial, str) else trial for trial, _ in state.get("trial_data", []))
    return {trial["relative_logdir"]: trial.get("status") for trial in trials if trial.get("relative_logdir")}


def _trial_config(params: Path, epochs: list[dict[str, Any]]) -> dict[str, Any]:
    """A trial's config from `params.json`, else (a file cut short by a full disk) from its reports."""
    try:
        return json.loads(params.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return dict(epochs[-1].get("config", {})) if epochs else {}


def read_meta(folder: Path) -> dict[str, Any]:
    """An experiment's metadata, plus its folder name, whether it is complete and when it finished."""
    meta = json.loads((folder / EXPERIMENT_FILE).read_text())
    meta["experiment"] = folder.name
    meta["complete"] = (folder / COMPLETE_FILE).is_file()
    if meta["complete"]:
        meta["finished_at"] = json.loads((folder / COMPLETE_FILE).read_text()).get("finished_at")
    return meta


def read_experiment(folder: Path) -> tuple[dict[str, Any], list[TrialRecord]]:
    """An experiment's metadata and every trial of it, in trial-folder order."""
    meta = read_meta(folder)
    tracked = _snapshot_trials(folder)
    records = []
    for params in sorted(folder.glob("*/params.json")):
        trial_dir = params.parent
        if tracked is not None and trial_dir.name not in tracked:
            continue
        error_file = trial_dir / "error.txt"
        epochs, unreadable = _read_epochs(trial_dir / "result.json")
        records.append(TrialRecord(
            experiment=folder.name,
            model=meta["model"],
            dataset=meta["dataset"],
            trial_dir=trial_dir,
            config=_trial_config(params, epochs),
            epochs=epochs,
            error=error_file.read_text().strip() if error_file.is_file() else None,
            meta=meta,
            unreadable_lines=unreadable,
            ray_status=tracked.get(trial_dir.name) if tracked else None,
        ))
    return meta, records


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
        meta, experiment_trials = read_experiment(folder)
        metas.append(meta)
        trials.extend(experiment_trials)
    return metas, trials
