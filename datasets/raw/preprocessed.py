"""The preprocessed dumps Anomaly-Transformer-style repositories pass around:
`<NAME>_train.npy`, `<NAME>_test.npy`, `<NAME>_test_label.npy`, entities already concatenated.
Time-Series-Library and Anomaly-Transformer keep them in `dataset/<NAME>/`: --from may name that
folder or `dataset/`. SMD, SMAP and MSL dumps are cut back into their entities when they agree
with the published boundaries (see `concatenated`)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..canonical import DatasetFormatError, EntityArrays
from . import concatenated
from .base import (Layout, ReadOptions, Record, binary_labels, check_channels, check_lengths, find_base,
                   load_npy)

PARTS = ("train", "test", "test_label")


def _path(folder: Path, dataset: str, part: str) -> Path:
    """`<NAME>_<part>.npy` in `folder`, matching the dataset name in any letter case."""
    wanted = f"{dataset}_{part}.npy"
    for candidate in sorted(folder.glob("*.npy")):
        if candidate.name.lower() == wanted.lower():
            return candidate
    return folder / wanted


def _holds(dataset: str) -> Callable[[Path], bool]:
    return lambda folder: all(_path(folder, dataset, part).is_file() for part in PARTS)


def _base(folder: Path, dataset: str) -> Path | None:
    return find_base(folder, _holds(dataset), preferred=(dataset,))


def _matcher(dataset: str) -> Callable[[Path], bool]:
    return lambda folder: _base(folder, dataset) is not None


def _diagnoser(dataset: str) -> Callable[[Path], str | None]:
    def diagnose(folder: Path) -> str | None:
        base = find_base(folder, lambda f: any(_path(f, dataset, part).is_file() for part in PARTS),
                         preferred=(dataset,))
        if base is None:
            return None
        missing = [_path(base, dataset, part).name for part in PARTS if not _path(base, dataset, part).is_file()]
        return f"found {dataset}_*.npy files in {base} but not {', '.join(missing)}"

    return diagnose


def _reader(dataset: str) -> Callable[[Path, ReadOptions, Record], Iterator[EntityArrays]]:
    fix = f"put {dataset}_train.npy, {dataset}_test.npy and {dataset}_test_label.npy in the --from folder"

    def read(folder: Path, options: ReadOptions, record: Record) -> Iterator[EntityArrays]:
        base = _base(folder, dataset) or folder
        train_path, test_path, label_path = (_path(base, dataset, part) for part in PARTS)
        train, test, labels = (load_npy(path, fix) for path in (train_path, test_path, label_path))
        for path, array in ((train_path, train), (test_path, test)):
            if array.ndim != 2:
                raise DatasetFormatError(f"{path}: shape {array.shape}, expected [time, channels]")
        check_channels(train.shape[1], test.shape[1], str(train_path), str(test_path))
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.ndim != 1:
            raise DatasetFormatError(f"{label_path}: shape {labels.shape}, expected [time]")
        check_lengths(test.shape[0], labels, str(test_path), str(label_path))
        labels = binary_labels(np.asarray(labels), str(label_path), lambda row: f"index {row}")
        record["entity_policy_of_source"] = "concatenated (the dump holds all entities end to end)"
        entities, record["entities_from_dump"] = concatenated.split(dataset, train, test, labels)
        yield from entities

    return read


def layout(dataset: str) -> Layout:
    """The preprocessed-.npy layout of `dataset`."""
    return Layout(name="npy", expects=f"{dataset}_train.npy, {dataset}_test.npy, {dataset}_test_label.npy",
                  matches=_matcher(dataset), read=_reader(dataset), diagnose=_diagnoser(dataset))
