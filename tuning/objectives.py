"""Tuning objectives: what OptunaSearch optimises and ASHA compares, each saying whether it reads
test labels. A configuration chosen by an objective that reads test labels makes every number of
that trial an `oracle` number, and the results say so.
"""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Objective:
    """A reported metric (a flattened report key), its direction and its data."""

    name: str
    metric: str
    mode: str
    split: str
    uses_test_labels: bool
    description: str


OBJECTIVES: dict[str, Objective] = {
    objective.name: objective
    for objective in (
        Objective("val_loss", "val_loss", "min", "val", False,
                  "the model's training objective on the validation tail of train (label-free)"),
        Objective("oracle_pa_f1", "best_f1/pa_f1", "max", "test", True,
                  "best F1 after point adjustment over all thresholds, on test labels (oracle)"),
        Objective("at_compat_pa_f1", "at_compat/pa_f1", "max", "test", True,
                  "F1 after point adjustment at the at-compat threshold, on test labels (oracle)"),
    )
}


class UnknownObjectiveError(KeyError):
    """An objective name that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def get_objective(name: str) -> Objective:
    """The objective registered as `name`."""
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise UnknownObjectiveError(
            f"unknown objective '{name}': known objectives are {', '.join(OBJECTIVES)}"
        ) from None
