"""Cut a concatenated dump (`SMD_train.npy`, `SMAP_test.npy`, ...) back into its published
entities, when the entity boundaries are known (`entities.KNOWN`) and the dump agrees with them.

A dump agrees with an entity order when its train and test rows and its channels are those of
the published entities and every entity's slice of the labels holds exactly its published
number of anomalous steps; the first order that agrees is used. Orders tried: SMAP/MSL channels
sorted by name as text (OmniAnomaly's preprocessing, which the common dumps come from: checked
bit for bit on SMAP), then telemanom's csv order; SMD machines in numeric order, then as text.
"""
from __future__ import annotations

import re

import numpy as np

from ..canonical import EntityArrays
from .entities import CHANNELS, KNOWN, KnownEntity


def _numeric(entity: KnownEntity) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", entity.name))


def orders(dataset: str) -> dict[str, tuple[KnownEntity, ...]]:
    """The entity orders a dump of `dataset` may follow, most common first."""
    known = KNOWN[dataset]
    by_text = tuple(sorted(known, key=lambda e: e.name))
    if dataset == "SMD":
        return {"machines in numeric order": tuple(sorted(known, key=_numeric)),
                "machines sorted as text": by_text}
    return {"channels sorted by name as text (OmniAnomaly's order)": by_text,
            "channels in labeled_anomalies.csv order": known}


def split(dataset: str, train: np.ndarray, test: np.ndarray, labels: np.ndarray
          ) -> tuple[list[EntityArrays], str]:
    """The dump's entities and how it was cut, or the whole dump as one entity and why not."""
    whole = [EntityArrays(dataset, dataset.lower(), train, test, labels)]
    if dataset not in KNOWN:
        return whole, f"kept as one entity: {dataset}'s entity boundaries are not known"
    known = KNOWN[dataset]
    shape = (sum(e.train_rows for e in known), sum(e.test_rows for e in known), CHANNELS[dataset])
    if (train.shape[0], test.shape[0], train.shape[1]) != shape:
        return whole, (f"kept as one entity: {train.shape[0]} train rows, {test.shape[0]} test rows, "
                       f"{train.shape[1]} channels, where the {len(known)} published entities have "
                       f"{shape[0]}, {shape[1]} and {shape[2]}")
    agreeing = {description: order for description, order in orders(dataset).items()
                if np.array_equal(_anomalies_per_entity(labels, order), [e.anomalies for e in order])}
    if len(agreeing) != 1:
        reason = "several entity orders" if agreeing else "no known entity order"
        return whole, (f"kept as one entity: the row counts are the published ones but {reason} "
                       f"gives every entity its published number of anomalous steps {sorted(agreeing)}")
    (description, order), = agreeing.items()
    train_ends, test_ends = np.cumsum([e.train_rows for e in order]), np.cumsum([e.test_rows for e in order])
    return [EntityArrays(dataset, e.name, train[a - e.train_rows:a], test[b - e.test_rows:b], labels[b - e.test_rows:b])
            for e, a, b in zip(order, train_ends, test_ends)], f"split into {len(order)} entities, {description}"


def _anomalies_per_entity(labels: np.ndarray, order: tuple[KnownEntity, ...]) -> np.ndarray:
    starts = np.concatenate([[0], np.cumsum([e.test_rows for e in order])[:-1]])
    return np.add.reduceat(labels.astype(np.int64), starts)
