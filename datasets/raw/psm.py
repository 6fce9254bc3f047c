"""PSM as eBay publishes it: `train.csv`, `test.csv` (`timestamp_(min),feature_0,...`) and
`test_label.csv` (`timestamp_(min),label`). NaNs are kept as published and counted."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..canonical import DatasetFormatError, EntityArrays
from .base import (Layout, ReadOptions, Record, binary_labels, check_channels, check_lengths,
                   check_no_empty_columns, require_file)
from .tables import Table, check_unique, read_table

TIME = "timestamp_(min)"
FILES = ("train.csv", "test.csv", "test_label.csv")
FIX = ("point --from at the folder holding PSM's train.csv, test.csv and test_label.csv, "
       "e.g. as written by `python -m tsadbench.datasets download PSM`")
NAN_POLICY = ("kept as published (NaN stored in the canonical files, counted here); "
              "filled inside the pipeline by datasets.preprocessing")


def _base(folder: Path) -> Path:
    return folder / "PSM" if (folder / "PSM" / FILES[0]).is_file() else folder


def matches(folder: Path) -> bool:
    """True when `folder` (or its PSM/) holds the three PSM CSV files."""
    return all((_base(folder) / name).is_file() for name in FILES)


def _is_header(cells: list[str]) -> bool:
    return bool(cells) and cells[0] == TIME


def _timed_table(path: Path) -> tuple[Table, np.ndarray]:
    table = read_table(require_file(path, FIX), header=_is_header)
    times = table.numbers([TIME])[:, 0].astype(np.float64)
    if np.isnan(times).any():
        row = int(np.flatnonzero(np.isnan(times))[0])
        raise DatasetFormatError(f"{path}: {table.where(row, 0)}: empty {TIME}; every row needs "
                                 "its minute index")
    check_unique(table, TIME, times)
    return table, times


def read_values(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Feature values [T, 25] (NaN kept) and the minute index of `train.csv` or `test.csv`."""
    table, times = _timed_table(path)
    features = [name for name in table.frame.columns if name != TIME]
    values = table.numbers(features)
    check_no_empty_columns(values, str(path), features, first_column=2)
    return values, times


def read_labels(path: Path, test_times: np.ndarray, test_path: Path) -> np.ndarray:
    """Labels of test_label.csv, checked to carry the same minute index as test.csv."""
    table, times = _timed_table(path)
    if "label" not in table.frame.columns:
        raise DatasetFormatError(f"{path}: line 1: no 'label' column; the header must be "
                                 f"'{TIME},label'")
    labels = binary_labels(table.numbers(["label"])[:, 0], str(path), table.where)
    check_lengths(test_times.shape[0], labels, str(test_path), str(path))
    mismatch = np.flatnonzero(times != test_times)
    if mismatch.size:
        row = int(mismatch[0])
        raise DatasetFormatError(
            f"{path}: {table.where(row)}: {TIME} {times[row]:g} but row {row + 1} of {test_path} "
            f"has {test_times[row]:g}; labels and test rows must be in the same order"
        )
    return labels


def read(folder: Path, options: ReadOptions, record: Record) -> Iterator[EntityArrays]:
    """Yield PSM's single entity."""
    base = _base(folder)
    train_path, test_path, label_path = (base / name for name in FILES)
    train, _ = read_values(train_path)
    test, test_times = read_values(test_path)
    check_channels(train.shape[1], test.shape[1], str(train_path), str(test_path))
    labels = read_labels(label_path, test_times, test_path)
    record["nan_policy"] = NAN_POLICY
    record["nan_train"] = int(np.isnan(train).sum())
    record["nan_test"] = int(np.isnan(test).sum())
    record["labels"] = f"test_label.csv, matched to test.csv by {TIME}"
    yield EntityArrays("PSM", "psm", train, test, labels)


LAYOUT = Layout(name="ebay-csv", expects="train.csv, test.csv, test_label.csv",
                matches=matches, read=read)
