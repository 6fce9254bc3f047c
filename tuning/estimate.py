"""The plan before the run: experiments, trials, epochs, the slots the cluster offers for each
model's resources, and an estimated wall time and CPU/GPU-hours.

The estimate comes from a short calibration step per experiment, run in the driver without Ray:
two real epochs of `run_trial` (training, scoring every split, every protocol; the second,
warm one is timed) of the
configuration the search would try first, training on `CALIBRATION_WINDOWS` windows and scoring
the dataset cut to at most `CALIBRATION_POINTS` points per split. Its training time is scaled to
the windows an epoch really trains on (one per `train_stride` points, or `max_windows_per_epoch`), its
evaluation time to the points really scored. Every trial is
counted at its full epochs (ASHA stops some earlier, so the figures are an upper bound for the
searches); the wall time packs each experiment's trials into the slots its resources get, at most
`max_concurrent` at once, and the grid into the whole cluster. With `--eval-every K` only the
evaluated epochs count their evaluation, and an epoch that is not evaluated still counts its
early-stopping loss on the monitored split, timed on the cut as well.
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time
from typing import Any, Callable, NamedTuple

import numpy as np
import optuna
import torch

from ..datasets.preprocessing import PreparedData
from .experiment import ExperimentPlan, asha_milestones
from .slot_shares import slots_for
from ..zoo import get_model
from .trial import early_stopping_for, run_trial, split_config

CALIBRATION_POINTS = 1024
CALIBRATION_WINDOWS = 64


class EpochSeconds(NamedTuple):
    """Seconds of one full-size epoch: its training, its evaluation (scoring every split and every
    protocol), and the early-stopping loss that an epoch `--eval-every` leaves unevaluated still
    computes (0 without early stopping, or where every epoch is evaluated)."""

    train: float
    evaluation: float
    monitored_loss: float = 0.0


@dataclasses.dataclass(frozen=True)
class ExperimentCost:
    """One experiment's share of the plan (its seed repeats and untrained copy included)."""

    name: str
    trials: int
    epochs: int
    resources: dict[str, float]
    slots: int
    train_s_per_epoch: float
    eval_s_per_epoch: float
    untrained_copy: bool = False
    calibration_error: str | None = None
    evaluated_epochs: int | None = None
    loss_s_per_epoch: float = 0.0

    @property
    def epoch_s(self) -> float:
        """Seconds of an evaluated epoch."""
        return self.train_s_per_epoch + self.eval_s_per_epoch

    @property
    def work_s(self) -> float:
        """Seconds of trial work: every trial at full epochs, of which `evaluated_epochs` (default:
        all) are scored and evaluated (`--eval-every`) and the others count their early-stopping
        loss; the untrained copy scored once."""
        evaluated = self.epochs if self.evaluated_epochs is None else self.evaluated_epochs
        return (self.epochs * self.train_s_per_epoch + evaluated * self.eval_s_per_epoch
                + (self.epochs - evaluated) * self.loss_s_per_epoch
                + (self.eval_s_per_epoch if self.untrained_copy else 0.0))


@dataclasses.dataclass(frozen=True)
class GridEstimate:
    experiments: list[ExperimentCost]
    cluster: dict[str, float]
    wall_s: float
    calibrated: bool = True

    @property
    def cpu_hours(self) -> float:
        return sum(e.work_s * e.resources.get("cpu", 0) for e in self.experiments) / 3600

    @property
    def gpu_hours(self) -> float:
        return sum(e.work_s * e.resources.get("gpu", 0) for e in self.experiments) / 3600


def _cut(data: PreparedData, points: int) -> PreparedData:
    """The first `points` of train and val, and `points` of test around its first anomaly (every
    protocol needs one)."""
    anomalies = np.flatnonzero(data.labels)
    start = int(anomalies[0]) if anomalies.size else 0
    start = max(0, min(start - points // 2, data.test.shape[0] - points))
    return dataclasses.replace(
        data, train=data.train[:points], val=data.val[:points], test=data.test[start:start + points],
        labels=data.labels[start:start + points], train_entity_lengths=(), test_entity_lengths=())


def calibration_config(plan: ExperimentPlan) -> dict[str, Any]:
    """The configuration the experiment's search tries first: its first point, else Optuna's first
    sample (seeded), with the fixed values; two epochs."""
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=plan.settings.seed))
    for point in plan.space.first_points_for(plan.settings.dataset)[:1]:
        study.enqueue_trial(point)
    trial = study.ask()
    config = {**trial.params, **plan.space.define_by_run(trial)}
    return {**config, "epochs": 2}


