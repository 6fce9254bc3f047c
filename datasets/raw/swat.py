"""SWaT (A1 & A2, Dec 2015) as iTrust distributes it: `SWaT_Dataset_Normal_v1` (or v0) and
`SWaT_Dataset_Attack_v0`, CSV or XLSX, a title row above the header, ` Timestamp`, 51 tags and
`Normal/Attack` (with the 'A ttack' typo)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..canonical import DatasetFormatError, EntityArrays
from .base import Layout, ReadOptions, Record
from .itrust import check_same_tags, drop_empty_columns, find_file, require_any, startup_rows, tag_name
from .tables import Table, check_unique, read_table, sniff_separator

TRAIN_STEMS = ("SWaT_Dataset_Normal_v1", "SWaT_Dataset_Normal_v0")
TEST_STEMS = ("SWaT_Dataset_Attack_v0",)
TIME, LABEL = "Timestamp", "Normal/Attack"
TIME_FORMAT = "%d/%m/%Y %I:%M:%S %p"
FIX = ("point --from at your iTrust copy of 'SWaT.A1 & A2_Dec 2015' (the Physical folder "
       "or above); SWaT is not redistributable, request it from iTrust")


def _is_header(cells: list[str]) -> bool:
    return TIME.lower() in (cell.lower() for cell in cells)


def matches(folder: Path) -> bool:
    """True when `folder` (any depth) holds the Dec 2015 Normal and Attack files."""
    return find_file(folder, TRAIN_STEMS) is not None and find_file(folder, TEST_STEMS) is not None


def label_of(value: object) -> int | None:
    """0 for 'Normal', 1 for anything spelling 'attack' once spaces are removed, else None."""
    text = str(value).replace(" ", "").lower()
    return 0 if text == "normal" else 1 if "attack" in text else None


def _column(table: Table, wanted: str) -> str:
    for name in table.frame.columns:
        if name.lower() == wanted.lower():
            return name
    raise DatasetFormatError(f"{table.path}: no {wanted!r} column in the header; is this a "
                             "SWaT Dec 2015 file?")


def _seconds(table: Table, column: str) -> np.ndarray:
    """Timestamps as seconds since the epoch (text day-first 12-hour, or spreadsheet datetimes)."""
    raw = table.frame[column]
    if pd.api.types.infer_dtype(raw, skipna=True) in ("datetime", "datetime64"):
        stamps = pd.to_datetime(raw, errors="coerce")
    else:
        stamps = pd.to_datetime(raw.astype("string").str.strip(), format=TIME_FORMAT, errors="coerce")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if bad.size:
        row = int(bad[0])
        raise DatasetFormatError(
            f"{table.path}: {table.where(row, table.frame.columns.get_loc(column))}: "
            f"{raw.iloc[row]!r} is not a timestamp like '22/12/2015 4:30:00 PM' (day first)"
        )
    seconds = stamps.to_numpy(dtype="datetime64[s]").astype(np.int64)
    check_unique(table, column, seconds)
    return seconds


def _labels(table: Table, column: str) -> tuple[np.ndarray, Counter[str]]:
    raw = table.frame[column]
    labels = raw.map(label_of)
    bad = np.flatnonzero(labels.isna().to_numpy())
    if bad.size:
        row = int(bad[0])
        raise DatasetFormatError(
            f"{table.path}: {table.where(row, table.frame.columns.get_loc(column))}: label "
            f"{raw.iloc[row]!r} is neither Normal nor Attack; correct that cell"
        )
    return labels.to_numpy(dtype=np.uint8), Counter(str(v).strip() for v in raw)


def read_file(path: Path) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray, Counter[str], list[str]]:
    """Values [T, tags], tag names, seconds, labels, label spellings and dropped unnamed columns."""
    table = read_table(path, header=_is_header, sep=sniff_separator(path, _is_header))
    time, label = _column(table, TIME), _column(table, LABEL)
    unnamed = [n for n in table.frame.columns if not n or n.startswith("Unnamed")]
    tags = [n for n in table.frame.columns if n not in (time, label) and n not in unnamed]
    values = table.numbers(tags, decimal_comma=True)
    labels, spellings = _labels(table, label)
    return values, [tag_name(t) for t in tags], _seconds(table, time), labels, spellings, unnamed


def read(folder: Path, options: ReadOptions, record: Record) -> Iterator[EntityArrays]:
    """Yield SWaT's single entity: the Normal file as train, the Attack file as test."""
    train_path, test_path = require_any(folder, TRAIN_STEMS, FIX), require_any(folder, TEST_STEMS, FIX)
    train, train_tags, train_seconds, train_labels, _, unnamed_train = read_file(train_path)
    if train_labels.any():
        raise DatasetFormatError(f"{train_path}: {int(train_labels.sum())} rows are labelled Attack; "
                                 "the training file must be the Normal one")
    test, test_tags, _, labels, spellings, unnamed_test = read_file(test_path)
    check_same_tags(train_tags, test_tags, train_path, test_path)
    startup = startup_rows(train_seconds, options.drop_startup_hours, train_path)
    train, test, tags, dropped = drop_empty_columns(train[startup:], test, train_tags)
    record.update({
        "train_file": train_path.name, "test_file": test_path.name,
        "labels": "Normal/Attack: 'attack' in value.replace(' ', '').lower() -> 1, Normal -> 0",
        "label_spellings": dict(spellings),
        "dropped_startup_rows": startup, "dropped_empty_columns": dropped,
        "dropped_unnamed_columns": sorted(set(unnamed_train) | set(unnamed_test)), "tags": tags,
        "nan_policy": "kept as published (NaN stored, counted in the manifest)",
    })
    yield EntityArrays("SWaT", "swat", train, test, labels)


LAYOUT = Layout(name="itrust", expects="SWaT_Dataset_Normal_v1|v0 and SWaT_Dataset_Attack_v0 (.csv or .xlsx)",
                matches=matches, read=read, options=frozenset({"drop_startup_hours"}))
