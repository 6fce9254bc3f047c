"""SMAP and MSL as telemanom publishes them: `{train,test}/<channel>.npy` plus
`labeled_anomalies.csv`, whose `anomaly_sequences` are inclusive [start, end] test indices.

The same files come in three arrangements, all read alike (`ARRANGEMENTS`): labels beside the
train/test folders (telemanom's `data/` folder, our download), a telemanom checkout (labels at
the repository root, arrays in `data/` from its `data.zip`) and the Kaggle archive
`patrickfleith/nasa-anomaly-detection-dataset-smap-msl` (labels at the top, arrays in `data/data/`).
"""
from __future__ import annotations

import csv
import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..canonical import DatasetFormatError, EntityArrays
from .base import Layout, ReadOptions, Record, check_channels, find_base, load_npy, require_file

LABEL_FILE = "labeled_anomalies.csv"
COLUMNS = ("chan_id", "spacecraft", "anomaly_sequences", "num_values")
EXCLUDED = {
    "P-2": "two conflicting rows in labeled_anomalies.csv; the standard split drops it "
           "(published row counts only match without it)",
}
FIX = ("point --from at telemanom's data folder (train/, test/ and labeled_anomalies.csv), "
       "e.g. as written by `python -m tsadbench.datasets download SMAP`")
ARRANGEMENTS = {
    (): "flat: labeled_anomalies.csv beside train/ and test/",
    ("data",): "telemanom checkout: labeled_anomalies.csv at the root, arrays in data/",
    ("data", "data"): "Kaggle archive: labeled_anomalies.csv at the top, arrays in data/data/",
}
"""Where the train/test folders lie below the folder holding labeled_anomalies.csv."""
LABELS_SOURCE = ("labeled_anomalies.csv is in telemanom's repository root "
                 "(https://github.com/khundman/telemanom) and in the Kaggle archive's top folder")


@dataclasses.dataclass(frozen=True)
class LabelRow:
    """One row of labeled_anomalies.csv."""

    chan_id: str
    spacecraft: str
    sequences: tuple[tuple[int, int], ...]
    num_values: int
    line: int


@dataclasses.dataclass(frozen=True)
class Found:
    """Where the label file and the train/test folders of one copy lie."""

    labels: Path
    arrays: Path
    arrangement: str


def _holds_arrays(folder: Path) -> bool:
    return (folder / "test").is_dir() and any((folder / "train").glob("*.npy"))


def _arrays_in(folder: Path) -> Path | None:
    """The first of `folder`, `folder`/data, `folder`/data/data holding train/*.npy and test/."""
    return next((folder.joinpath(*below) for below in ARRANGEMENTS
                 if _holds_arrays(folder.joinpath(*below))), None)


def _labels_in(folder: Path) -> Path | None:
    for candidate in (folder / LABEL_FILE, folder / "data" / LABEL_FILE):
        if candidate.is_file():
            return candidate
    return None


def _copy_in(folder: Path) -> Found | None:
    """The copy whose label file lies in `folder` (or its data/) with arrays at a known place."""
    labels = _labels_in(folder)
    if labels is None:
        return None
    for below, arrangement in ARRANGEMENTS.items():
        if _holds_arrays(labels.parent.joinpath(*below)):
            return Found(labels, labels.parent.joinpath(*below), arrangement)
    return None


def locate(folder: Path) -> Found | None:
    """The copy in `folder` or in the one sub-folder holding it (see find_base)."""
    base = find_base(folder, lambda f: _copy_in(f) is not None)
    return None if base is None else _copy_in(base)


def matches(folder: Path) -> bool:
    """True when `folder` (or a sub-folder) holds labeled_anomalies.csv and train/test arrays in
    one of the ARRANGEMENTS."""
    return locate(folder) is not None


def diagnose(folder: Path) -> str | None:
    """Name the missing half when `folder` holds only the arrays or only the label file."""
    arrays_base = find_base(folder, lambda f: _arrays_in(f) is not None)
    if arrays_base is not None:
        arrays = _arrays_in(arrays_base)
        return (f"found {arrays / 'train'} and {arrays / 'test'} but no {LABEL_FILE} beside them or "
                f"above them: {LABELS_SOURCE}; put it in {arrays_base} (or download it from "
                "https://raw.githubusercontent.com/khundman/telemanom/master/labeled_anomalies.csv)")
    labels_base = find_base(folder, lambda f: _labels_in(f) is not None)
    if labels_base is not None:
        return (f"found {_labels_in(labels_base)} but no train/ and test/ folders of <channel>.npy "
                "beside it, in data/ or in data/data/: unpack telemanom's data.zip (or the Kaggle "
                "archive) there")
    return None


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
        found = locate(folder)
        if found is None:
            raise FileNotFoundError(f"{folder}: no {LABEL_FILE} with train/ and test/ arrays; {FIX}")
        base, label_path = found.arrays, found.labels
        record["arrangement"] = found.arrangement
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
        expects="labeled_anomalies.csv + {train,test}/<channel>.npy beside it, in data/ or in data/data/",
        matches=matches,
        read=reader_for(spacecraft),
        diagnose=diagnose,
    )
