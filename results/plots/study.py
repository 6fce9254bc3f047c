"""Each study's optimisation history and parameter importances, drawn by Optuna's own matplotlib
visualisation from an in-memory study rebuilt from the stored trial records (Ray's OptunaSearch
study itself is not kept on disk)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import matplotlib
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState
from optuna.visualization import matplotlib as optuna_plots

from ..marks import ORACLE
from ..records import TrialRecord, flat_value
from ..select import Selection, objective_value
from .common import WrittenFigure, integer_axis, safe_stem, save

optuna.logging.set_verbosity(optuna.logging.WARNING)

#: Importances from fewer finished trials would be noise.
MIN_IMPORTANCE_TRIALS = 4


def _encode(value: Any) -> Any:
    """Optuna's side of a value: lists and dicts as JSON strings, as the search space suggests them."""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def distributions(space: dict[str, dict[str, Any]], trials: list[TrialRecord]) -> dict[str, BaseDistribution]:
    """Optuna distributions of the searched parameters (categorical ones extended by any value seen)."""
    result: dict[str, BaseDistribution] = {}
    for name, spec in space.items():
        if spec["type"] == "categorical":
            seen = [_encode(t.config[name]) for t in trials if name in t.config]
            result[name] = CategoricalDistribution(list(dict.fromkeys([_encode(c) for c in spec["choices"]] + seen)))
        elif spec["type"] == "int":
            result[name] = IntDistribution(int(spec["low"]), int(spec["high"]), log=bool(spec.get("log")),
                                           step=int(spec.get("step") or 1))
        else:
            result[name] = FloatDistribution(float(spec["low"]), float(spec["high"]), log=bool(spec.get("log")),
                                             step=spec.get("step"))
    return result


def _params(trial: TrialRecord, dists: dict[str, BaseDistribution]) -> dict[str, Any]:
    """The trial's values of the searched parameters that lie in their distribution (a trial that failed
    on an invalid value keeps the others)."""
    params = {}
    for name, dist in dists.items():
        if name in trial.config:
            value = _encode(trial.config[name])
            if _inside(dist, value):
                params[name] = value
    return params


def _inside(dist: BaseDistribution, value: Any) -> bool:
    if isinstance(dist, CategoricalDistribution):
        return value in dist.choices
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not dist.low <= value <= dist.high:
        return False
    step = getattr(dist, "step", None)
    return step is None or abs((value - dist.low) / step - round((value - dist.low) / step)) < 1e-8


def _started(trial: TrialRecord) -> float:
    """When the trial started: its first report's time less its run time, else its params file's time."""
    if trial.epochs and "timestamp" in trial.epochs[0]:
        return float(trial.epochs[0]["timestamp"]) - float(trial.epochs[0].get("time_total_s", 0.0))
    return (trial.trial_dir / "params.json").stat().st_mtime


def rebuild_study(selection: Selection) -> optuna.Study | None:
    """The search as an Optuna study: finished trials COMPLETE (value at their last epoch, every epoch as
    an intermediate value), failed ones FAIL; None when no trial finished."""
    objective = selection.objective
    trials = sorted((t for t in selection.search_trials if t.status != "NO_RESULT"), key=_started)
    space = selection.meta.get("search_space", {}).get("params", {})
    dists = distributions(space, trials)
    frozen = []
    for trial in trials:
        params = _params(trial, dists)
        value = objective_value(trial, objective["metric"])
        steps = {int(r.get("epoch", i + 1)): float(v) for i, r in enumerate(trial.epochs)
                 if isinstance(v := flat_value(r, objective["metric"]), (int, float)) and not isinstance(v, bool)}
        frozen.append(optuna.trial.create_trial(
            state=TrialState.COMPLETE if value is not None else TrialState.FAIL, value=value, params=params,
            distributions={name: dists[name] for name in params}, intermediate_values=steps,
            user_attrs={"trial": trial.trial_dir.name}))
    if not any(t.state == TrialState.COMPLETE for t in frozen):
        return None
    study = optuna.create_study(direction="maximize" if objective["mode"] == "max" else "minimize",
                                study_name=selection.meta["experiment"])
    study.add_trials(frozen)
    return study


def _varied(study: optuna.Study) -> list[str]:
    """Parameters that take more than one value over the finished trials."""
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    names = dict.fromkeys(name for trial in complete for name in trial.params)
    return [name for name in names if len({trial.params.get(name) for trial in complete}) > 1]


def study_figures(selection: Selection, label: str, out: Path) -> tuple[list[WrittenFigure], list[str]]:
    """The optimisation history and, with enough finished trials, the parameter importances; and a
    note for each figure that could not be drawn."""
    study = rebuild_study(selection)
    name = f"{label} on {selection.dataset}"
    if study is None:
        return [], [f"optimisation history of {name}: no finished trial"]
    oracle = selection.objective_uses_test_labels
    metric = selection.objective["metric"] + ORACLE.symbol * oracle
    complete = len(study.get_trials(states=(TrialState.COMPLETE,)))
    stem = safe_stem(selection.meta["experiment"])
    marked = f"; {ORACLE.symbol} the objective reads the test labels." if oracle else "."
    # Optuna's plots switch the global style to ggplot: rc_context restores it afterwards.
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        ax = optuna_plots.plot_optimization_history(study, target_name=metric)
        ax.set_title(f"Optimisation history: {name}", fontsize=10)
        integer_axis(ax)
        # Optuna puts the legend right of the axes; below them it squeezes nothing sideways.
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=2, fontsize=8, frameon=False)
        figures = [save(ax.figure, out, f"history_{stem}", "Studies", f"History: {name}",
                        f"Objective {metric} ({selection.objective['mode']}) of each finished trial of {name} at its "
                        f"last epoch, in start order, and the best so far ({complete} finished, "
                        f"{len(study.trials) - complete} failed; Optuna's plot_optimization_history){marked}")]
        varied = _varied(study)
        if complete < MIN_IMPORTANCE_TRIALS or not varied:
            return figures, [f"parameter importances of {name}: {complete} finished trial(s) and {len(varied)} "
                             f"varied parameter(s); they need at least {MIN_IMPORTANCE_TRIALS} and 1"]
        ax = optuna_plots.plot_param_importances(study, target_name=metric)
        ax.set_title("", loc="left")
        ax.set_title(f"Parameter importances: {name}", fontsize=10)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, frameon=False)
        figures.append(save(ax.figure, out, f"importance_{stem}", "Studies", f"Importances: {name}",
                            f"Importance of each searched parameter for {metric} over the {complete} finished "
                            f"trials of {name} (Optuna's default evaluator, PED-ANOVA; plot_param_importances)"
                            f"{marked}"))
    return figures, []
