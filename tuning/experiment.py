"""One Ray Tune experiment per (model, dataset): OptunaSearch behind a `SharedConcurrencyLimiter`, ASHA
over epochs, checkpoints every epoch, and resume of an interrupted experiment.

An experiment folder holds Ray's own files plus `tsadbench_experiment.json` (what was run, on
which data, under which objective and protocols) and, once every trial has ended,
`tsadbench_complete.json`; a complete experiment is never run again.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from ray import tune
from ray.tune.schedulers import ASHAScheduler

from ..results.records import read_experiment
from ..results.select import UNTRAINED_MODEL_SUFFIX, best_trial
from ..search_spaces import SearchSpace
from ..zoo import get_model
from ..zoo.plugins import PluginBundle
from .objectives import Objective
from .progress import TrialLinePrinter
from .early_stopping import describe as describe_early_stopping
from .journal_search import JournalOptunaSearch
from .slot_shares import SharedConcurrencyLimiter
from .provenance import experiment_provenance
from .run_files import (StorageFullError, atomic_write_json, back_up_ray_state, is_storage_full, nearly_full,
                        repair_ray_state)
from .trainable import tsad_trainable
from .trial import TrialSettings, precision_record
from .untrained import score_untrained

optuna.logging.set_verbosity(optuna.logging.WARNING)

EXPERIMENT_FILE = "tsadbench_experiment.json"
COMPLETE_FILE = "tsadbench_complete.json"
OPTUNA_JOURNAL = "optuna_journal.log"
SEEDS_SUFFIX = "__seeds"
UNTRAINED_SUFFIX = "__untrained"
ASHA_GRACE_EPOCHS = 2
ASHA_REDUCTION_FACTOR = 2
MAX_FAILURES = 2  # a trial whose worker died is retried from its last checkpoint this many times


@dataclasses.dataclass(frozen=True)
class ExperimentPlan:
    """Everything needed to run, or resume, one (model, dataset) experiment."""

    settings: TrialSettings
    space: SearchSpace
    objective: Objective
    num_samples: int
    max_concurrent: int
    resources: dict[str, float]
    grid_dir: Path
    data_provenance: dict[str, Any]
    protocol_mode: str = "paper"
    threshold_protocol: str = "at-compat"
    time_budget_s: float | None = None
    seeds: int = 0
    untrained_copy: bool = False
    plugins: PluginBundle = PluginBundle()

    @property
    def name(self) -> str:
        return experiment_name(self.settings.model, self.settings.dataset)

    @property
    def path(self) -> Path:
        return self.grid_dir / self.name

    @property
    def max_epochs(self) -> int:
        """The most epochs a trial of this experiment can run (ASHA's max_t is one more, see `_new_tuner`)."""
        if "epochs" in self.space.params:
            most = int(self.space.params["epochs"].high)
        else:
            most = int(self.space.fixed.get("epochs", 1))
        cap = self.settings.epochs_cap
        return most if cap is None else min(most, cap)


@dataclasses.dataclass(frozen=True)
class ExperimentOutcome:
    """How an experiment ended: `complete`, `skipped` (complete before) or `interrupted`."""

    name: str
    path: Path
    status: str
    trials: int
    errors: int


def experiment_name(model: str, dataset: str) -> str:
    """Folder name of the (model, dataset) experiment."""
    return f"{model}__{dataset.replace('/', '-')}"


def _metadata(plan: ExperimentPlan, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the experiment runs (`extra` overrides), with its provenance (versions, git state,
    machine, config hash, and the numeric precision asked for and used)."""
    metadata = {
        "model": plan.settings.model,
        "model_display_name": get_model(plan.settings.model).display_name,
        "dataset": plan.settings.dataset,
        "settings": dataclasses.asdict(plan.settings),
        "protocol_mode": plan.protocol_mode,
        "threshold_protocol": plan.threshold_protocol,
        "objective": dataclasses.asdict(plan.objective),
        "early_stopping": f"ASHA on {plan.objective.metric} ({plan.objective.split} split), "
                          f"grace {min(ASHA_GRACE_EPOCHS, plan.max_epochs)} epochs, max {plan.max_epochs}; "
                          + _patience(plan),
        "evaluation": _evaluation(plan),
        "num_samples": plan.num_samples,
        "max_concurrent": plan.max_concurrent,
        "resources": plan.resources,
        "search_space": {"file": str(plan.space.path), "fixed": plan.space.fixed,
                         "params": {k: dataclasses.asdict(v) for k, v in plan.space.params.items()},
                         "first_points": plan.space.first_points_for(plan.settings.dataset)},
        "data": plan.data_provenance,
        "plugins": plan.plugins.describe(),
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    provenance = {**experiment_provenance(metadata),
                  "precision": precision_record(get_model(plan.settings.model), plan.settings.precision)}
    commit = provenance["git"]["commit"]
    metadata["code_version"] = (commit[:7] + ("+dirty" if provenance["git"]["dirty"] else "")) if commit else "unknown"
    return {**metadata, "provenance": provenance}


def _evaluation(plan: ExperimentPlan) -> str:
    """Which epochs are scored and evaluated (`--eval-every`), in words."""
    every = plan.settings.eval_every
    if every == 1:
        return "every epoch is scored and evaluated"
    return (f"every {every}th epoch is scored and evaluated (--eval-every {every}), and always the first epoch a run "
            f"trains, ASHA's milestones {list(asha_milestones(plan.max_epochs))}, the last planned epoch and a "
            "restored early-stopping epoch; the other epochs report evaluated: false with the last evaluated "
            "epoch's records (evaluated_epoch), and the tables use evaluated epochs only")


def _patience(plan: ExperimentPlan) -> str:
    return describe_early_stopping(get_model(plan.settings.model), plan.settings.dataset, plan.protocol_mode,
                                   plan.space.fixed)


def _trial_dirname(trial: Any) -> str:
    return f"trial_{trial.trial_id}"


def _new_tuner(plan: ExperimentPlan, trainable: Any, callbacks: Sequence[tune.Callback]) -> tune.Tuner:
    searcher = JournalOptunaSearch(
        space=plan.space.define_by_run,
        metric=plan.objective.metric,
        mode=plan.objective.mode,
        points_to_evaluate=plan.space.first_points_for(plan.settings.dataset) or None,
        sampler=optuna.samplers.TPESampler(seed=plan.settings.seed),
        study_name=plan.name,
        storage=JournalStorage(JournalFileBackend(str(plan.path / OPTUNA_JOURNAL))),
    )
    # max_t is one past the last epoch: a trial whose best epoch is not its last reports the
    # restored best epoch once more (iteration max_epochs + 1), which ASHA must not cut away.
    scheduler = ASHAScheduler(time_attr="training_iteration", max_t=plan.max_epochs + 1,
                              grace_period=min(ASHA_GRACE_EPOCHS, plan.max_epochs),
                              reduction_factor=ASHA_REDUCTION_FACTOR)
    return tune.Tuner(
        trainable,
        param_space={},
        tune_config=tune.TuneConfig(
            search_alg=SharedConcurrencyLimiter(searcher, max_concurrent=plan.max_concurrent, experiment=plan.name),
            scheduler=scheduler,
            num_samples=plan.num_samples,
            metric=plan.objective.metric,
            mode=plan.objective.mode,
            reuse_actors=True,
            time_budget_s=plan.time_budget_s,
            trial_dirname_creator=_trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=plan.name,
            storage_path=str(plan.grid_dir),
            verbose=0,
            callbacks=list(callbacks),
            failure_config=tune.FailureConfig(max_failures=MAX_FAILURES),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
        ),
    )


def asha_milestones(max_epochs: int) -> tuple[int, ...]:
    """The training iterations at which `_new_tuner`'s ASHA compares trials (its rungs: grace *
    2^k below max_t, as Ray's AsyncHyperBand builds them); a trial's epoch e reports iteration e."""
    grace, max_t = min(ASHA_GRACE_EPOCHS, max_epochs), max_epochs + 1
    rungs = int(math.log(max_t / grace) / math.log(ASHA_REDUCTION_FACTOR) + 1)
    return tuple(grace * ASHA_REDUCTION_FACTOR ** k for k in range(rungs))


def _trainable(plan: ExperimentPlan, data_ref: Any, folder: str, scheduled: bool = False) -> Any:
    """The trainable of the experiment in `folder`, registered under its own name: Tune's trainable
    registry is keyed by name, and experiments running side by side must not replace each other's.
    `scheduled`: ASHA compares its trials, so its milestones are always evaluated (`--eval-every`)."""
    settings = plan.settings
    if scheduled:
        settings = dataclasses.replace(settings, evaluate_epochs=asha_milestones(plan.max_epochs))
    trainable = tune.with_parameters(tsad_trainable, data_ref=data_ref, settings=settings, plugins=plan.plugins)
    trainable.__name__ = f"tsad_trainable__{folder}"
    return tune.with_resources(trainable, plan.resources)


class RayStateKeeper(tune.Callback):
    """After every controller step (Ray has just saved its experiment state), keep a copy of
    that state if it is intact, so a run damaged by a full disk or a kill can be restored."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _keep(self) -> None:
        try:
            back_up_ray_state(self.path)
        except OSError:
            pass  # a full disk: the previous intact copy stays, and the run stops on the trials' errors

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        self._keep()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self._keep()


def _snapshot_statuses(path: Path) -> list[str] | None:
    """Trial statuses in Ray's newest experiment snapshot, None if it is damaged. After Ctrl-C the
    in-memory ResultGrid calls the stopped trials TERMINATED; the snapshot written on the way out
    says RUNNING."""
    snapshots = sorted(path.glob("experiment_state-*.json"))
    if not snapshots:
        return []
    try:
        state = json.loads(snapshots[-1].read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    trials = (json.loads(trial) if isinstance(trial, str) else trial for trial, _ in state.get("trial_data", []))
    return [trial["status"] for trial in trials]


def _finish(path: Path, results: tune.ResultGrid, planned: int, budgeted: bool) -> bool:
    """Write the completion marker if every planned trial has ended; say whether it was written.
    A trial that failed for want of disk space has not ended: StorageFullError stops the grid,
    and `--resume` runs that trial again once space is back."""
    if any(is_storage_full(error) for error in results.errors):
        raise StorageFullError(str(path))
    statuses = _snapshot_statuses(path)
    if statuses is None:
        return False
    ended = all(status in ("TERMINATED", "ERROR") for status in statuses)
    if not ended or (len(statuses) < planned and not budgeted):
        return False
    summary = {"trials": len(results), "errors": results.num_errors,
               "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    _write_state(path / COMPLETE_FILE, summary)
    return True


def _write_state(path: Path, value: Any) -> None:
    """Write one of our JSON files atomically; a full disk becomes StorageFullError."""
    try:
        atomic_write_json(path, value)
    except OSError as error:
        if is_storage_full(error):
            raise StorageFullError(str(path.parent)) from error
        raise


def _fit(tuner: tune.Tuner, path: Path) -> tune.ResultGrid:
    """`tuner.fit()`; an error of Ray's on a full disk becomes StorageFullError (a clean stop)."""
    try:
        return tuner.fit()
    except Exception as error:
        if is_storage_full(error) or nearly_full(path):
            raise StorageFullError(str(path)) from error
        raise


def _restore(path: Path, trainable: Any) -> tune.Tuner:
    """Restore an interrupted experiment: Ray's damaged state files are first replaced by the
    last intact copy; trials that errored (a full disk, a lost node) run again from their last
    checkpoint, since the experiment never finished."""
    repair_ray_state(path)
    return tune.Tuner.restore(str(path), trainable, resume_unfinished=True, resume_errored=True,
                              restart_errored=False)


def _skipped(name: str, path: Path) -> ExperimentOutcome:
    summary = json.loads((path / COMPLETE_FILE).read_text())
    return ExperimentOutcome(name, path, "skipped", summary["trials"], summary["errors"])


def run_experiment(plan: ExperimentPlan, data_ref: Any, callbacks: Sequence[tune.Callback] = ()) -> ExperimentOutcome:
    """Run the experiment, resume it if it was interrupted, or skip it if it is complete."""
    if (plan.path / COMPLETE_FILE).is_file():
        return _skipped(plan.name, plan.path)
    trainable = _trainable(plan, data_ref, plan.name, scheduled=True)
    if tune.Tuner.can_restore(str(plan.path)):
        tuner = _restore(plan.path, trainable)
    else:
        plan.path.mkdir(parents=True, exist_ok=True)
        _write_state(plan.path / EXPERIMENT_FILE, _metadata(plan))
        tuner = _new_tuner(plan, trainable, [*callbacks, RayStateKeeper(plan.path)])
    results = _fit(tuner, plan.path)
    status = "complete" if _finish(plan.path, results, plan.num_samples, plan.time_budget_s is not None) else "interrupted"
    return ExperimentOutcome(plan.name, plan.path, status, len(results), results.num_errors)


def best_config(plan: ExperimentPlan) -> dict[str, Any] | None:
    """The configuration of the experiment's best finished trial, chosen exactly as the tables
    choose it (`results.select.best_trial`: the objective at each trial's reported epoch, the
    restored best epoch under early stopping)."""
    meta, trials = read_experiment(plan.path)
    best = best_trial(trials, meta["objective"])
    return None if best is None or not best.config else dict(best.config)


def _begin_best_config_run(plan: ExperimentPlan, path: Path,
                           variant: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any] | None:
    """Write the metadata of a run of the experiment's best configuration, as `variant(config)` ->
    (param space, metadata to add) makes it, in `path`; returns the param space, or None when the
    search has no finished trial."""
    config = best_config(plan)
    if config is None:
        return None
    param_space, meta = variant(config)
    path.mkdir(parents=True, exist_ok=True)
    _write_state(path / EXPERIMENT_FILE, _metadata(plan, meta))
    return param_space


def _run_fixed_configs(plan: ExperimentPlan, data_ref: Any, callbacks: Sequence[tune.Callback], suffix: str,
                       variant: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]],
                       n_trials: int) -> ExperimentOutcome:
    """Run the experiment's best configuration as given by `variant(config)` -> (param space,
    metadata to add), with no searcher and no early stopping, in the folder `<name><suffix>`."""
    name = plan.name + suffix
    path = plan.grid_dir / name
    if (path / COMPLETE_FILE).is_file():
        return _skipped(name, path)
    trainable = _trainable(plan, data_ref, name)
    if tune.Tuner.can_restore(str(path)):
        tuner = _restore(path, trainable)
    else:
        param_space = _begin_best_config_run(plan, path, variant)
        if param_space is None:
            return ExperimentOutcome(name, path, "no_best_trial", 0, 0)
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(max_concurrent_trials=plan.max_concurrent, reuse_actors=True,
                                        trial_dirname_creator=_trial_dirname),
            run_config=tune.RunConfig(name=name, storage_path=str(plan.grid_dir), verbose=0,
                                      callbacks=[*callbacks, RayStateKeeper(path)],
                                      failure_config=tune.FailureConfig(max_failures=MAX_FAILURES),
                                      checkpoint_config=tune.CheckpointConfig(num_to_keep=2)),
        )
    results = _fit(tuner, path)
    status = "complete" if _finish(path, results, n_trials, False) else "interrupted"
    return ExperimentOutcome(name, path, status, len(results), results.num_errors)


def run_seed_repeats(plan: ExperimentPlan, data_ref: Any, callbacks: Sequence[tune.Callback] = ()) -> ExperimentOutcome:
    """Retrain the experiment's best configuration with seeds 0..N-1 (no searcher, no ASHA; the
    recipe's patience still applies, as in the release), in the experiment folder `<name>__seeds`."""
    seeds = list(range(plan.seeds))

    def variant(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        return ({**config, "seed": tune.grid_search(seeds), "seed_repeat": True},
                {"seeds": seeds, "seed_repeat_of": plan.name, "best_config": config,
                 "early_stopping": f"no ASHA: every seed trains up to {config.get('epochs', 1)} epoch(s); "
                                   + _patience(plan)})

    return _run_fixed_configs(plan, data_ref, callbacks, SEEDS_SUFFIX, variant, plan.seeds)


def run_untrained_copy(plan: ExperimentPlan, data_ref: Any, callbacks: Sequence[tune.Callback] = (),
                       stop: threading.Event | None = None) -> ExperimentOutcome:
    """Kim et al.'s (AAAI 2022) sanity check: the best configuration, initialised and scored without
    any training, under the same scoring and threshold protocols, in `<name>__untrained`. Its
    tables row is `<model>:untrained`, a sanity baseline beside the trained model.

    It runs as one Ray task (`untrained.score_untrained`); the `TrialLinePrinter` among `callbacks`
    prints its line. A copy that an earlier version began as a Tune run is resumed by Tune.
    `stop` set (Ctrl-C) cancels the task: the copy is interrupted and scored again on `--resume`."""
    display = get_model(plan.settings.model).display_name

    def variant(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        return ({**config, "untrained": True},
                {"model": plan.settings.model + UNTRAINED_MODEL_SUFFIX, "model_display_name": f"Untrained {display}",
                 "untrained_copy_of": plan.name, "best_config": config,
                 "early_stopping": "none: untrained copy, scored once after initialisation (0 epochs)",
                 "executed_as": "one Ray task (nothing to search, schedule or checkpoint)"})

    name = plan.name + UNTRAINED_SUFFIX
    path = plan.grid_dir / name
    if (path / COMPLETE_FILE).is_file():
        return _skipped(name, path)
    if tune.Tuner.can_restore(str(path)):
        return _run_fixed_configs(plan, data_ref, callbacks, UNTRAINED_SUFFIX, variant, 1)
    param_space = _begin_best_config_run(plan, path, variant)
    if param_space is None:
        return ExperimentOutcome(name, path, "no_best_trial", 0, 0)
    printer = next((c for c in callbacks if isinstance(c, TrialLinePrinter)), None)
    ended = score_untrained(path, param_space, data_ref, plan.settings, plan.plugins, plan.resources, printer,
                            stop or threading.Event(), retries=MAX_FAILURES)
    if ended is None:
        return ExperimentOutcome(name, path, "interrupted", 0, 0)
    trials, errors = ended
    _write_state(path / COMPLETE_FILE, {"trials": trials, "errors": errors,
                                        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    return ExperimentOutcome(name, path, "complete", trials, errors)
