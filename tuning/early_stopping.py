"""Early stopping as the repositories do it: patience and min_delta on a validation loss, the best
epoch's state kept and restored for the final scoring.

The Anomaly-Transformer family's `EarlyStopping` (thuml/Anomaly-Transformer `solver.py`, and the
TransMamba and STformer copies) counts an epoch as bad unless its loss is at most best - min_delta,
saves a checkpoint at every improvement and stops after `patience` bad epochs in a row; the test
loop then loads the saved (best) checkpoint. `EarlyStopping` here does the same on one scalar,
the model's `validation_loss`, on the split the protocol names (`monitored_split`).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..zoo.base import AnomalyDetector, ModelConfigError

#: Where a patience run monitors its loss: the repository's split under `--protocol paper`
#: (the Anomaly-Transformer family validates on the test split: label-free but transductive),
#: the validation split under `--protocol clean`.
SPLITS = ("val", "test")


def monitored_split(model_cls: type[AnomalyDetector], dataset: str, protocol_mode: str) -> str:
    """The split early stopping watches for this model, dataset and protocol mode."""
    if protocol_mode == "paper" and model_cls.recipe is not None:
        return model_cls.recipe.monitored_split(dataset)
    return "val"


@dataclasses.dataclass
class EarlyStopping:
    """Patience bookkeeping for one trial; `state()` / `from_state` carry it across a resume."""

    patience: int
    min_delta: float
    split: str
    best_loss: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    stop_reason: str | None = None
    best_model: dict[str, Any] | None = None
    best_train_stats: dict[str, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.patience < 1 or self.min_delta < 0 or self.split not in SPLITS:
            raise ModelConfigError(
                f"early stopping needs patience >= 1, min_delta >= 0 and a split in {SPLITS}; got patience="
                f"{self.patience}, min_delta={self.min_delta}, split={self.split!r}"
            )

    def update(self, epoch: int, loss: float, model: AnomalyDetector, train_stats: dict[str, float]) -> None:
        """Count epoch `epoch` with monitored `loss`; keep the model's state when it improves."""
        if loss <= self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.bad_epochs = loss, epoch, 0
            self.best_model = model.state_dict()
            self.best_train_stats = dict(train_stats)
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                self.stop_reason = "patience"

    def record(self, loss: float) -> dict[str, Any]:
        """What every epoch's report says about early stopping."""
        return {"split": self.split, "patience": self.patience, "min_delta": self.min_delta,
                "monitored_loss": loss, "best_epoch": self.best_epoch, "best_loss": self.best_loss,
                "bad_epochs": self.bad_epochs, "stop_reason": self.stop_reason}

    def state(self) -> dict[str, Any]:
        """A checkpointable copy (the best state included)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "EarlyStopping":
        return cls(**state)


def describe(model_cls: type[AnomalyDetector], dataset: str, protocol_mode: str, fixed: dict[str, Any]) -> str:
    """One line for the experiment metadata and the tables' notes: the patience rule in force."""
    recipe = model_cls.recipe
    patience = fixed.get("patience", recipe.patience if recipe is not None else None)
    if patience is None:
        return "no patience: every planned epoch is trained and the last one reported"
    min_delta = fixed.get("min_delta", recipe.min_delta if recipe is not None else 0.0)
    split = monitored_split(model_cls, dataset, protocol_mode)
    where = "test split: label-free but transductive, as the repository" if split == "test" else "validation split"
    return (f"patience {patience}, min_delta {min_delta} on the validation loss of the {where}; "
            "the best epoch is restored and reported")
