"""A grid, end to end: check every input before Ray starts, load each dataset once, put it in
the object store once, and run one experiment per (model, dataset), all of them side by side
(`scheduler.py`)."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

import ray

from ..datasets.preprocessing import PreparedData, prepare
from ..datasets.registry import (available_datasets, dataset_files, expand_entities, load_dataset,
                                 missing_public_benchmarks)
from ..search_spaces import SearchSpace, load_search_space, search_space_folder
from ..search_spaces.loader import Distribution
from ..zoo import MODELS, get_model
from ..zoo.plugins import PluginBundle, load_installed_plugins, load_plugins, plugin_folder
from ..zoo.base import ModelConfigError
from .cluster import configure_ray_environment
from .experiment import (SEEDS_SUFFIX, UNTRAINED_SUFFIX, ExperimentOutcome, ExperimentPlan, run_experiment,
                         run_seed_repeats, run_untrained_copy)
from .grids import GridSpec
from .objectives import get_objective, get_protocol_mode
from .progress import GridBoard, TrialLinePrinter, WholeLinePrinter
from .provenance import dataset_hashes
from .scheduler import STOP, ExperimentJob, GridCallback, run_jobs
from .slot_shares import Claim, shape_of
from .snapshots import save_only_when_changed
from .trial import RUN_KEYS, TrialSettings
from .validation import check_trial_values


class GridConfigError(ValueError):
    """A grid that cannot run as asked; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class GridRequest:
    """A grid as the user asked for it (command-line overrides applied)."""

    grid: GridSpec
    storage: Path
    run_name: str
    models: tuple[str, ...] | None = None
    datasets: tuple[str, ...] | None = None
    num_samples: int | None = None
    max_concurrent: int | None = None
    max_concurrent_experiments: int | None = None
    cpus_per_trial: float | None = None
    gpus_per_trial: float | None = None
    protocol: str = "paper"
    objective: str | None = None
    seed: int = 0
    seeds: int = 0
    fixed: dict[str, Any] = dataclasses.field(default_factory=dict)
    epochs_cap: int | None = None
    max_windows_per_epoch: int | None = None
    eval_every: int = 1
    data_root: Path | None = None
    nan_policy: str = "error"
    val_fraction: float = 0.2
    entity_policy: str = "concatenated"
    time_budget_s: float | None = None
    untrained_copies: bool = True
    plugins: tuple[str, ...] = ()
    search_space_dirs: tuple[Path, ...] = ()
    vus_window: int | str = 100
    precision: str = "fp32"

    @property
    def grid_dir(self) -> Path:
        return self.storage / self.run_name


@dataclasses.dataclass(frozen=True)
class GridPlan:
    """Checked experiments, the prepared datasets they share, and notes for the user."""

    request: GridRequest
    experiments: list[ExperimentPlan]
    datasets: dict[str, PreparedData]
    notes: list[str]
    missing_benchmarks: list[str]
    plugins: PluginBundle = PluginBundle()


