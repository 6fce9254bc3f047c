"""From stored arrays to what a trial trains on: NaN policy, entity policy, validation split and
normalisation. Statistics are fitted on the training split only, never on test.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from .canonical import EntityArrays

NAN_POLICIES = ("error", "zero", "ffill")


@dataclasses.dataclass(frozen=True)
class PreparedData:
    """Normalised float32 splits of one dataset and how they were made.

    `train` is the training split without its validation tail, `val` is that tail (assumed
    normal, label-free), `test`/`labels` the test split. `provenance` records every choice.
    `train_entity_lengths` (of train and val together) and `test_entity_lengths` say where each
    concatenated entity lies, in order.
    """

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    labels: np.ndarray
    provenance: dict[str, Any]
    train_entity_lengths: tuple[int, ...] = ()
    test_entity_lengths: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.train_entity_lengths:
            object.__setattr__(self, "train_entity_lengths", (self.train.shape[0] + self.val.shape[0],))
        if not self.test_entity_lengths:
            object.__setattr__(self, "test_entity_lengths", (self.test.shape[0],))

    @property
    def n_channels(self) -> int:
        return self.test.shape[1]

    @property
    def shortest_split(self) -> int:
        """Length of the shortest split: the longest window every split can hold."""
        return min(self.train.shape[0], self.val.shape[0], self.test.shape[0])


def apply_nan_policy(values: np.ndarray, policy: str, source: str) -> np.ndarray:
    """Return `values` without NaN/inf under `policy`, or raise naming `source` and the fix."""
    if policy not in NAN_POLICIES:
        raise ValueError(f"unknown NaN policy '{policy}'; choose one of {NAN_POLICIES}")
    bad = ~np.isfinite(values)
    if not bad.any():
        return values
    if policy == "error":
        raise ValueError(
            f"{source} contains {int(bad.sum())} NaN/infinite values; choose a NaN policy "
            f"(--nan-policy zero, as the Anomaly-Transformer code does for PSM, or ffill)"
        )
    values = np.where(bad, np.nan, values).astype(np.float64)
    if policy == "ffill":
        index = np.where(~np.isnan(values), np.arange(values.shape[0])[:, None], 0)
        np.maximum.accumulate(index, axis=0, out=index)
        values = values[index, np.arange(values.shape[1])]
    return np.nan_to_num(values, nan=0.0)


def concatenate_entities(entities: Sequence[EntityArrays]) -> EntityArrays:
    """The papers' "concatenated" entity policy: all entities end to end, in the given order."""
    channels = {e.train.shape[1] for e in entities}
    if len(channels) != 1:
        raise ValueError(f"cannot concatenate entities with different channel counts {sorted(channels)}")
    first = entities[0]
    if len(entities) == 1:
        return first
    return EntityArrays(first.dataset, "+".join(e.entity for e in entities),
                        np.concatenate([e.train for e in entities]), np.concatenate([e.test for e in entities]),
                        np.concatenate([e.labels for e in entities]))


def prepare(name: str, entities: Sequence[EntityArrays], *, val_fraction: float = 0.2,
            nan_policy: str = "error", entity_policy: str = "concatenated") -> PreparedData:
    """Concatenate `entities`, apply the NaN policy, split off the validation tail of train and
    standardise every split with per-channel mean and std fitted on the training split.

    A constant training channel has std 0 and is only centred (divided by 1).
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    whole = concatenate_entities(entities)
    if not whole.labels.any():
        raise ValueError(f"{name}: the test split has no anomalous point, so no detection metric is defined; "
                         "leave this dataset or entity out")
    if whole.labels.all():
        raise ValueError(f"{name}: every test point is labelled anomalous, so no detection metric is defined; "
                         "check the labels (1 = anomalous) or leave this dataset or entity out")
    train = apply_nan_policy(whole.train, nan_policy, f"{name} train")
    test = apply_nan_policy(whole.test, nan_policy, f"{name} test")
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    n_val = int(round(train.shape[0] * val_fraction))
    if n_val < 1 or n_val >= train.shape[0]:
        raise ValueError(f"{name}: a validation fraction of {val_fraction} of {train.shape[0]} rows leaves an empty split")

    def scale(values: np.ndarray) -> np.ndarray:
        scaled = values.astype(np.float32, copy=True)
        scaled -= mean.astype(np.float32)
        scaled /= std.astype(np.float32)
        return scaled

    provenance = {
        "dataset": name,
        "entities": [e.entity for e in entities],
        "entity_policy": entity_policy,
        "scaler": "standard",
        "scaler_fitted_on": "train",
        "val_split": f"last {val_fraction:.0%} of train",
        "nan_policy": nan_policy,
        "nan_count": int((~np.isfinite(whole.train)).sum() + (~np.isfinite(whole.test)).sum()),
        "n_channels": int(train.shape[1]),
        "train_rows": int(train.shape[0] - n_val),
        "val_rows": n_val,
        "test_rows": int(test.shape[0]),
        "anomaly_ratio": float(whole.labels.mean()),
    }
    return PreparedData(name, scale(train[:-n_val]), scale(train[-n_val:]), scale(test),
                        whole.labels.astype(np.uint8), provenance,
                        tuple(int(e.train.shape[0]) for e in entities), tuple(int(e.test.shape[0]) for e in entities))