def training_windows(plan: ExperimentPlan, config: dict[str, Any], points: int) -> int:
    """Windows in one epoch over `points` training points: one per `train_stride` points for the
    windowed detectors (their common config), one per point otherwise."""
    model_cls = get_model(plan.settings.model)
    model_config = model_cls.Config.from_dict(split_config(config, model_cls)[0])
    window, stride = getattr(model_config, "win_size", 1), getattr(model_config, "train_stride", 1)
    return max((points - window) // stride + 1, 1)


def _monitored_loss_seconds(plan: ExperimentPlan, config: dict[str, Any], cut: PreparedData,
                            data: PreparedData) -> float:
    """Seconds of the early-stopping loss on the full monitored split (timed warm on the cut and
    scaled per point); 0 where no epoch goes unevaluated or the trial has no early stopping."""
    model_cls = get_model(plan.settings.model)
    model_values, run_values = split_config(config, model_cls)
    stopping = early_stopping_for(model_cls, plan.settings, run_values)
    if plan.settings.eval_every == 1 or stopping is None:
        return 0.0
    model = model_cls(cut.n_channels, model_cls.Config.from_dict(model_values), seed=plan.settings.seed)
    series = getattr(cut, stopping.split)
    model.validation_loss(series)
    started = time.perf_counter()
    model.validation_loss(series)
    return (time.perf_counter() - started) * getattr(data, stopping.split).shape[0] / series.shape[0]


def calibrate(plan: ExperimentPlan, data: PreparedData) -> EpochSeconds:
    """The seconds of one full-size epoch of the experiment, measured on a cut of the data (the
    second epoch: the first pays for warm-up) and scaled to the full splits."""
    config = calibration_config(plan)
    cut = _cut(data, max(CALIBRATION_POINTS, 4 * int(config.get("win_size", 0))))
    settings = dataclasses.replace(plan.settings, max_windows_per_epoch=CALIBRATION_WINDOWS)
    measured: dict[str, float] = {}

    def report(metrics: dict[str, Any], artifacts: dict[str, Any]) -> None:
        # Only the warm, trained second epoch is timed: early stopping may end the run by
        # restoring epoch 1 and scoring it again, a report whose training took no time.
        if metrics["epoch"] == 2 and not metrics.get("early_stopping", {}).get("restored"):
            measured.update(train=metrics["train_seconds"], epoch=metrics["epoch_seconds"])

    # Timed with the trial's own thread count: on a busy machine (Ray starting beside it) a tiny
    # model on every core's thread read up to 25 times slower than its trials later ran.
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(settings.torch_threads)
    try:
        run_trial(config, cut, dataclasses.replace(settings, epochs_cap=None), report)
        monitored_loss = _monitored_loss_seconds(plan, config, cut, data)
    finally:
        torch.set_num_threads(previous_threads)
    windows = min(training_windows(plan, config, data.train.shape[0]), plan.settings.max_windows_per_epoch or math.inf)
    train_scale = windows / min(CALIBRATION_WINDOWS, training_windows(plan, config, cut.train.shape[0]))
    scored = data.train.shape[0] + data.val.shape[0] + data.test.shape[0]
    eval_scale = scored / (cut.train.shape[0] + cut.val.shape[0] + cut.test.shape[0])
    return EpochSeconds(measured["train"] * train_scale, (measured["epoch"] - measured["train"]) * eval_scale,
                        monitored_loss)


class BackgroundCalibration:
    """`calibrate` every experiment in a daemon thread, so that the calibration epochs overlap what
    the driver does between Ray's start and the plan; `measure` (an `estimate_grid` measure) waits
    for the figures. Start it only once Ray is up: `ray.init` writes the process environment, which
    another thread must not read meanwhile. Timed while Ray's own processes finish starting, the
    epochs may read slower on a machine with few cores: the estimate then errs on the long side."""

    def __init__(self, experiments: list[ExperimentPlan], datasets: dict[str, PreparedData]):
        self._results: dict[str, tuple[float, float] | Exception] = {}
        self._done = threading.Event()
        threading.Thread(target=self._run, args=(experiments, datasets), name="calibration", daemon=True).start()

    def _run(self, experiments: list[ExperimentPlan], datasets: dict[str, PreparedData]) -> None:
        try:
            for plan in experiments:
                try:
                    self._results[plan.name] = calibrate(plan, datasets[plan.settings.dataset])
                except Exception as failure:  # estimate_grid records it beside the experiment
                    self._results[plan.name] = failure
        finally:
            self._done.set()

    def measure(self, plan: ExperimentPlan, data: PreparedData) -> EpochSeconds:
        """The seconds of one full-size epoch of `plan`, as `calibrate`."""
        self._done.wait()
        result = self._results[plan.name]
        if isinstance(result, Exception):
            raise result
        return result


def evaluated_per_trial(plan: ExperimentPlan, scheduled: bool = True) -> int:
    """How many of a full-length trial's epochs are scored and evaluated (`TrialSettings.evaluates`,
    and the first epoch): with ASHA's milestones for a search's trial (`scheduled`), without them
    for a seed repeat."""
    settings = dataclasses.replace(plan.settings, evaluate_epochs=asha_milestones(plan.max_epochs) if scheduled else ())
    return sum(1 for epoch in range(1, plan.max_epochs + 1) if epoch == 1 or settings.evaluates(epoch, plan.max_epochs))


def not_measured(plan: ExperimentPlan, data: PreparedData) -> EpochSeconds:
    """A `measure` for a plan without time estimate."""
    return EpochSeconds(0.0, 0.0)


def estimate_grid(experiments: list[ExperimentPlan], datasets: dict[str, PreparedData], cluster: dict[str, float],
                  measure: Callable[[ExperimentPlan, PreparedData], tuple[float, ...]] = calibrate) -> GridEstimate:
    """Cost every experiment and the grid's wall time on a cluster with `cluster` resources
    (Ray's names: CPU, GPU); `measure` gives the `EpochSeconds` of a full epoch (a plain
    (train, evaluation) pair counts no early-stopping loss)."""
    costs, critical = [], 0.0
    for plan in experiments:
        error = None
        try:
            seconds = EpochSeconds(*measure(plan, datasets[plan.settings.dataset]))
        except Exception as failure:  # the trials will fail the same way: Tune records that, the plan says so
            seconds, error = EpochSeconds(0.0, 0.0), f"{type(failure).__name__}: {failure}"
        train_s, eval_s, loss_s = seconds
        slots = slots_for(plan.resources, cluster)
        searched, repeated = evaluated_per_trial(plan), evaluated_per_trial(plan, scheduled=False)
        cost = ExperimentCost(plan.name, plan.num_samples + plan.seeds + int(plan.untrained_copy),
                              (plan.num_samples + plan.seeds) * plan.max_epochs, dict(plan.resources), slots,
                              train_s, eval_s, plan.untrained_copy, error,
                              plan.num_samples * searched + plan.seeds * repeated, loss_s)
        costs.append(cost)

        def trial_s(evaluated: int) -> float:
            return plan.max_epochs * train_s + evaluated * eval_s + (plan.max_epochs - evaluated) * loss_s

        at_once = max(min(slots, plan.max_concurrent, plan.num_samples), 1)
        search = math.ceil(plan.num_samples / at_once) * trial_s(searched)
        repeats = math.ceil(plan.seeds / max(min(slots, plan.max_concurrent), 1)) * trial_s(repeated)
        critical = max(critical, search + max(repeats, eval_s if plan.untrained_copy else 0.0))
    by_capacity = [sum(c.work_s * c.resources.get(kind.lower(), 0) for c in costs) / cluster[kind]
                   for kind in ("CPU", "GPU") if cluster.get(kind)]
    return GridEstimate(costs, dict(cluster), max([critical, *by_capacity]), measure is not not_measured)


def plan_lines(estimate: GridEstimate) -> list[str]:
    """The plan as printed before any trial starts."""
    cluster = ", ".join(f"{estimate.cluster.get(kind, 0):g} {kind}" for kind in ("CPU", "GPU"))
    lines = [f"plan on {cluster}: {len(estimate.experiments)} experiment(s), "
             f"{sum(e.trials for e in estimate.experiments)} trial(s), at most "
             f"{sum(e.epochs for e in estimate.experiments)} trial-epoch(s)"]
    width = max((len(e.name) for e in estimate.experiments), default=10)
    lines.append(f"  {'experiment':{width}s}  trials  epochs  per trial        slots  s/epoch (train+eval)")
    for e in estimate.experiments:
        per_trial = f"{e.resources.get('cpu', 0):g} CPU {e.resources.get('gpu', 0):g} GPU"
        lines.append(f"  {e.name:{width}s}  {e.trials:6d}  {e.epochs:6d}  {per_trial:15s}  {e.slots:5d}  "
                     f"{e.epoch_s:.2f} ({e.train_s_per_epoch:.2f}+{e.eval_s_per_epoch:.2f})")
    for e in estimate.experiments:
        if e.calibration_error:
            lines.append(f"note: {e.name}: its calibration epoch failed ({e.calibration_error}); its time is not "
                         "in the estimate")
        if e.slots == 0:
            lines.append(f"note: {e.name}: no slot of this cluster fits a trial's resources; its trials wait until "
                         "the cluster grows (or lower --cpus-per-trial/--gpus-per-trial)")
    if not estimate.calibrated:
        return lines
    lines.append(f"estimate: {estimate.wall_s / 60:.1f} min wall, {estimate.cpu_hours:.2f} CPU-hours, "
                 f"{estimate.gpu_hours:.2f} GPU-hours (every trial at full epochs; timed on one warm epoch per "
                 "experiment; Ray start-up not included)")
    return lines