def _fit_window_to_data(space: SearchSpace, model: str, data: PreparedData, notes: list[str]) -> SearchSpace:
    """Clip the win_size range to what the dataset's shortest split holds, or refuse."""
    limit = data.shortest_split
    where = f"{model} on {data.name}"
    if "win_size" in space.fixed:
        if space.fixed["win_size"] > limit:
            raise GridConfigError(
                f"win_size={space.fixed['win_size']} for {where} is longer than the shortest split "
                f"({limit} points): choose win_size <= {limit}"
            )
        return space
    if "win_size" not in space.params:
        default = get_model(model).Config().win_size
        if default > limit:
            raise GridConfigError(f"{where}: the default win_size={default} exceeds the shortest split ({limit} points): "
                                  f"fix one with --fix win_size=N (N <= {limit})")
        return space
    window = space.params["win_size"]
    if window.type == "categorical":
        fitting = tuple(choice for choice in window.choices if choice <= limit)
        clipped = dataclasses.replace(window, choices=fitting)
        smallest = min(window.choices)
    else:
        step = int(window.step or 1)
        clipped = dataclasses.replace(window, high=min(window.high, window.low + max(limit - window.low, 0) // step * step))
        fitting, smallest = window.low <= limit, window.low
    if not fitting:
        raise GridConfigError(
            f"{where}: the smallest win_size in {space.path} is {smallest}, longer than the shortest split "
            f"({limit} points): allow smaller windows there or use --fix win_size=N (N <= {limit})"
        )
    if clipped == window:
        return space
    notes.append(f"{where}: win_size limited to {limit} points (the shortest split)")
    first_points = {key: point for key, point in space.first_points.items()
                    if clipped.contains(point.get("win_size", smallest))}
    return dataclasses.replace(space, params={**space.params, "win_size": clipped}, first_points=first_points)


def _apply_fixed(space: SearchSpace, fixed: dict[str, Any], allowed: set[str]) -> SearchSpace:
    """Fixed values (--fix, a smoke section) replace the search space's distributions for keys the model has."""
    own = {key: value for key, value in fixed.items() if key in allowed}
    if not own:
        return space
    params: dict[str, Distribution] = {k: v for k, v in space.params.items() if k not in own}
    first_points = {name: {k: v for k, v in point.items() if k not in own}
                    for name, point in space.first_points.items()}
    return dataclasses.replace(space, params=params, fixed={**space.fixed, **own}, first_points=first_points)


def _check_fixed_values(model: str, dataset: str, space: SearchSpace) -> None:
    """Refuse, before Ray starts, fixed values (--fix, the file's `fixed:`, smoke values) that
    every trial would fail on: they are checked with the repository's first point for the
    dataset, or the model's defaults, by the model's own Config."""
    point = {key: value for key, value in space.paper_point(dataset).items() if key in space.params}
    try:
        check_trial_values(model, {**point, **space.fixed}, RUN_KEYS)
    except ModelConfigError as error:
        raise ModelConfigError(f"{model} on {dataset}: {error} (from --fix or {space.path.name}): "
                               "change that value") from None


def _entities_with_anomalies(datasets: list[str], root: Path | None,
                             notes: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Every entity of every dataset, leaving out (with a note) those whose test has no anomaly;
    and the entities left out, by dataset (recorded in each kept entity's data provenance)."""
    kept, left_out = [], {}
    for spec in datasets:
        left_out[spec] = []
        for entity in expand_entities(spec, root):
            if load_dataset(entity, root)[0].labels.any():
                kept.append(entity)
            else:
                left_out[spec].append(entity)
                notes.append(f"{entity}: left out, its test split has no anomalous point")
    return kept, left_out


def _prepare(name: str, request: GridRequest, left_out: dict[str, list[str]]) -> PreparedData:
    """Load and prepare one dataset; its provenance gains the sha256 of every file read and, per
    entity, the entities of its dataset that the per-entity policy left out."""
    entities = load_dataset(name, request.data_root)
    data = prepare(name, entities, val_fraction=request.val_fraction, nan_policy=request.nan_policy,
                   entity_policy=request.entity_policy)
    extra: dict[str, Any] = {"file_sha256": dataset_hashes(dataset_files(name, request.data_root), request.data_root,
                                                            entities)}
    parent = name.partition("/")[0]
    if request.entity_policy == "per-entity" and parent in left_out:
        extra["entities_left_out"] = left_out[parent]
    return dataclasses.replace(data, provenance={**data.provenance, **extra})


def _resources(declared: dict[str, float], request: GridRequest) -> dict[str, float]:
    """Ray resources of one trial: the model's declaration, overridden by the command line."""
    resources = {"cpu": declared["cpu"], "gpu": declared.get("gpu", 0.0)}
    if request.cpus_per_trial is not None:
        resources["cpu"] = request.cpus_per_trial
    if request.gpus_per_trial is not None:
        resources["gpu"] = request.gpus_per_trial
    if declared.get("memory_gb"):
        resources["memory"] = declared["memory_gb"] * 2**30
    return resources


def fit_to_cluster(plan: GridPlan, cluster_resources: dict[str, float]) -> list[str]:
    """Drop GPU requests on a cluster without GPUs (trials then run on CPU); returns notes."""
    if cluster_resources.get("GPU", 0) > 0:
        return []
    moved: dict[str, None] = {}
    for experiment in plan.experiments:
        if experiment.resources.get("gpu", 0) > 0:
            experiment.resources["gpu"] = 0.0
            moved[experiment.settings.model] = None
    return [f"the cluster has no GPU: the trials of {', '.join(moved)} run on CPU"] if moved else []


def plan_grid(request: GridRequest) -> GridPlan:
    """Resolve models and datasets, load and prepare data, check every search space."""
    grid = request.grid
    for folder in request.search_space_dirs:
        if not Path(folder).is_dir():
            raise GridConfigError(f"--search-spaces {folder}: not a folder; give the folder holding your <model>.yaml files")
    plugins = load_plugins(request.plugins)
    load_installed_plugins()
    models = list(request.models or grid.models or sorted(MODELS))
    for model in models:
        get_model(model)
    found = available_datasets(request.data_root)
    notes: list[str] = []
    datasets = list(request.datasets or grid.datasets or found)
    if request.datasets is None and grid.paper_settings:
        missing = [name for name in datasets if name not in found]
        datasets = [name for name in datasets if name in found]
        if missing:
            notes.append(f"paper datasets not found under the data root: {', '.join(missing)}")
        if not datasets:
            raise GridConfigError("none of the paper datasets (SMD, MSL, SMAP, PSM, SWaT, WADI) is under the data "
                                  "root: give --data-root, or prepare them with `python -m tsadbench.datasets prepare`")
    left_out: dict[str, list[str]] = {}
    if request.entity_policy == "per-entity":
        datasets, left_out = _entities_with_anomalies(datasets, request.data_root, notes)
    prepared = {name: _prepare(name, request, left_out) for name in datasets}
    known_keys = set().union(*(set(f.name for f in dataclasses.fields(get_model(m).Config)) for m in models), RUN_KEYS)
    unknown_fixed = sorted(set(request.fixed) - known_keys)
    if unknown_fixed:
        raise GridConfigError(f"--fix {unknown_fixed[0]}: no model of this grid has that hyperparameter")
    mode = get_protocol_mode(request.protocol)
    objective_spec = get_objective(request.objective or mode.default_objective)
    experiments = []
    for model in models:
        allowed = {f.name for f in dataclasses.fields(get_model(model).Config)} | set(RUN_KEYS)
        folder = search_space_folder(model, request.search_space_dirs, plugin_folder(model))
        space = load_search_space(model, folder, allowed_keys=allowed)
        if grid.tiny_models:
            space = _apply_fixed(space, space.smoke, allowed)
        space = _apply_fixed(space, request.fixed, allowed)
        resources = _resources(space.resources, request)
        headline = mode.headline(space.paper_protocol)
        protocols = tuple(dict.fromkeys((*mode.reported(space.paper_protocol), *space.extra_protocols)))
        for name in datasets:
            data = prepared[name]
            evaluation = space.protocol_settings_for(name)
            settings = TrialSettings(model=model, dataset=name, seed=request.seed,
                                     epochs_cap=request.epochs_cap or grid.epochs_cap,
                                     max_windows_per_epoch=request.max_windows_per_epoch or grid.max_windows_per_epoch,
                                     cpus=resources["cpu"], protocols=protocols,
                                     score_postprocessing=evaluation.pop("score_postprocessing", "none"),
                                     protocol_options=evaluation, protocol_mode=mode.name,
                                     vus_window=request.vus_window, precision=request.precision,
                                     eval_every=request.eval_every)
            dataset_space = _apply_fixed(space, space.paper_point(name), allowed) if grid.paper_settings else space
            _check_fixed_values(model, name, dataset_space)
            experiments.append(ExperimentPlan(
                settings=settings,
                space=_fit_window_to_data(dataset_space, model, data, notes),
                objective=objective_spec.bind(headline),
                num_samples=request.num_samples or grid.num_samples,
                max_concurrent=request.max_concurrent or grid.max_concurrent,
                resources=dict(resources),
                grid_dir=request.grid_dir,
                data_provenance=data.provenance,
                protocol_mode=mode.name,
                threshold_protocol=headline,
                time_budget_s=request.time_budget_s,
                seeds=request.seeds,
                untrained_copy=request.untrained_copies and get_model(model).learns,
                plugins=plugins,
            ))
    missing = missing_public_benchmarks(request.data_root) if request.datasets is None and grid.datasets is None else []
    return GridPlan(request, experiments, prepared, notes, missing, plugins)


def planned_trials(plan: GridPlan) -> int:
    """Trials the grid runs in all: searches, seed repeats and untrained copies."""
    return sum(e.num_samples + e.seeds + int(e.untrained_copy) for e in plan.experiments)


def _experiment_job(experiment: ExperimentPlan, data_ref: Any, printer: Callable[[str], None],
                    claim: Claim | None = None) -> ExperimentJob:
    """The experiment's search, releasing its seed repeats and untrained copy when it ends."""
    name, metric, headline = experiment.name, experiment.objective.metric, experiment.threshold_protocol

    def callbacks(label: str, planned: int) -> list:
        return [TrialLinePrinter(label, metric, planned, headline, printer), GridCallback()]

    def search() -> ExperimentOutcome:
        printer(f"{name}: {experiment.num_samples} trials, objective {experiment.objective.name}, "
                f"at most {experiment.max_epochs} epoch(s)")
        outcome = run_experiment(experiment, data_ref, callbacks(name, experiment.num_samples))
        if outcome.status == "skipped":
            printer(f"{name}: complete in an earlier run, skipped")
        return outcome

    def seeds() -> ExperimentOutcome:
        printer(f"{name}: best configuration, seeds 0..{experiment.seeds - 1}")
        return run_seed_repeats(experiment, data_ref, callbacks(name + " seeds", experiment.seeds))

    def untrained() -> ExperimentOutcome:
        printer(f"{name}: untrained copy of the best configuration")
        return run_untrained_copy(experiment, data_ref, callbacks(name + " untrained", 1), STOP)

    followups = ([ExperimentJob(name + SEEDS_SUFFIX, experiment.grid_dir / (name + SEEDS_SUFFIX), seeds)]
                 if experiment.seeds else [])
    if experiment.untrained_copy:
        followups.append(ExperimentJob(name + UNTRAINED_SUFFIX, experiment.grid_dir / (name + UNTRAINED_SUFFIX),
                                       untrained))
    return ExperimentJob(name, experiment.path, search, lambda outcome: followups, claim)


def _claim(experiment: ExperimentPlan, plan_index: int, work_s: float) -> Claim:
    """The search's claim on the slots the cluster offers for its resources."""
    return Claim(shape_of(experiment.resources), experiment.max_concurrent, work_s, plan_index)


def run_grid(plan: GridPlan, printer: Callable[[str], None] = print, estimate_s: float | None = None,
             board: GridBoard | None = None, work_s: dict[str, float] | None = None) -> list[ExperimentOutcome]:
    """Run every experiment of the plan side by side on the cluster (at most
    `request.max_concurrent_experiments` Tune runs at once); each experiment's seed repeats and
    untrained copy start as soon as its search has ended. The searches share the slots
    (`slot_shares`), the largest estimated work first (`work_s`: seconds per experiment name, from
    the plan's estimate; else plan order). Outcomes come in plan order. `board` (default: a new
    one) prints the grid's status line and records when each trial ran."""
    configure_ray_environment()
    save_only_when_changed()
    printer = WholeLinePrinter(printer)
    references = {name: ray.put(data) for name, data in plan.datasets.items()}
    work_s = work_s or {}
    jobs = [_experiment_job(e, references[e.settings.dataset], printer, _claim(e, index, work_s.get(e.name, 0.0)))
            for index, e in enumerate(plan.experiments)]
    with board or GridBoard(planned_trials(plan), printer, estimate_s=estimate_s):
        return run_jobs(jobs, plan.request.max_concurrent_experiments)
