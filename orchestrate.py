#!/usr/bin/env python
"""Run a Ray Tune + Optuna benchmark grid: one experiment per (model, dataset).

    python orchestrate.py --grid smoke                      # every model x synthetic data, minutes
    python orchestrate.py --grid all --data-root DATA       # every model x every dataset found
    python orchestrate.py --grid all --address HEAD:6379    # on an existing Ray cluster

The command line only: grids, flags and messages. Everything that knows Ray lives in
`tsadbench.tuning`; results tables come from `tsadbench.results`.
"""
from __future__ import annotations

import os
import sys

# The repository root is the package `tsadbench`; its folders must never be importable as
# top-level packages (our `datasets` would shadow the Hugging Face one), so drop the script's
# own folder from the import path before anything else is imported.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime as dt  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

from tsadbench.datasets.canonical import DatasetFormatError  # noqa: E402
from tsadbench.datasets.preprocessing import NAN_POLICIES  # noqa: E402
from tsadbench.datasets.registry import ENTITY_POLICIES, UnknownDatasetError, resolve_data_root  # noqa: E402
from tsadbench.datasets.windows import WindowTooLongError  # noqa: E402
from tsadbench.search_spaces import SearchSpaceError  # noqa: E402
from tsadbench.search_spaces.safe_yaml import load_yaml_text  # noqa: E402
from tsadbench.tuning.grids import GRIDS, UnknownGridError, get_grid  # noqa: E402
from tsadbench.tuning.long_lived import freeze_long_lived_objects, skip_exit_collection  # noqa: E402
from tsadbench.tuning.objectives import OBJECTIVES, PROTOCOL_MODES, UnknownObjectiveError  # noqa: E402
from tsadbench.tuning.run_files import COMMAND_FILE, RunFolderError, read_run_command, write_run_files  # noqa: E402
from tsadbench.tuning.validation import FlagError, check_numeric_flags, confined_run_folder  # noqa: E402
from tsadbench.zoo import UnknownModelError  # noqa: E402
from tsadbench.zoo.base import PRECISIONS, ModelConfigError  # noqa: E402

USER_ERRORS = (UnknownModelError, UnknownDatasetError, UnknownGridError, UnknownObjectiveError, SearchSpaceError,
               DatasetFormatError, WindowTooLongError, ModelConfigError, FileNotFoundError, ValueError)
DEFAULT_STORAGE = Path("ray_results")
# What a resumed run may change: where and how Ray runs, never what the run computes.
RESUME_MAY_CHANGE = ("address", "num_cpus", "no_dashboard", "dashboard_host", "shared_storage", "resume", "name",
                     "storage", "trust_run")
EXIT_STORAGE_FULL = 75  # EX_TEMPFAIL: free space, then --resume
EXIT_ALL_FAILED = 1


