"""WADI as iTrust distributes it. A2 (2019): `WADI_14days_new.csv` + `WADI_attackdataLABLE.csv`
(label column 1 = normal, -1 = attack). A1 (2017): `WADI_14days.csv` + `WADI_attackdata.csv`,
labelled from an attack table `WADI_attacklabels.csv` (`Id,Date,Start Time,End Time,Affected`).
Columns `Row, Date, Time` then 127 tags (A1 names them by OPC path). `Row` is the 1 Hz clock."""
from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..canonical import DatasetFormatError, EntityArrays
from .base import Layout, ReadOptions, Record, require_file
from .itrust import check_same_tags, drop_empty_columns, find_file, require_any, startup_rows, tag_name
from .tables import Table, check_unique, read_table, sniff_separator

TRAIN_STEMS = ("WADI_14days_new", "WADI_14days")
TEST_STEMS = ("WADI_attackdataLABLE", "WADI_attackdata")
ATTACK_TABLE = "WADI_attacklabels.csv"
CLOCK, DATE, TIME = "Row", "Date", "Time"
A1_TIME_FORMAT = "%m/%d/%Y %I:%M:%S.%f %p"
TABLE_TIME_FORMAT = "%m/%d/%Y %H:%M:%S"
KNOWN_DATE_REPAIRS = {("11", "11/11/2017"): "10/11/2017", ("12", "12/11/2017"): "10/11/2017",
                      ("15", "13/11/2017"): "10/11/2017"}
"""(Id, Date) -> Date: rows of TranAD's WADI_attacklabels.csv (imperial-qore/TranAD
data/WADI) dated in November, or on a 13th month, where the attacks of 11 October 2017 are meant
(the A1 attack period ends 10/11/2017 6:00 PM); any other date outside the test period is an error."""
FIX = ("point --from at your iTrust copy of WADI (A2 'WADI.A2_19 Nov 2019' or A1 "
       "'WADI.A1_9 Oct 2017'); WADI is not redistributable, request it from iTrust")


def _is_header(cells: list[str]) -> bool:
    return bool(cells) and cells[0] == CLOCK


def _is_label_column(name: str) -> bool:
    text = name.replace(" ", "").lower()
    return text.startswith("attacklable") or text.startswith("attacklabel")


def matches(folder: Path) -> bool:
    """True when `folder` (any depth) holds a WADI normal file and an attack file."""
    return find_file(folder, TRAIN_STEMS) is not None and find_file(folder, TEST_STEMS) is not None


def _drop_footer(table: Table) -> int:
    """Drop the rows after the last one with a numeric Row (A2's footer); returns how many."""
    clock = pd.to_numeric(table.frame[CLOCK], errors="coerce").to_numpy()
    numbered = np.flatnonzero(~np.isnan(clock))
    if not numbered.size:
        raise DatasetFormatError(f"{table.path}: no row has a number in the {CLOCK!r} column")
    footer = len(table.frame) - 1 - int(numbered[-1])
    table.frame = table.frame.iloc[: int(numbered[-1]) + 1]
    return footer


def read_file(path: Path) -> tuple[Table, np.ndarray, list[str], np.ndarray, int]:
    """Table, values [T, tags], tag names, clock (Row) and the number of footer rows dropped."""
    table = read_table(path, header=_is_header, sep=sniff_separator(path, _is_header), short_tail=True)
    footer = _drop_footer(table)
    columns = [n for n in table.frame.columns if n not in (CLOCK, DATE, TIME) and not _is_label_column(n)]
    clock = table.numbers([CLOCK])[:, 0].astype(np.float64)
    check_unique(table, CLOCK, clock)
    return table, table.numbers(columns), [tag_name(n) for n in columns], clock, footer


def a2_labels(table: Table) -> np.ndarray:
    """A2 label column: 1 (no attack) -> 0, -1 (attack) -> 1."""
    name = next(n for n in table.frame.columns if _is_label_column(n))
    raw = table.numbers([name])[:, 0]
    bad = np.flatnonzero(~np.isin(raw, (1, -1)))
    if bad.size:
        row = int(bad[0])
        raise DatasetFormatError(f"{table.path}: {table.where(row, table.frame.columns.get_loc(name))}: "
                                 f"label {raw[row]:g} is neither 1 (no attack) nor -1 (attack)")
    return (raw == -1).astype(np.uint8)


def _test_seconds(table: Table) -> np.ndarray:
    text = table.frame[DATE].astype("string").str.strip() + " " + table.frame[TIME].astype("string").str.strip()
    stamps = pd.to_datetime(text, format=A1_TIME_FORMAT, errors="coerce")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if bad.size:
        row = int(bad[0])
        raise DatasetFormatError(f"{table.path}: {table.where(row)}: Date/Time {text.iloc[row]!r} is "
                                 "not like '10/09/2017 6:00:00.000 PM' (month first)")
    return stamps.to_numpy(dtype="datetime64[s]").astype(np.int64)


