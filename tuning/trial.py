"""One trial, free of Ray: build the model, train it epoch by epoch, score every split, evaluate
under each threshold protocol and hand every epoch's record to a `report` callback.

The Ray trainable (`trainable.py`) only adapts `report` and checkpoint loading to Ray Tune, so this
loop is unit-tested without a cluster.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import numpy as np

from ..datasets.preprocessing import PreparedData
from ..evaluation import evaluate, postprocess_scores, threshold_free_metrics
from ..zoo import get_model
from ..zoo.base import HEADLINE_SCORE, PRECISIONS, AnomalyDetector, ModelConfigError
from .early_stopping import EarlyStopping, monitored_split
from .validation import check_run_values

RUN_KEYS = ("epochs", "anomaly_ratio", "seed", "seed_repeat", "untrained", "patience", "min_delta")
DEFAULT_PROTOCOLS = ("at-compat", "best-f1")

Report = Callable[[dict[str, Any], dict[str, Any]], None]


@dataclasses.dataclass(frozen=True)
class TrialSettings:
    """What the orchestrator decides for every trial of an experiment (not tuned); a config key
    `seed` (set by seed repeats) overrides `seed`. `protocol_options` (pot_q, pot_level,
    epsilon_reg_level) and `score_postprocessing` are the repository's evaluation settings for
    this dataset, from the model's search-space file. `protocol_mode` decides which split early
    stopping monitors (`early_stopping.monitored_split`). `vus_window` is the VUS buffer: points,
    or "period" (TSB-AD's leaderboard: the test series' period). `precision` is the forward passes'
    precision (`PRECISIONS`), for models that offer it (`precision_used`). `eval_every` K scores and
    evaluates every K-th epoch only (`evaluates` says which); `evaluate_epochs` names epochs
    evaluated whatever K is (the scheduler's milestones)."""

    model: str
    dataset: str
    seed: int = 0
    epochs_cap: int | None = None
    max_windows_per_epoch: int | None = None
    cpus: float = 1
    protocols: tuple[str, ...] = DEFAULT_PROTOCOLS
    protocol_options: dict[str, float] = dataclasses.field(default_factory=dict)
    score_postprocessing: str = "none"
    protocol_mode: str = "clean"
    vus_window: int | str = 100
    precision: str = "fp32"
    eval_every: int = 1
    evaluate_epochs: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if isinstance(self.eval_every, bool) or not isinstance(self.eval_every, int) or self.eval_every < 1:
            raise ValueError(f"eval_every must be an int >= 1 (1 evaluates every epoch), got {self.eval_every!r}")
        object.__setattr__(self, "evaluate_epochs", tuple(self.evaluate_epochs))

    @property
    def torch_threads(self) -> int:
        """torch's intra-op threads for a trial of `cpus` CPUs: its whole CPUs, at least one (set by
        the trainable, the untrained-copy task and the plan's calibration alike)."""
        return max(1, int(self.cpus))

    def evaluates(self, epoch: int, planned: int) -> bool:
        """Whether epoch `epoch` of `planned` is scored and evaluated: every `eval_every`-th, the
        last planned one and the `evaluate_epochs` (a restored early-stopping epoch always is)."""
        return epoch % self.eval_every == 0 or epoch >= planned or epoch in self.evaluate_epochs


def precision_used(model_cls: type[AnomalyDetector], requested: str) -> str:
    """The precision a model runs in when `requested` is asked for: that one where the model offers
    it (`precisions`), else fp32. Detectors without PyTorch forward passes (random, one-liner) run
    as they always do; the experiment records both (`precision_record`)."""
    return requested if requested in model_cls.precisions else "fp32"


def precision_record(model_cls: type[AnomalyDetector], requested: str) -> dict[str, str]:
    """What an experiment's metadata says of its precision: asked for, used, and why they differ."""
    used = precision_used(model_cls, requested)
    record = {"requested": requested, "used": used}
    if used != requested:
        record["note"] = f"{model_cls.name} runs in {', '.join(model_cls.precisions)} only: --precision ignored"
    return record


def split_config(config: dict[str, Any], model_cls: type[AnomalyDetector]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate a trial config into the model's hyperparameters and the run-level keys."""
    run = {key: config[key] for key in RUN_KEYS if key in config}
    model = {key: value for key, value in config.items() if key not in RUN_KEYS}
    return model, run


def protocol_key(protocol: str) -> str:
    """The report key of a protocol's record (Ray flattens nested dicts with '/')."""
    return protocol.replace("-", "_")


def postprocess_split_scores(scores: dict[str, np.ndarray], data: PreparedData, name: str) -> dict[str, np.ndarray]:
    """Apply the score post-processing `name` to the whole training split (train and its
    validation tail, whose entities run across both) and to the test split."""
    if name == "none":
        return scores
    whole = postprocess_scores(name, np.concatenate([scores["train"], scores["val"]]), data.train_entity_lengths)
    n_train = scores["train"].shape[0]
    return {"train": whole[:n_train], "val": whole[n_train:],
            "test": postprocess_scores(name, scores["test"], data.test_entity_lengths)}


def evaluate_epoch(scores: dict[str, np.ndarray], labels: np.ndarray, anomaly_ratio: float,
                   protocols: tuple[str, ...], protocol_options: dict[str, float] | None = None,
                   vus_window: int | str = 100, series: np.ndarray | None = None) -> dict[str, Any]:
    """Every protocol's record and the threshold-free metrics for one epoch's scores.

    Protocols that read train scores see the whole training split (train and its validation
    tail), as the Anomaly-Transformer code's train loader does. That loader yields stride-1 windows,
    so its train energies hold each point up to W times, once per window position; here every split
    has one score per point from the model's scoring stride. Over a long series both samples cover
    every window position about equally, so the at-compat percentile differs by sampling only
    (decision written down here, where the train scores are gathered).
    """
    whole_train = np.concatenate([scores["train"], scores["val"]])
    records: dict[str, Any] = {
        protocol_key(protocol): evaluate(scores["test"], labels, protocol=protocol, train_scores=whole_train,
                                         val_scores=scores["val"], anomaly_ratio=anomaly_ratio,
                                         **(protocol_options or {}))
        for protocol in protocols
    }
    records["threshold_free"] = threshold_free_metrics(scores["test"], labels, window=vus_window, series=series)
    return records


def early_stopping_for(model_cls: type[AnomalyDetector], settings: TrialSettings,
                       run_values: dict[str, Any]) -> EarlyStopping | None:
    """The trial's early stopping: `patience`/`min_delta` from the config (e.g. `--fix patience=3`),
    else the model's recipe; None where neither has a patience (every planned epoch is trained)."""
    recipe = model_cls.recipe
    patience = run_values.get("patience", recipe.patience if recipe is not None else None)
    if patience is None:
        return None
    min_delta = float(run_values.get("min_delta", recipe.min_delta if recipe is not None else 0.0))
    split = monitored_split(model_cls, settings.dataset, settings.protocol_mode)
    return EarlyStopping(int(patience), min_delta, split)


def run_trial(config: dict[str, Any], data: PreparedData, settings: TrialSettings, report: Report,
              state: dict[str, Any] | None = None, device: str = "cpu") -> None:
    """Train and evaluate one configuration, reporting after every epoch.

    `state` is what an earlier `report` call handed out as `artifacts["state"]`; training then
    continues after the epoch it recorded. A config with `untrained: true` is Kim et al.'s
    (AAAI 2022) untrained copy: the initialised model is scored once, as epoch 0.

    With early stopping (`early_stopping_for`), every epoch's loss on the monitored split is
    counted; training ends after `patience` epochs without an improvement of `min_delta`, and if
    the best epoch is not the last one trained, its state is restored, scored again and reported
    once more under its own epoch number (`early_stopping.restored`). Every report names the
    epoch the tables use (`reported_epoch`: the best monitored epoch so far, else the epoch itself),
    so a trial that ASHA or a budget ends earlier is still reported at its best epoch.

    An evaluated epoch (`TrialSettings.evaluates`) scores each split once: a split whose
    validation loss is needed too (the validation split, and the monitored one) gets its scores
    and loss from one pass (`AnomalyDetector.score_set_and_loss`). An epoch that is not evaluated
    trains and counts its monitored loss, and reports `evaluated: false` with the last evaluated
    epoch's records carried forward under `evaluated_epoch` (never as its own scores); the first
    epoch a run (or a resumed run) trains is always evaluated, so every report has them.
    """
    model_cls = get_model(settings.model)
    model_values, run_values = split_config(config, model_cls)
    model_config = model_cls.Config.from_dict(model_values)
    check_run_values(run_values)
    if model_config.win_size > data.shortest_split:
        raise ModelConfigError(
            f"win_size={model_config.win_size} is longer than the shortest split of {data.name} "
            f"({data.shortest_split} points): choose win_size <= {data.shortest_split}"
        )
    seed = int(run_values.get("seed", settings.seed))
    epochs = int(run_values.get("epochs", 1))
    if settings.epochs_cap is not None:
        epochs = min(epochs, settings.epochs_cap)
    if run_values.get("untrained"):
        epochs = 0
    run = {"epochs_planned": epochs, "seed": seed, "anomaly_ratio": float(run_values.get("anomaly_ratio", 1.0))}
    model = model_cls(data.n_channels, model_config, seed=seed, device=device)
    model.set_precision(precision_used(model_cls, settings.precision))
    if epochs == 0:
        started, cpu_started = time.perf_counter(), time.process_time()
        _report_epoch(model, data, settings, report, {"epoch": 0, "reported_epoch": 0, **run}, {},
                      started, started, score_splits(model, data, ()), cpu_started=cpu_started)
        return
    stopping = early_stopping_for(model_cls, settings, run_values)
    first_epoch = 1
    if state is not None:
        model.load_state_dict(state["model"])
        first_epoch = state["epoch"] + 1
        if state.get("early_stopping") is not None:
            stopping = EarlyStopping.from_state(state["early_stopping"])
    last_epoch = first_epoch - 1
    carried: dict[str, Any] | None = None
    for epoch in range(first_epoch, epochs + 1):
        if stopping is not None and stopping.stop_reason is not None:
            break
        started, cpu_started = time.perf_counter(), time.process_time()
        train_stats = model.train_epoch(data.train, max_windows=settings.max_windows_per_epoch)
        trained = time.perf_counter()
        epoch_run: dict[str, Any] = {"epoch": epoch, "reported_epoch": epoch, **run}
        passes = None
        if carried is None or settings.evaluates(epoch, epochs):
            passes = score_splits(model, data, () if stopping is None else (stopping.split,))
        if stopping is not None:
            loss = (passes.losses[stopping.split] if passes is not None
                    else model.validation_loss(data.val if stopping.split == "val" else data.test))
            stopping.update(epoch, loss, model, train_stats)
            if epoch == epochs and stopping.stop_reason is None:
                stopping.stop_reason = "planned_epochs"
            epoch_run.update(reported_epoch=stopping.best_epoch, early_stopping=stopping.record(loss))
        if passes is not None:
            carried = _report_epoch(model, data, settings, report, epoch_run, train_stats, started, trained, passes,
                                    stopping, cpu_started=cpu_started)
        else:
            carried = _report_unevaluated(model, report, epoch_run, train_stats, started, trained, stopping,
                                          cpu_started, carried)
        last_epoch = epoch
    if stopping is not None and stopping.stop_reason is not None and stopping.best_epoch != last_epoch:
        _report_restored(model, data, settings, report, run, stopping, last_epoch)


@dataclasses.dataclass(frozen=True)
class SplitPasses:
    """One epoch's scoring: every split's score set, and the validation loss of the splits asked for."""

    scores: dict[str, dict[str, np.ndarray]]
    losses: dict[str, float]


def score_splits(model: AnomalyDetector, data: PreparedData, loss_splits: tuple[str, ...]) -> SplitPasses:
    """Score train, val and test once each; the validation split (whose loss every report carries)
    and `loss_splits` give their validation loss from the same pass."""
    wanted = {"val", *loss_splits}
    scores, losses = {}, {}
    for split, series in (("train", data.train), ("val", data.val), ("test", data.test)):
        if split in wanted:
            scores[split], losses[split] = model.score_set_and_loss(series)
        else:
            scores[split] = model.score_set(series)
    return SplitPasses(scores, losses)


def _report_restored(model: AnomalyDetector, data: PreparedData, settings: TrialSettings, report: Report,
                     run: dict[str, Any], stopping: EarlyStopping, last_epoch: int) -> None:
    """Restore the best epoch's state and report its scoring again, as the releases' test loop
    loads their saved checkpoint; the report carries that epoch's number."""
    started, cpu_started = time.perf_counter(), time.process_time()
    model.load_state_dict(stopping.best_model)
    record = {**stopping.record(stopping.best_loss), "restored": True, "stopped_after_epoch": last_epoch}
    _report_epoch(model, data, settings, report,
                  {"epoch": stopping.best_epoch, "reported_epoch": stopping.best_epoch, **run, "early_stopping": record},
                  stopping.best_train_stats, started, started, score_splits(model, data, ()), stopping,
                  state_epoch=last_epoch, cpu_started=cpu_started)


#: Report keys that belong to the epoch's evaluation; an epoch that is not evaluated carries the
#: last evaluated epoch's values of these forward (with `evaluated_epoch` naming it).
EVALUATION_KEYS = ("val_loss", "threshold_free", "extra_scores")


def _report_epoch(model: AnomalyDetector, data: PreparedData, settings: TrialSettings, report: Report,
                  run: dict[str, Any], train_stats: dict[str, float], started: float, trained: float,
                  passes: SplitPasses, stopping: EarlyStopping | None = None, state_epoch: int | None = None,
                  cpu_started: float | None = None) -> dict[str, Any]:
    """Evaluate the epoch's scores and report the epoch `run["epoch"]` with its artifacts; the
    state continues training after `state_epoch` (default: that epoch). The epoch's wall time
    (`epoch_seconds`) counts from `started`, its training (`train_seconds`) ends at `trained`,
    the CPU time of the trial's process (`cpu_seconds`) counts from `cpu_started`. Returns the
    evaluation records, for the epochs that are not evaluated to carry forward."""
    score_sets = passes.scores
    evaluated = {}
    for name in score_sets["test"]:
        scores = postprocess_split_scores({split: values[name] for split, values in score_sets.items()},
                                          data, settings.score_postprocessing)
        evaluated[name] = (scores, evaluate_epoch(scores, data.labels, run["anomaly_ratio"], settings.protocols,
                                                  settings.protocol_options, settings.vus_window, data.test))
    scores, records = evaluated.pop(HEADLINE_SCORE)
    evaluation = {"val_loss": passes.losses["val"], **records}
    if evaluated:
        # Scores a model offers beside its headline (the AT family's reconstruction error alone):
        # the same protocols, an extra record under `extra_scores`, never in the headline's place.
        evaluation["extra_scores"] = {name: extra for name, (_, extra) in evaluated.items()}
    metrics = {
        **run,
        **train_stats,
        **evaluation,
        "evaluated": True,
        "evaluated_epoch": run["epoch"],
        "train_seconds": trained - started,
        "epoch_seconds": time.perf_counter() - started,
        **({"cpu_seconds": time.process_time() - cpu_started} if cpu_started is not None else {}),
    }
    state = {"model": model.state_dict(), "epoch": run["epoch"] if state_epoch is None else state_epoch,
             "early_stopping": None if stopping is None else stopping.state()}
    report(metrics, {"state": state, "scores": scores})
    return {**evaluation, "evaluated_epoch": run["epoch"]}


def _report_unevaluated(model: AnomalyDetector, report: Report, run: dict[str, Any], train_stats: dict[str, float],
                        started: float, trained: float, stopping: EarlyStopping | None, cpu_started: float,
                        carried: dict[str, Any]) -> dict[str, Any]:
    """Report an epoch that trained but was not scored: `evaluated: false`, and the last evaluated
    epoch's records under their keys (the scheduler needs its metric in every result) with
    `evaluated_epoch` naming that epoch. No scores are handed out."""
    metrics = {**run, **train_stats, **carried, "evaluated": False,
               "evaluated_epoch": carried.get("evaluated_epoch"),
               "train_seconds": trained - started, "epoch_seconds": time.perf_counter() - started,
               "cpu_seconds": time.process_time() - cpu_started}
    state = {"model": model.state_dict(), "epoch": run["epoch"],
             "early_stopping": None if stopping is None else stopping.state()}
    report(metrics, {"state": state, "scores": None})
    return carried