class OneLineParser(argparse.ArgumentParser):
    """argparse with its errors on one line, like every other refusal of this command."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _fixed_value(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}'")
    try:
        parsed = load_yaml_text(value, f"--fix {key.strip()}")
    except yaml.YAMLError as error:
        problem = str(error).splitlines()[0]
        raise argparse.ArgumentTypeError(f"{key.strip()}: {value!r} is not a plain value ({problem}): "
                                         "write a number, true/false, a [list] or text") from None
    return key.strip(), _number_if_numeric(parsed)


def _number_if_numeric(value: object) -> object:
    """YAML 1.1 reads `1e-4` (no dot) as text; a user writing it means the number."""
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                continue
    return value


def _vus_window(text: str) -> int | str:
    if text == "period":
        return text
    try:
        window = int(text)
    except ValueError:
        window = -1
    if window < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of points (>= 0) or 'period'")
    return window


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="orchestrate.py", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", help=f"which grid: {', '.join(GRIDS)} (not needed with --resume)")
    parser.add_argument("--models", type=_names, help="comma-separated models (default: the grid's)")
    parser.add_argument("--datasets", type=_names,
                        help="comma-separated datasets: NAME (all entities, concatenated) or NAME/ENTITY")
    parser.add_argument("--plugin", dest="plugins", action="append", default=[], metavar="PATH_OR_MODULE",
                        help="load your own detector: a .py file, a folder or an importable module that registers "
                             "it with @register (repeatable); its search space is <model>.yaml beside it")
    parser.add_argument("--search-spaces", dest="search_space_dirs", type=Path, action="append", default=[],
                        metavar="DIR", help="a folder of <model>.yaml files, used before the plug-ins' and the "
                                            "built-in ones (repeatable)")
    parser.add_argument("--num-samples", type=int, help="trials per (model, dataset)")
    parser.add_argument("--max-concurrent", type=int, help="trials running at once per experiment")
    parser.add_argument("--max-concurrent-experiments", type=int,
                        help="experiments (Tune runs) running side by side on the cluster (default: no limit; "
                             "Ray packs the trials of all of them)")
    parser.add_argument("--cpus-per-trial", type=float, help="override every model's declared CPUs per trial")
    parser.add_argument("--gpus-per-trial", type=float,
                        help="override every model's declared GPUs per trial; fractions pack trials on a GPU")
    parser.add_argument("--protocol", default="paper", choices=sorted(PROTOCOL_MODES),
                        help="paper: each model's repository threshold protocol, tuned on test-label PA-F1 "
                             "(oracle, as the papers do; the default); clean: threshold, early stopping and "
                             "objective from train/validation only")
    parser.add_argument("--objective", choices=sorted(OBJECTIVES),
                        help="what Optuna optimises and ASHA compares (default: pa_f1 under paper, val_loss under clean)")
    parser.add_argument("--seeds", type=int, default=0,
                        help="retrain each experiment's best configuration with N seeds for mean ± std tables")
    parser.add_argument("--no-untrained-copies", dest="untrained_copies", action="store_false",
                        help="skip the untrained copy of each learning model's best configuration (Kim et al. "
                             "2022), scored beside it to show what point adjustment gives an untrained network")
    parser.add_argument("--fix", type=_fixed_value, action="append", default=[], metavar="KEY=VALUE",
                        help="fix a hyperparameter for every model that has it (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs-cap", type=int, help="at most this many epochs per trial (shrinks any grid)")
    parser.add_argument("--max-windows-per-epoch", type=int,
                        help="train each epoch on a random subset of this many windows (shrinks any grid)")
    parser.add_argument("--eval-every", type=int, default=1, metavar="K",
                        help="score and evaluate every K-th epoch only (default 1: every epoch); ASHA's milestones, "
                             "the last planned epoch and a restored early-stopping epoch are always evaluated, and "
                             "the tables use evaluated epochs only")
    parser.add_argument("--storage", type=Path, default=DEFAULT_STORAGE, help="where experiments are written")
    parser.add_argument("--shared-storage", action="store_true",
                        help="confirm that --storage is mounted at the same path on every node of the cluster")
    parser.add_argument("--name", help="run folder under --storage (default: GRID-<timestamp>)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run --name (default: the newest run under --storage) with the "
                             "arguments it was started with; complete experiments are skipped, interrupted "
                             "ones restored")
    parser.add_argument("--trust-run", action="store_true",
                        help="with --resume: sign a run folder this account did not create (yours from another "
                             "machine, or from before signatures); resuming restores Ray's pickled state from it")
    parser.add_argument("--data-root", help="canonical dataset store (default: $TSAD_DATA_ROOT)")
    parser.add_argument("--nan-policy", default="error", choices=NAN_POLICIES)
    parser.add_argument("--entity-policy", default="concatenated", choices=ENTITY_POLICIES,
                        help="a dataset NAME as all its entities end to end (the papers) or one experiment per entity")
    parser.add_argument("--vus-window", type=_vus_window, default=100, metavar="{N,period}",
                        help="VUS buffer: N points (default 100, TSB-AD's get_metrics) or 'period', the series' "
                             "period as TSB-AD's leaderboard uses it (leaderboard-comparable VUS)")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="forward passes in fp32 (default) or bf16 autocast, for the PyTorch models; "
                             "others run as always (recorded in each experiment's provenance)")
    parser.add_argument("--time-budget", type=float, help="seconds per experiment before Tune stops it")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (experiments, trials, epochs, slots, estimated wall time and CPU/GPU-hours) "
                             "and exit without running a trial")
    parser.add_argument("--no-estimate", dest="estimate", action="store_false",
                        help="skip the calibration epochs behind the plan's time estimate (a few seconds per model)")
    parser.add_argument("--address", help="join an existing Ray cluster (e.g. HEAD:6379 or auto)")
    parser.add_argument("--num-cpus", type=int, help="CPUs of the embedded local cluster (default: all)")
    parser.add_argument("--no-dashboard", action="store_true", help="start the local cluster without dashboard")
    parser.add_argument("--dashboard-host", default="127.0.0.1",
                        help="interface of the local dashboard (default 127.0.0.1; 0.0.0.0 exposes it)")
    return parser


def _given_arguments(raw: list[str]) -> dict[str, object]:
    """Only the arguments written on the command line (defaults left out)."""
    parser = build_parser()
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    return vars(parser.parse_args(raw))


def _resumed_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace, raw: list[str],
                       storage: Path) -> argparse.Namespace:
    """The arguments the run to resume was started with (its signed folder keeps them), then the
    ones given now, which may only change where and how Ray runs (e.g. another --address)."""
    if args.name:
        folder = confined_run_folder(storage, args.name)
    else:
        runs = sorted((p for p in storage.glob(f"*/{COMMAND_FILE}")), key=lambda p: p.stat().st_mtime)
        if not runs:
            raise FileNotFoundError(f"no earlier run under {storage} to resume (pass --storage or --name)")
        folder = runs[-1].parent
    if not folder.is_dir():
        raise FileNotFoundError(f"no run {folder} to resume: check --name and --storage")
    original = read_run_command(folder, trust=args.trust_run)
    stored = vars(parser.parse_args(original))
    flags = {action.dest: action.option_strings[0] for action in parser._actions if action.option_strings}
    differences = [f"{flags[dest]} {value!r} (the run has {stored.get(dest)!r})"
                   for dest, value in _given_arguments(raw).items()
                   if dest not in RESUME_MAY_CHANGE and value != stored.get(dest)]
    if differences:
        raise FlagError(f"--resume continues {folder.name} with its own arguments, but these differ: "
                        f"{'; '.join(differences)}. Leave them out to resume, or start a new run with another --name")
    return parser.parse_args(original + raw + ["--name", folder.name, "--storage", str(storage)])


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    raw = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(raw)
    try:
        storage = args.storage.expanduser().resolve()
        if args.resume:
            args = _resumed_arguments(parser, args, raw, storage)
        elif not args.grid:
            raise FlagError(f"--grid is required: one of {', '.join(GRIDS)}")
        check_numeric_flags(vars(args))
        if not args.name:
            args.name = f"{args.grid}-{dt.datetime.now():%Y%m%d-%H%M%S}"
        confined_run_folder(storage, args.name)
        from tsadbench.tuning.runner import GridRequest, plan_grid

        request = GridRequest(
            grid=get_grid(args.grid), storage=storage, run_name=args.name, models=args.models,
            datasets=args.datasets, num_samples=args.num_samples, max_concurrent=args.max_concurrent,
            max_concurrent_experiments=args.max_concurrent_experiments,
            cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial, protocol=args.protocol,
            objective=args.objective, seed=args.seed, seeds=args.seeds, epochs_cap=args.epochs_cap,
            max_windows_per_epoch=args.max_windows_per_epoch, eval_every=args.eval_every, fixed=dict(args.fix), data_root=resolve_data_root(args.data_root),
            nan_policy=args.nan_policy, entity_policy=args.entity_policy, time_budget_s=args.time_budget,
            untrained_copies=args.untrained_copies, plugins=tuple(args.plugins),
            search_space_dirs=tuple(args.search_space_dirs), vus_window=args.vus_window,
            precision=args.precision,
        )
        plan = plan_grid(request)
        if not args.resume and not args.dry_run:
            _create_run_folder(request.grid_dir, raw)
    except (*USER_ERRORS, RunFolderError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    if args.dry_run:
        return _dry_run(plan, args)
    return _run(plan, args, parser)


def _create_run_folder(folder: Path, raw: list[str]) -> None:
    """Write the run's signed command file; an unwritable --storage is a user error."""
    try:
        write_run_files(folder, raw)
    except OSError as error:
        raise FlagError(f"cannot write the run folder {folder}: {error.strerror or error}: "
                        "choose a --storage you can write to") from None


