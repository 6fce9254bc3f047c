"""Protocol modes and tuning objectives.

A *protocol mode* says which threshold protocol heads the tables: `paper` uses each model's
repository protocol (declared as `paper_protocol` in its search space), `clean` a threshold from
the validation split alone. Every trial also reports the oracle best-F1 and the clean protocol
beside the headline, so both readings exist for every run.

An *objective* is what OptunaSearch optimises and ASHA compares; each says whether it reads test
labels. A configuration chosen by an objective that reads test labels makes every number of that
trial an `oracle` number, and the results say so.
"""
from __future__ import annotations

import dataclasses

from .trial import protocol_key

CLEAN_PROTOCOL = "val-percentile"
ORACLE_PROTOCOL = "best-f1"


@dataclasses.dataclass(frozen=True)
class ProtocolMode:
    """Which threshold protocol heads the tables, and the objective used unless one is asked for."""

    name: str
    default_objective: str
    description: str

    def headline(self, paper_protocol: str) -> str:
        """The headline threshold protocol of a model whose repository uses `paper_protocol`."""
        return paper_protocol if self.name == "paper" else CLEAN_PROTOCOL

    def reported(self, paper_protocol: str) -> tuple[str, ...]:
        """Every protocol a trial reports: the headline first, then the oracle, the clean and the
        paper protocol (the same set in both modes, so either reading exists for every run)."""
        return tuple(dict.fromkeys((self.headline(paper_protocol), ORACLE_PROTOCOL, CLEAN_PROTOCOL, paper_protocol)))


PROTOCOL_MODES: dict[str, ProtocolMode] = {
    mode.name: mode
    for mode in (
        ProtocolMode("paper", "pa_f1", "each model's repository threshold protocol and a PA-F1 objective on test "
                                       "labels, as the papers do (every number is marked oracle)"),
        ProtocolMode("clean", "val_loss", "threshold, early stopping and objective from train/validation only; "
                                          "test labels used for reporting alone"),
    )
}


@dataclasses.dataclass(frozen=True)
class Objective:
    """A reported metric (a flattened report key), its direction and the data it reads."""

    name: str
    metric: str
    mode: str
    split: str
    uses_test_labels: bool
    description: str


@dataclasses.dataclass(frozen=True)
class ObjectiveSpec:
    """An objective whose metric may name the headline protocol (`{headline}`)."""

    name: str
    metric: str
    mode: str
    split: str
    uses_test_labels: bool
    description: str

    def bind(self, headline: str) -> Objective:
        """The objective for an experiment whose headline threshold protocol is `headline`."""
        return Objective(self.name, self.metric.format(headline=protocol_key(headline)), self.mode, self.split,
                         self.uses_test_labels, self.description.format(headline=headline))


OBJECTIVES: dict[str, ObjectiveSpec] = {
    spec.name: spec
    for spec in (
        ObjectiveSpec("val_loss", "val_loss", "min", "val", False,
                      "the model's training objective on the validation tail of train (label-free)"),
        ObjectiveSpec("pa_f1", "{headline}/pa_f1", "max", "test", True,
                      "F1 after point adjustment at the {headline} threshold, on test labels (oracle)"),
        ObjectiveSpec("oracle_pa_f1", f"{protocol_key(ORACLE_PROTOCOL)}/pa_f1", "max", "test", True,
                      "best F1 after point adjustment over all thresholds, on test labels (oracle)"),
    )
}


class UnknownObjectiveError(KeyError):
    """An objective or protocol-mode name that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def get_objective(name: str) -> ObjectiveSpec:
    """The objective registered as `name`."""
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise UnknownObjectiveError(
            f"unknown objective '{name}': known objectives are {', '.join(OBJECTIVES)}"
        ) from None


def get_protocol_mode(name: str) -> ProtocolMode:
    """The protocol mode registered as `name`."""
    try:
        return PROTOCOL_MODES[name]
    except KeyError:
        raise UnknownObjectiveError(
            f"unknown protocol '{name}': known protocols are {', '.join(PROTOCOL_MODES)}"
        ) from None
