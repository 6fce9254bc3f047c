"""Your own series (`--layout csv`): one CSV or Parquet file per entity, a folder of them, or
train/test file pairs. Every column but the label column (`--label-column`) and the optional time
column (`--time-column`) is a channel. The train part is the first `--train-rows N` rows of each
file, or the file given by `--from` with its test counterpart in `--test` (a file, or a folder
holding files of the same names)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..canonical import DatasetFormatError, EntityArrays
from .base import Layout, ReadOptions, Record, binary_labels, check_channels, check_no_empty_columns
from .tables import Table, check_unique, read_table, sniff_separator

SUFFIXES = (".csv", ".txt", ".parquet", ".pq")
FIX = ("pass --from a CSV/Parquet file, a folder of them, or a train file with --test its test file "
       "(see README, 'Your own data')")


def series_files(source: Path) -> list[Path]:
    """The file `source`, or every CSV/Parquet file in the folder `source` (sorted)."""
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: no such file or folder; {FIX}")
    files = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise FileNotFoundError(f"{source}: holds no .csv or .parquet file; {FIX}")
    return files


def _has_names(cells: list[str]) -> bool:
    """A header line: some cell is a name, not a number."""
    return bool(pd.to_numeric(pd.Series([cell for cell in cells if cell], dtype=object), errors="coerce").isna().any())


def read_user_table(path: Path) -> Table:
    """A CSV (header found among the first lines, separator sniffed) or Parquet file as a Table."""
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError, ImportError) as error:
            raise DatasetFormatError(f"{path}: not a readable Parquet file ({error}); re-export it") from error
        frame.columns = [str(name).strip() for name in frame.columns]
        if frame.empty:
            raise DatasetFormatError(f"{path}: the file holds no rows; re-export it")
        return Table(path, frame.reset_index(drop=True), lambda row: row + 1, "row", True)
    return read_table(path, header=_has_names, sep=sniff_separator(path, _has_names))


def _column(table: Table, name: str, flag: str) -> None:
    if name not in table.frame.columns:
        raise DatasetFormatError(f"{table.path}: no column {name!r} (columns: {', '.join(map(repr, table.frame.columns[:12]))}"
                                 f"{', ...' if len(table.frame.columns) > 12 else ''}); pass {flag} with one of them")


def _check_time(table: Table, column: str) -> None:
    """The time column: present, unique and strictly increasing (numbers or dates)."""
    _column(table, column, "--time-column")
    raw = table.frame[column]
    times = raw if pd.api.types.is_numeric_dtype(raw) else pd.to_datetime(raw, errors="coerce")
    missing = np.flatnonzero(pd.isna(times).to_numpy())
    if missing.size:
        row = int(missing[0])
        raise DatasetFormatError(f"{table.path}: {table.where(row, table.frame.columns.get_loc(column))}: "
                                 f"{raw.iloc[row]!r} is not a time (a number or a date); fix or remove that row")
    values = times.to_numpy()
    check_unique(table, column, values)
    backwards = np.flatnonzero(values[1:] < values[:-1])
    if backwards.size:
        row = int(backwards[0]) + 1
        raise DatasetFormatError(f"{table.path}: {table.where(row)}: {column} {raw.iloc[row]!r} comes before the "
                                 f"previous row's {raw.iloc[row - 1]!r}; sort the file by {column}")


def split_columns(table: Table, options: ReadOptions, need_labels: bool) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Channel values [T, C] (NaN kept), labels (or None when absent and not needed), channel names."""
    label = options.label_column
    if options.time_column:
        _check_time(table, options.time_column)
    has_labels = label in table.frame.columns
    if need_labels or has_labels:
        _column(table, label, "--label-column")
    channels = [name for name in table.frame.columns if name not in (label, options.time_column)]
    if not channels:
        raise DatasetFormatError(f"{table.path}: no channel column besides {label!r}"
                                 f"{' and ' + repr(options.time_column) if options.time_column else ''}")
    values = table.numbers(channels)
    first = table.frame.columns.get_loc(channels[0]) + 1
    check_no_empty_columns(values, str(table.path), channels, first_column=first)
    labels = None
    if has_labels:
        labels = binary_labels(table.numbers([label])[:, 0], str(table.path),
                               lambda row: table.where(row, table.frame.columns.get_loc(label)))
    return values, labels, channels


