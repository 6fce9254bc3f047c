"""Statistics of a canonical store: per entity and per dataset (entities, channels, rows, anomaly
ratio, anomalous segments, NaNs), as a text table or JSON."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from .canonical import EntityArrays, dataset_dirs, list_entities, load_entity


@dataclasses.dataclass(frozen=True)
class EntityStats:
    """Counts of one entity."""

    dataset: str
    entity: str
    channels: int
    train_rows: int
    test_rows: int
    anomalies: int
    segments: int
    nan_count: int


@dataclasses.dataclass(frozen=True)
class DatasetStats:
    """Counts of one dataset, summed over its entities."""

    dataset: str
    entities: int
    channels: tuple[int, ...]
    train_rows: int
    test_rows: int
    anomalies: int
    segments: int
    nan_count: int

    @property
    def anomaly_ratio(self) -> float:
        """Anomalous test steps over all test steps."""
        return self.anomalies / self.test_rows if self.test_rows else 0.0


def segment_count(labels: np.ndarray) -> int:
    """Number of contiguous runs of 1 in a 0/1 label array."""
    padded = np.concatenate(([0], np.asarray(labels, dtype=np.int8)))
    return int(np.count_nonzero(np.diff(padded) == 1))


def entity_stats(arrays: EntityArrays) -> EntityStats:
    """Counts of one loaded entity."""
    return EntityStats(
        dataset=arrays.dataset, entity=arrays.entity, channels=int(arrays.train.shape[1]),
        train_rows=int(arrays.train.shape[0]), test_rows=int(arrays.test.shape[0]),
        anomalies=int(np.count_nonzero(arrays.labels)), segments=segment_count(arrays.labels),
        nan_count=int(np.isnan(arrays.train).sum() + np.isnan(arrays.test).sum()),
    )


def summarise(dataset: str, entities: list[EntityStats]) -> DatasetStats:
    """Totals of a dataset from its entities."""
    return DatasetStats(
        dataset=dataset, entities=len(entities),
        channels=tuple(sorted({e.channels for e in entities})),
        train_rows=sum(e.train_rows for e in entities), test_rows=sum(e.test_rows for e in entities),
        anomalies=sum(e.anomalies for e in entities), segments=sum(e.segments for e in entities),
        nan_count=sum(e.nan_count for e in entities),
    )


def collect(root: Path) -> dict[str, list[EntityStats]]:
    """Per-entity statistics of every dataset under `root`, loading one entity at a time."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: folder not found; pass --root the folder holding "
                                "<DATASET>/<entity>.npz (as written by `prepare`)")
    found = {folder.name: [entity_stats(load_entity(root, folder.name, entity))
                           for entity in list_entities(root, folder.name)]
             for folder in dataset_dirs(root)}
    if not found:
        raise FileNotFoundError(f"{root}: no <DATASET>/<entity>.npz files; run "
                                "`python -m tsadbench.datasets prepare <NAME> --from <DIR> --root "
                                f"{root}` first")
    return found


def _channels(values: tuple[int, ...]) -> str:
    return str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"


def format_table(stats: dict[str, list[EntityStats]], per_entity: bool = False) -> str:
    """A fixed-width text table, one line per dataset (and per entity if asked)."""
    header = ("dataset", "entities", "channels", "train rows", "test rows", "anomaly %",
              "segments", "NaNs")
    rows = []
    for dataset, entities in stats.items():
        total = summarise(dataset, entities)
        rows.append((dataset, f"{total.entities}", _channels(total.channels), f"{total.train_rows:,}",
                     f"{total.test_rows:,}", f"{100 * total.anomaly_ratio:.2f}", f"{total.segments:,}",
                     f"{total.nan_count:,}"))
        if per_entity:
            rows.extend((f"  {e.entity}", "", f"{e.channels}", f"{e.train_rows:,}", f"{e.test_rows:,}",
                         f"{100 * e.anomalies / e.test_rows:.2f}", f"{e.segments:,}", f"{e.nan_count:,}")
                        for e in entities)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                       enumerate(zip(row, widths))).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


def to_json(stats: dict[str, list[EntityStats]], per_entity: bool = False) -> str:
    """The same statistics as JSON: {dataset: {totals..., "per_entity": [...]}}."""
    out = {}
    for dataset, entities in stats.items():
        total = summarise(dataset, entities)
        out[dataset] = {**dataclasses.asdict(total), "channels": list(total.channels),
                        "anomaly_ratio": total.anomaly_ratio}
        if per_entity:
            out[dataset]["per_entity"] = [dataclasses.asdict(e) for e in entities]
    return json.dumps(out, indent=1)