class AttackTableRepaired(UserWarning):
    """A known impossible date of the WADI attack table was corrected."""


def repair_known_dates(windows: Table) -> list[str]:
    """Correct the KNOWN_DATE_REPAIRS rows in place (warning about each); returns what was done."""
    repairs = []
    for row in range(len(windows.frame)):
        key = (str(windows.frame["Id"].iloc[row]).strip(), str(windows.frame["Date"].iloc[row]).strip())
        if key in KNOWN_DATE_REPAIRS:
            repairs.append(f"{windows.where(row)} (Id {key[0]}): Date {key[1]} -> {KNOWN_DATE_REPAIRS[key]}")
            windows.frame.iloc[row, windows.frame.columns.get_loc("Date")] = KNOWN_DATE_REPAIRS[key]
    if repairs:
        warnings.warn(f"{windows.path}: corrected {len(repairs)} known impossible dates (the "
                      f"attacks of 11 October 2017): {'; '.join(repairs)}", AttackTableRepaired, stacklevel=2)
    return repairs


def a1_labels(table: Table, attack_table: Path) -> tuple[np.ndarray, int, list[str]]:
    """A1 labels: 1 inside any [start, end] window of the attack table (both ends inclusive);
    also the number of windows and the known date repairs made."""
    seconds = _test_seconds(table)
    windows = read_table(require_file(attack_table, f"put the attack table ({ATTACK_TABLE}, header "
                                      "Id,Date,Start Time,End Time,Affected) beside WADI_attackdata.csv, "
                                      "or use the A2 release with WADI_attackdataLABLE.csv"),
                         header=lambda cells: "Start Time" in cells)
    repairs = repair_known_dates(windows) if "Id" in windows.frame.columns else []
    labels = np.zeros(seconds.shape[0], dtype=np.uint8)
    for row in range(len(windows.frame)):
        start, end = (_window_time(windows, row, column) for column in ("Start Time", "End Time"))
        end += 86400 if end < start else 0
        inside = (seconds >= start) & (seconds <= end)
        if not inside.any():
            raise DatasetFormatError(f"{attack_table}: {windows.where(row)}: the window lies outside the "
                                     f"test period of {table.path}; is the table of this release?")
        labels[inside] = 1
    return labels, len(windows.frame), repairs


def _window_time(windows: Table, row: int, column: str) -> int:
    text = f"{str(windows.frame['Date'].iloc[row]).strip()} {str(windows.frame[column].iloc[row]).strip()}"
    stamp = pd.to_datetime(text, format=TABLE_TIME_FORMAT, errors="coerce")
    if pd.isna(stamp):
        raise DatasetFormatError(f"{windows.path}: {windows.where(row)}: {text!r} is not "
                                 "'MM/DD/YYYY HH:MM:SS'")
    return int(stamp.to_datetime64().astype("datetime64[s]").astype(np.int64))


def read(folder: Path, options: ReadOptions, record: Record) -> Iterator[EntityArrays]:
    """Yield WADI's single entity: the 14-days file as train, the attack file as test."""
    train_path, test_path = require_any(folder, TRAIN_STEMS, FIX), require_any(folder, TEST_STEMS, FIX)
    _, train, train_tags, train_clock, train_footer = read_file(train_path)
    test_table, test, test_tags, _, test_footer = read_file(test_path)
    check_same_tags(train_tags, test_tags, train_path, test_path)
    if any(_is_label_column(n) for n in test_table.frame.columns):
        labels, source = a2_labels(test_table), "label column: 1 (no attack) -> 0, -1 (attack) -> 1"
    else:
        labels, windows, repairs = a1_labels(test_table, test_path.parent / ATTACK_TABLE)
        source = f"{windows} windows of {ATTACK_TABLE}, inclusive, matched on Date + Time"
        record["attack_table_repairs"] = repairs
    startup = startup_rows(train_clock, options.drop_startup_hours, train_path)
    train, test, tags, dropped = drop_empty_columns(train[startup:], test, train_tags)
    record.update({
        "train_file": train_path.name, "test_file": test_path.name, "labels": source,
        "dropped_startup_rows": startup,
        "dropped_footer_rows": {"train": train_footer, "test": test_footer},
        "dropped_empty_columns": dropped, "tags": tags,
        "nan_policy": "kept as published (NaN stored, counted in the manifest)",
    })
    yield EntityArrays("WADI", "wadi", train, test, labels)


LAYOUT = Layout(name="itrust", expects="WADI_14days(_new) and WADI_attackdata(LABLE) (.csv or .xlsx)",
                matches=matches, read=read, options=frozenset({"drop_startup_hours"}))