def split_rows(path: Path, values: np.ndarray, labels: np.ndarray, train_rows: int) -> tuple[np.ndarray, ...]:
    """Train values, test values, train labels, test labels: the first `train_rows` rows are train."""
    if not 0 < train_rows < values.shape[0]:
        raise DatasetFormatError(f"{path}: --train-rows {train_rows} leaves no train or no test part of its "
                                 f"{values.shape[0]} rows; choose 0 < N < {values.shape[0]}")
    return values[:train_rows], values[train_rows:], labels[:train_rows], labels[train_rows:]


def _pairs(source: Path, test: Path) -> list[tuple[Path, Path]]:
    trains = series_files(source)
    if test.is_file():
        if len(trains) != 1:
            raise FileNotFoundError(f"{test}: one test file for the {len(trains)} train files of {source}; "
                                    "give --test a folder holding a test file of each train file's name")
        return [(trains[0], test)]
    tests = {p.name: p for p in series_files(test)}
    missing = [p.name for p in trains if p.name not in tests]
    if missing:
        raise FileNotFoundError(f"{test}: no test file {missing[0]} for {source / missing[0]} ({len(missing)} "
                                "missing); train and test files must share their names")
    return [(train, tests[train.name]) for train in trains]


def read(dataset: str, source: Path, options: ReadOptions, record: Record) -> Iterator[EntityArrays]:
    """Yield one entity of `dataset` per file (or train/test pair), named by the file's stem."""
    if not options.label_column:
        raise ValueError("--layout csv needs --label-column COL: the column holding 0 (normal) / 1 (anomalous)")
    if (options.train_rows is None) == (options.test is None):
        raise ValueError("--layout csv needs exactly one of --train-rows N (the first N rows of each file are "
                         "train) and --test PATH (the test file, or a folder of test files)")
    train_anomalies = 0
    record.update({"label_column": options.label_column, "time_column": options.time_column,
                   "split": f"first {options.train_rows} rows are train" if options.train_rows is not None
                   else f"train files from --from, test files from {Path(options.test).resolve()}",
                   "nan_policy": "kept as given (NaN stored, counted); filled inside the pipeline"})
    if options.train_rows is not None:
        for path in series_files(source):
            table = read_user_table(path)
            values, labels, _ = split_columns(table, options, need_labels=True)
            train, test, train_labels, test_labels = split_rows(path, values, labels, options.train_rows)
            train_anomalies += int(train_labels.sum())
            yield EntityArrays(dataset, path.stem, train, test, test_labels)
    else:
        for train_path, test_path in _pairs(source, Path(options.test)):
            train, train_labels, train_channels = split_columns(read_user_table(train_path), options, need_labels=False)
            test, labels, test_channels = split_columns(read_user_table(test_path), options, need_labels=True)
            check_channels(train.shape[1], test.shape[1], str(train_path), str(test_path))
            if train_channels != test_channels:
                raise DatasetFormatError(f"{test_path}: channels {test_channels[:5]} but {train_path} has "
                                         f"{train_channels[:5]}; both files need the same columns in the same order")
            train_anomalies += 0 if train_labels is None else int(train_labels.sum())
            yield EntityArrays(dataset, train_path.stem, train, test, labels)
    record["train_rows_labelled_anomalous"] = train_anomalies


def layout(dataset: str) -> Layout:
    """The csv layout for a dataset of the user's naming (chosen with --layout csv, never detected)."""
    reader: Callable[[Path, ReadOptions, Record], Iterator[EntityArrays]] = (
        lambda source, options, record: read(dataset, source, options, record))
    return Layout(name="csv", expects="CSV/Parquet files with a label column (--label-column)",
                  matches=lambda source: False, read=reader,
                  options=frozenset({"label_column", "time_column", "train_rows", "test"}))
