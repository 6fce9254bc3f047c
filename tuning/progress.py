"""A terse live view in the terminal: one line per finished or failed trial."""
from __future__ import annotations

from typing import Any, Callable

from ray import tune


class TrialLinePrinter(tune.Callback):
    """Prints `[experiment] trial N ended: ...` with the objective and the headline metrics."""

    def __init__(self, experiment: str, objective_metric: str, printer: Callable[[str], None] = print):
        self.experiment = experiment
        self.objective_metric = objective_metric
        self.printer = printer
        self.ended = 0

    def _line(self, trial: Any, status: str) -> str:
        self.ended += 1
        result = trial.last_result or {}
        at = result.get("at_compat", {}) if isinstance(result.get("at_compat"), dict) else {}
        oracle = result.get("best_f1", {}) if isinstance(result.get("best_f1"), dict) else {}
        objective = result.get(self.objective_metric, _nested(result, self.objective_metric))
        parts = [f"[{self.experiment}] trial {self.ended} {status} after {result.get('epoch', 0)} epoch(s)"]
        if objective is not None:
            parts.append(f"{self.objective_metric}={objective:.4g}")
        if "pa_f1" in at:
            parts.append(f"PA-F1@at-compat={at['pa_f1']:.3f} F1={at['f1']:.3f}")
        if "pa_f1" in oracle:
            parts.append(f"oracle best PA-F1={oracle['pa_f1']:.3f}")
        return "  ".join(parts)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.printer(self._line(trial, "done"))

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.printer(self._line(trial, "FAILED") + f"  (error kept in {trial.path})")


def _nested(result: dict, flat_key: str) -> Any:
    node: Any = result
    for part in flat_key.split("/"):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
