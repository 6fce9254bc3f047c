"""SMD as OmniAnomaly publishes it: `ServerMachineDataset/{train,test,test_label,
interpretation_label}/machine-<g>-<i>.txt`, comma-separated values without a header.

TranAD's copy (`data/SMD/`) names the label folder `labels/`; its files are OmniAnomaly's
`test_label/` files (the same git blobs for all 28 machines), so it is read alike and recorded."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..canonical import DatasetFormatError, EntityArrays
from .base import (Layout, ReadOptions, Record, binary_labels, check_channels, check_lengths,
                   check_no_empty_columns, find_base, require_file, require_folder)
from .tables import read_table

FOLDER = "ServerMachineDataset"
FIX = (f"point --from at OmniAnomaly's {FOLDER} folder (or the folder holding it), "
       "e.g. as written by `python -m tsadbench.datasets download SMD`")
INTERPRETATION_LINE = re.compile(r"^(\d+)-(\d+):(\d+(?:,\d+)*)$")
LABEL_FOLDERS = {"test_label": "test_label/<machine>.txt, one 0/1 per line",
                 "labels": "labels/<machine>.txt, one 0/1 per line (TranAD's copy of OmniAnomaly's test_label/)"}


def _holds_machines(folder: Path) -> bool:
    return any((folder / "train").glob("machine-*.txt"))


def _base(folder: Path) -> Path:
    return find_base(folder, _holds_machines, preferred=(FOLDER, "SMD")) or folder


def _label_folder(base: Path) -> str:
    """test_label (OmniAnomaly) or labels (TranAD's copy); raises naming what was found."""
    for name in LABEL_FOLDERS:
        if (base / name).is_dir():
            return name
    raise FileNotFoundError(f"{base}: found train/ and test/ but no test_label/ (OmniAnomaly) or "
                            f"labels/ (TranAD's copy) folder of per-machine 0/1 labels; {FIX}")


def _machine_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


def matches(folder: Path) -> bool:
    """True when `folder` (or its ServerMachineDataset/, SMD/ or only sub-folder with them) holds
    train/machine-*.txt files."""
    return _holds_machines(_base(folder))


def read_values(path: Path) -> np.ndarray:
    """One machine's values [T, 38] from a headerless comma-separated file."""
    table = read_table(require_file(path, FIX))
    values = table.numbers()
    check_no_empty_columns(values, str(path))
    return values


def read_labels(path: Path) -> np.ndarray:
    """One 0/1 label per line."""
    table = read_table(require_file(path, FIX))
    if table.frame.shape[1] != 1:
        raise DatasetFormatError(f"{path}: {table.frame.shape[1]} fields per line; a label file "
                                 "holds exactly one 0 or 1 per line")
    return binary_labels(table.numbers()[:, 0], str(path), table.where)


def read_interpretation(path: Path, test_rows: int, channels: int) -> list[dict[str, list[int]]]:
    """Root-cause lines `start-end:d1,d2,...` (1-based, inclusive) as [{range, dims}, ...]."""
    entries = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            match = INTERPRETATION_LINE.match(line.strip())
            if match is None:
                raise DatasetFormatError(f"{path}: line {number}: {line.strip()!r} is not "
                                         "'start-end:dim,dim,...'; repair or re-download the file")
            start, end = int(match[1]), int(match[2])
            dims = [int(d) for d in match[3].split(",")]
            if not 1 <= start <= end <= test_rows or not all(1 <= d <= channels for d in dims):
                raise DatasetFormatError(
                    f"{path}: line {number}: range {start}-{end} or dims {dims} fall outside the "
                    f"test series (rows 1..{test_rows}, dims 1..{channels}); is it this machine's file?"
                )
            entries.append({"range": [start, end], "dims": dims})
    return entries


def read(folder: Path, options: ReadOptions, record: Record) -> Iterator[EntityArrays]:
    """Yield every machine of the OmniAnomaly layout under `folder`."""
    base = _base(folder)
    train_dir = require_folder(base / "train", FIX)
    machines = sorted((p.stem for p in train_dir.glob("machine-*.txt")), key=_machine_key)
    if not machines:
        raise FileNotFoundError(f"{train_dir}: no machine-*.txt files; {FIX}")
    label_folder = _label_folder(base)
    interpretation_dir = base / "interpretation_label"
    interpretation: dict[str, list[dict[str, list[int]]]] = {}
    for machine in machines:
        train_path, test_path = train_dir / f"{machine}.txt", base / "test" / f"{machine}.txt"
        label_path = base / label_folder / f"{machine}.txt"
        train, test = read_values(train_path), read_values(test_path)
        check_channels(train.shape[1], test.shape[1], str(train_path), str(test_path))
        labels = read_labels(label_path)
        check_lengths(test.shape[0], labels, str(test_path), str(label_path))
        if (interpretation_dir / f"{machine}.txt").is_file():
            interpretation[machine] = read_interpretation(
                interpretation_dir / f"{machine}.txt", test.shape[0], test.shape[1])
        yield EntityArrays("SMD", machine, train, test, labels)
    record["labels"] = LABEL_FOLDERS[label_folder]
    record["interpretation_labels"] = (
        f"{len(interpretation)} machines written to interpretation_labels.json" if interpretation
        else "no interpretation_label folder: not written")
    if interpretation:
        record.setdefault("extra_files", {})["interpretation_labels.json"] = {
            "format": "1-based inclusive row range in test -> 1-based dims",
            "machines": interpretation,
        }


LAYOUT = Layout(
    name="omnianomaly",
    expects=f"{FOLDER}/{{train,test,test_label or labels}}/machine-*.txt (+ interpretation_label/)",
    matches=matches,
    read=read,
)
