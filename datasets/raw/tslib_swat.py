"""SWaT as Time-Series-Library and DCdetector-style repositories keep it: `swat_train2.csv` and
`swat2.csv`, each with a header line, the features first and the label in the last column
(thuml/Time-Series-Library `data_provider/data_loader.py`, `SWATSegLoader`). The label is 0/1 or
Normal/Attack; the training file's label column is dropped, its attack rows counted."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..canonical import DatasetFormatError, EntityArrays
from .base import Layout, ReadOptions, Record, check_channels, find_base, require_file
from .swat import label_of
from .tables import Table, read_table

TRAIN, TEST = "swat_train2.csv", "swat2.csv"
FIX = (f"point --from at the folder holding {TRAIN} and {TEST} (Time-Series-Library's "
       "dataset/SWaT/), or prepare from iTrust's originals")


def _holds_any(folder: Path) -> bool:
    return (folder / TRAIN).is_file() or (folder / TEST).is_file()


def _base(folder: Path) -> Path | None:
    return find_base(folder, _holds_any, preferred=("SWaT",))


def matches(folder: Path) -> bool:
    """True when `folder` (or its SWaT/) holds both TSLib files."""
    base = _base(folder)
    return base is not None and all((base / name).is_file() for name in (TRAIN, TEST))


def diagnose(folder: Path) -> str | None:
    """Name the missing file when only one of the two is there."""
    base = _base(folder)
    if base is None:
        return None
    present = [name for name in (TRAIN, TEST) if (base / name).is_file()]
    missing = [name for name in (TRAIN, TEST) if name not in present]
    return f"found {base / present[0]} but not {missing[0]} beside it" if missing else None


def _label(value: object) -> int | None:
    text = str(value).strip()
    return int(float(text)) if text in ("0", "1", "0.0", "1.0") else label_of(value)


def _labels(table: Table, column: str) -> np.ndarray:
    raw = table.frame[column]
    labels = raw.map(_label)
    bad = np.flatnonzero(labels.isna().to_numpy())
    if bad.size:
        row = int(bad[0])
        raise DatasetFormatError(f"{table.path}: {table.where(row, table.frame.columns.get_loc(column))}: "
                                 f"label {raw.iloc[row]!r} is not 0/1 or Normal/Attack")
    return labels.to_numpy(dtype=np.uint8)


def read_file(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features [T, C], labels [T] and the feature names of one TSLib SWaT file."""
    table = read_table(require_file(path, FIX), header=lambda cells: True)
    *features, label = table.frame.columns
    return table.numbers(list(features)), _labels(table, label), list(features)


def read(folder: Path, options: ReadOptions, record: Record) -> Iterator[EntityArrays]:
    """Yield SWaT's single entity from the two TSLib files."""
    base = _base(folder) or folder
    train, train_labels, train_names = read_file(base / TRAIN)
    test, labels, test_names = read_file(base / TEST)
    check_channels(train.shape[1], test.shape[1], str(base / TRAIN), str(base / TEST))
    record.update({"train_file": TRAIN, "test_file": TEST, "features": test_names,
                   "labels": f"last column of {TEST} (0/1 or Normal/Attack)",
                   "train_rows_labelled_attack": int(train_labels.sum()),
                   "nan_policy": "kept as published (NaN stored, counted in the manifest)"})
    if train_names != test_names:
        record["feature_names_differ"] = {"train": train_names, "test": test_names}
    yield EntityArrays("SWaT", "swat", train, test, labels)


LAYOUT = Layout(name="tslib-csv", expects=f"{TRAIN} and {TEST} (features, label last)",
                matches=matches, read=read, diagnose=diagnose)
