"""SMAP and MSL as telemanom publishes them: `data/{train,test}/<channel>.npy` plus
`labeled_anomalies.csv`, whose `anomaly_sequences` are inclusive [start, end] test indices."""
from __future__ import annotations

import csv
import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..canonical import DatasetFormatError, EntityArrays
from .base import Layout, ReadOptions, Record, check_channels, load_npy, require_file

LABEL_FILE = "labeled_anomalies.csv"
COLUMNS = ("chan_id", "spacecraft", "anomaly_sequences", "num_values")
EXCLUDED = {
    "P-2": "two conflicting rows in labeled_anomalies.csv; the standard split drops it "
           "(published row counts only match without it)",
}
FIX = ("point --from at telemanom's data folder (train/, test/ and labeled_anomalies.csv), "
       "e.g. as written by `python -m tsadbench.datasets download SMAP`")


@dataclasses.dataclass(frozen=True)
class LabelRow:
    """One row of labeled_anomalies.csv."""

    chan_id: str
    spacecraft: str
    sequences: tuple[tuple[int, int], ...]
    num_values: int
    line: int


def _base(folder: Path) -> Path:
    return folder / "data" if (folder / "data" / LABEL_FILE).is_file() else folder


def matches(folder: Path) -> bool:
    """True when `folder` (or its data/) holds labeled_anomalies.csv and a train folder."""
    base = _base(folder)
    return (base / LABEL_FILE).is_file() and (base / "train").is_dir()


def read_label_rows(path: Path) -> list[LabelRow]:
    """Every row of labeled_anomalies.csv, validated."""
    require_file(path, FIX)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetFormatError(f"{path}: line 1: missing column(s) {missing}; the header must "
                                     f"name {', '.join(COLUMNS)} (telemanom's file)")
        return [_label_row(path, reader.line_num, row) for row in reader]


def _label_row(path: Path, line: int, row: dict[str, str]) -> LabelRow:
    try:
        sequences = tuple((int(s), int(e)) for s, e in json.loads(row["anomaly_sequences"]))
        num_values = int(row["num_values"])
    except (ValueError, TypeError) as error:
        raise DatasetFormatError(
            f"{path}: line {line}: cannot read anomaly_sequences {row['anomaly_sequences']!r} / "
            f"num_values {row['num_values']!r} ({error}); expected '[[start, end], ...]' and an integer"
        ) from error
    return LabelRow(row["chan_id"].strip(), row["spacecraft"].strip(), sequences, num_values, line)


def labels_from_sequences(row: LabelRow, test_rows: int, source: str) -> np.ndarray:
    """0/1 labels with every inclusive [start, end] range of `row` set to 1."""
    labels = np.zeros(test_rows, dtype=np.uint8)
    for start, end in row.sequences:
        if not 0 <= start <= end < test_rows:
            raise DatasetFormatError(
                f"{source}: line {row.line}: range [{start}, {end}] of {row.chan_id} lies outside "
                f"its {test_rows} test rows; is the test file of that channel right?"
            )
        labels[start:end + 1] = 1
    return labels


def _check_duplicates(rows: list[LabelRow], path: Path) -> None:
    counts = Counter(row.chan_id for row in rows)
    for chan_id, count in counts.items():
        if count > 1 and chan_id not in EXCLUDED:
            lines = [row.line for row in rows if row.chan_id == chan_id]
            raise DatasetFormatError(f"{path}: lines {lines}: channel {chan_id} appears {count} "
                                     "times; keep one row per channel")


def reader_for(spacecraft: str) -> Callable[[Path, ReadOptions, Record], Iterator[EntityArrays]]:
    """The reader of one spacecraft's channels (SMAP or MSL, by the spacecraft column)."""

    def read(folder: Path, options: ReadOptions, record: Record) -> Iterator[EntityArrays]:
        base = _base(folder)
        label_path = base / LABEL_FILE
        all_rows = read_label_rows(label_path)
        rows = [row for row in all_rows if row.spacecraft == spacecraft]
        if not rows:
            raise DatasetFormatError(f"{label_path}: no row has spacecraft {spacecraft!r}; "
                                     "is this telemanom's labeled_anomalies.csv?")
        _check_duplicates(rows, label_path)
        record["labels"] = "labeled_anomalies.csv anomaly_sequences, inclusive [start, end]"
        record["excluded"] = {c: why for c, why in EXCLUDED.items() if any(r.chan_id == c for r in rows)}
        labelled = {row.chan_id for row in all_rows}
        record["channels_without_label_row"] = sorted(
            p.stem for p in (base / "test").glob("*.npy") if p.stem not in labelled)
        for row in rows:
            if row.chan_id in EXCLUDED:
                continue
            train_path = base / "train" / f"{row.chan_id}.npy"
            test_path = base / "test" / f"{row.chan_id}.npy"
            train, test = load_npy(train_path, FIX), load_npy(test_path, FIX)
            for path, array in ((train_path, train), (test_path, test)):
                if array.ndim != 2:
                    raise DatasetFormatError(f"{path}: shape {array.shape}, expected [time, channels]")
            check_channels(train.shape[1], test.shape[1], str(train_path), str(test_path))
            if row.num_values != test.shape[0]:
                raise DatasetFormatError(
                    f"{label_path}: line {row.line}: num_values {row.num_values} for {row.chan_id} "
                    f"but {test_path} has {test.shape[0]} rows; one label per test row is needed "
                    "(is the test file of that channel right?)"
                )
            labels = labels_from_sequences(row, test.shape[0], str(label_path))
            yield EntityArrays(spacecraft, row.chan_id, train, test, labels)

    return read


def layout(spacecraft: str) -> Layout:
    """The telemanom layout for SMAP or MSL."""
    return Layout(
        name="telemanom",
        expects="data/{train,test}/<channel>.npy + data/labeled_anomalies.csv",
        matches=matches,
        read=reader_for(spacecraft),
    )
