"""TranAD's processed arrays (`processed/<NAME>/` after its `preprocess.py`): per entity
`<entity>_train.npy`, `<entity>_test.npy` and `<entity>_labels.npy`, the labels one column per
channel [T, C] (imperial-qore/TranAD `preprocess.py`).

A test step is anomalous when any channel is labelled. TranAD's label conventions differ from
the originals and are recorded, not repaired: SMAP/MSL ranges end exclusively (`labels[s:e]`,
one step shorter than telemanom's inclusive `[s, e]`), SMD labels come from
`interpretation_label` rows (`[start-1:end-1]`); some versions min-max scale the values with
training statistics. Prefer the raw layouts when you have them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..canonical import DatasetFormatError, EntityArrays
from .base import (Layout, ReadOptions, Record, binary_labels, check_channels, check_lengths, find_base,
                   load_npy)
from .entities import KNOWN

PARTS = ("train", "test", "labels")
LABELS = ("TranAD's per-channel <entity>_labels.npy, anomalous where any channel is 1 (TranAD ends "
          "SMAP/MSL ranges exclusively and builds SMD's from interpretation_label: not the "
          "original labels)")


def entities_in(folder: Path) -> list[str]:
    """Entities with all three TranAD files in `folder`, sorted."""
    stems = {p.name[: -len("_train.npy")] for p in folder.glob("*_train.npy")}
    return sorted(s for s in stems if all((folder / f"{s}_{part}.npy").is_file() for part in PARTS))


def _belongs(dataset: str) -> Callable[[Path], bool]:
    names = {e.name for e in KNOWN.get(dataset, ())}
    return lambda folder: any(entity in names for entity in entities_in(folder))


def _base(folder: Path, dataset: str) -> Path | None:
    return find_base(folder, _belongs(dataset), preferred=(dataset,))


def _reader(dataset: str) -> Callable[[Path, ReadOptions, Record], Iterator[EntityArrays]]:
    fix = f"point --from at TranAD's processed/{dataset} folder (<entity>_train.npy, _test.npy, _labels.npy)"

    def read(folder: Path, options: ReadOptions, record: Record) -> Iterator[EntityArrays]:
        base = _base(folder, dataset) or folder
        known = {e.name for e in KNOWN[dataset]}
        entities = [e for e in entities_in(base) if e in known]
        if not entities:
            raise FileNotFoundError(f"{base}: no <entity>_train/_test/_labels.npy of a {dataset} entity; {fix}")
        record["labels"] = LABELS
        record["values"] = "as TranAD wrote them (its preprocess.py may have min-max scaled them)"
        record["ignored_files"] = sorted(e for e in entities_in(base) if e not in known)
        for entity in entities:
            paths = [base / f"{entity}_{part}.npy" for part in PARTS]
            train, test, labels = (load_npy(path, fix) for path in paths)
            for path, array, wanted in zip(paths, (train, test, labels), ((2,), (2,), (1, 2))):
                if array.ndim not in wanted:
                    raise DatasetFormatError(f"{path}: shape {array.shape}, expected [time, channels]")
            check_channels(train.shape[1], test.shape[1], str(paths[0]), str(paths[1]))
            flat = np.asarray(labels).reshape(labels.shape[0], -1).max(axis=1)
            check_lengths(test.shape[0], flat, str(paths[1]), str(paths[2]))
            yield EntityArrays(dataset, entity, train, test,
                               binary_labels(flat, str(paths[2]), lambda row: f"row {row}"))

    return read


def layout(dataset: str) -> Layout:
    """TranAD's processed layout of SMD, SMAP or MSL."""
    return Layout(name="tranad-processed", expects=f"<entity>_train.npy, <entity>_test.npy, "
                  f"<entity>_labels.npy of {dataset} entities (TranAD's processed/{dataset}/)",
                  matches=lambda folder: _base(folder, dataset) is not None, read=_reader(dataset))