def _print_plan(plan, cluster_resources: dict[str, float], measure):
    """Print the plan table (and the estimate, when `measure` times the experiments); returns the
    `GridEstimate`."""
    from tsadbench.tuning.estimate import estimate_grid, plan_lines

    found = estimate_grid(plan.experiments, plan.datasets, cluster_resources, measure)
    print("\n".join(plan_lines(found)))
    return found


def _dry_run(plan, args: argparse.Namespace) -> int:
    """The plan on the cluster the run would use (this machine unless --address), then exit."""
    from tsadbench.tuning.cluster import local_resources, start_ray, stop_ray
    from tsadbench.tuning.estimate import calibrate, not_measured
    from tsadbench.tuning.runner import fit_to_cluster

    if args.address:
        try:
            resources = start_ray(args.address, dashboard=False).resources
        finally:
            stop_ray()
    else:
        resources = local_resources(args.num_cpus)
    print(f"grid '{plan.request.grid.name}': {len(plan.experiments)} experiment(s) -> {plan.request.grid_dir} (dry run)")
    for note in plan.notes + fit_to_cluster(plan, resources):
        print(f"note: {note}")
    _print_plan(plan, resources, calibrate if args.estimate else not_measured)
    return 0


def _run(plan, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from tsadbench.results.figure_helper import FigureHelper

    grid_dir = plan.request.grid_dir
    print(f"grid '{plan.request.grid.name}': {len(plan.experiments)} experiment(s) -> {grid_dir}")
    for note in plan.notes:
        print(f"note: {note}")
    if plan.missing_benchmarks:
        print(f"not found under the data root: {', '.join(plan.missing_benchmarks)} "
              "(see `python -m tsadbench.datasets prepare`)")
    # The helper imports its plotting stack while Ray starts, and draws figures beside the report.
    with FigureHelper.start() or contextlib.nullcontext() as helper:
        return _run_on_cluster(plan, args, parser, helper)


def _write_report(grid_dir: Path, helper) -> dict[str, Path]:
    from tsadbench.results.report import write_report  # imported only now: the run's start stays light

    return write_report(grid_dir, helper=helper)


def _run_on_cluster(plan, args: argparse.Namespace, parser: argparse.ArgumentParser, helper) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from tsadbench.tuning.cluster import start_ray, stop_ray, storage_problem
    from tsadbench.tuning.estimate import BackgroundCalibration, not_measured
    from tsadbench.tuning.run_files import is_storage_full
    from tsadbench.tuning.runner import fit_to_cluster, run_grid

    grid_dir = plan.request.grid_dir
    cluster = start_ray(args.address, dashboard=not args.no_dashboard, dashboard_host=args.dashboard_host,
                        num_cpus=args.num_cpus)
    # Only now: starting Ray writes this process's environment (ours and `ray.init`'s own variables),
    # and a write that adds a variable while another thread reads the environment can crash the
    # process (seen: a segfault in glibc's getenv, in the calibration thread, 2 s into `make smoke`).
    calibration = BackgroundCalibration(plan.experiments, plan.datasets) if args.estimate else None
    freeze_long_lived_objects()  # Ray, Tune, torch and the data are imported and loaded for the whole run
    try:
        problem = storage_problem(str(plan.request.storage), cluster.nodes, args.shared_storage)
        if problem:
            stop_ray()
            parser.exit(2, f"{parser.prog}: error: {problem}\n")
        print(f"Ray cluster {cluster.address}: {cluster.nodes} node(s), {cluster.resources.get('CPU', 0):g} CPU, "
              f"{cluster.resources.get('GPU', 0):g} GPU")
        for note in fit_to_cluster(plan, cluster.resources):
            print(f"note: {note}")
        if cluster.dashboard_url:
            print(f"Ray dashboard: {cluster.dashboard_url}" + (f" ({cluster.token_hint})" if cluster.token_hint else ""))
        estimate = _print_plan(plan, cluster.resources, calibration.measure if calibration else not_measured)
        outcomes = run_grid(plan, estimate_s=estimate.wall_s if estimate.calibrated else None,
                            work_s={cost.name: cost.work_s for cost in estimate.experiments})
        # The tables and figures need only the files on disk: they are drawn while Ray shuts down.
        drawing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report")
        report = drawing.submit(_write_report, grid_dir, helper)
        drawing.shutdown(wait=False)
    except OSError as error:
        if not is_storage_full(error):
            raise
        print(f"{parser.prog}: error: no space left on the device of {grid_dir}: the grid stopped; every finished "
              f"trial is kept. Free space, then continue with  python orchestrate.py --resume --name "
              f"{grid_dir.name} --storage {grid_dir.parent}", file=sys.stderr)
        return EXIT_STORAGE_FULL
    finally:
        stop_ray()
    written = report.result()
    interrupted = [o for o in outcomes if o.status == "interrupted"]
    trials, failed = sum(o.trials for o in outcomes), sum(o.errors for o in outcomes)
    print(f"trials: {trials} run, {failed} failed")
    print(f"tables: {written['main.md'].parent} (main.md/.tex/.csv, honest.*, published.*, records.csv, trials.csv)")
    print(f"report: {written['report.html']}")
    if interrupted or len(outcomes) < len(plan.experiments):
        print(f"interrupted: continue with  python orchestrate.py --resume --name {grid_dir.name} "
              f"--storage {grid_dir.parent}")
        return 130
    if trials and failed == trials:
        print(f"{parser.prog}: error: every trial failed ({failed} of {trials}); their errors are in "
              f"{written['main.md'].parent / 'trials.csv'}", file=sys.stderr)
        return EXIT_ALL_FAILED
    return 0


if __name__ == "__main__":
    exit_code = main()
    skip_exit_collection()
    sys.exit(exit_code)
