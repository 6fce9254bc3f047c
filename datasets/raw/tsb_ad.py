"""TSB-AD's CSV layout (Liu & Paparrizos, NeurIPS 2024 D&B; TheDatumOrg/TSB-AD, Datasets/README.md):
one file per series named `<index>_<dataset>_id_<id>_<domain>_tr_<train rows>_1st_<first anomaly>.csv`,
the channels (`Data` in the univariate TSB-AD-U files, one column each in TSB-AD-M) and a `Label`
column. The first `tr` rows are the train part, as TSB-AD's own scripts split them."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..canonical import EntityArrays
from .base import Layout, ReadOptions, Record
from .user_tables import split_columns, split_rows, read_user_table

NAME = re.compile(r"^(?P<entity>.+)_tr_(?P<train>\d+)_1st_(?P<first>\d+)\.csv$")
LABEL = "Label"
FIX = ("point --from at a TSB-AD-U or TSB-AD-M folder (or one of its files), named "
       "<index>_<dataset>_id_<id>_<domain>_tr_<train rows>_1st_<first anomaly>.csv")


def tsb_ad_files(source: Path) -> list[Path]:
    """The TSB-AD series files in `source` (a folder) or `source` itself (a file)."""
    if source.is_file():
        if not NAME.match(source.name):
            raise FileNotFoundError(f"{source}: not a TSB-AD file name; {FIX}")
        return [source]
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: no such file or folder; {FIX}")
    files = sorted(p for p in source.iterdir() if p.is_file() and NAME.match(p.name))
    if not files:
        raise FileNotFoundError(f"{source}: holds no TSB-AD file; {FIX}")
    return files


def read(dataset: str, source: Path, options: ReadOptions, record: Record) -> Iterator[EntityArrays]:
    """Yield one entity per file: rows before `tr` are train, the rest test with their labels."""
    user_options = ReadOptions(label_column=LABEL)
    first_anomaly_differs = []
    train_anomalies = 0
    for path in tsb_ad_files(source):
        match = NAME.match(path.name)
        values, labels, _ = split_columns(read_user_table(path), user_options, need_labels=True)
        train, test, train_labels, test_labels = split_rows(path, values, labels, int(match["train"]))
        train_anomalies += int(train_labels.sum())
        found = np.flatnonzero(labels)
        if found.size and int(found[0]) != int(match["first"]):
            first_anomaly_differs.append(f"{path.name}: first Label=1 at row {int(found[0])}")
        yield EntityArrays(dataset, match["entity"], train, test, test_labels)
    record.update({"split": "the first tr_<N> rows of each file are train (TSB-AD's split)", "label_column": LABEL,
                   "train_rows_labelled_anomalous": train_anomalies,
                   "first_anomaly_not_as_named": first_anomaly_differs,
                   "nan_policy": "kept as given (NaN stored, counted); filled inside the pipeline"})


def layout(dataset: str) -> Layout:
    """The TSB-AD layout for a dataset of the user's naming (chosen with --layout tsb-ad)."""
    reader: Callable[[Path, ReadOptions, Record], Iterator[EntityArrays]] = (
        lambda source, options, record: read(dataset, source, options, record))
    return Layout(name="tsb-ad", expects="TSB-AD-U/M files <...>_tr_<N>_1st_<M>.csv with a Label column",
                  matches=lambda source: False, read=reader)
