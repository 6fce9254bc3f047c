"""What every raw reader shares: the layout record the registry holds, read options, errors."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..canonical import DatasetFormatError, EntityArrays

Record = dict[str, Any]
"""Every choice a reader makes (policies, dropped columns, excluded entities), for the manifest."""


class UnknownDatasetError(ValueError):
    """A dataset or layout name that no reader knows."""


@dataclasses.dataclass(frozen=True)
class ReadOptions:
    """Choices the user may make when preparing a dataset."""

    drop_startup_hours: float = 0.0
    label_column: str | None = None
    time_column: str | None = None
    train_rows: int | None = None
    test: Path | None = None


@dataclasses.dataclass(frozen=True)
class Layout:
    """One raw layout of one dataset: how to recognise a folder holding it and how to read it."""

    name: str
    expects: str
    matches: Callable[[Path], bool]
    read: Callable[[Path, ReadOptions, Record], Iterator[EntityArrays]]
    options: frozenset[str] = frozenset()
    diagnose: Callable[[Path], str | None] | None = None
    """Given a folder no layout matched, what of this layout it holds and what is missing."""


def find_base(folder: Path, holds: Callable[[Path], bool], preferred: tuple[str, ...] = ()) -> Path | None:
    """The folder that `holds` the files of a layout: `folder` itself, else its sub-folder named
    one of `preferred` (any letter case), else its only other sub-folder that holds them (so
    --from may name the folder a user unpacked or the folder above it).

    Raises DatasetFormatError when several sub-folders hold a copy.
    """
    folder = Path(folder)
    if holds(folder):
        return folder
    children = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    wanted = {name.lower() for name in preferred}
    for child in children:
        if child.name.lower() in wanted and holds(child):
            return child
    found = [child for child in children if holds(child)]
    if len(found) > 1:
        raise DatasetFormatError(f"{folder}: several sub-folders hold a copy ({', '.join(p.name for p in found)}); "
                                 "point --from at one of them")
    return found[0] if found else None


def require_file(path: Path, fix: str) -> Path:
    """Return `path` if it is a file, else raise FileNotFoundError naming it and the fix."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found; {fix}")
    return path


def require_folder(path: Path, fix: str) -> Path:
    """Return `path` if it is a folder, else raise FileNotFoundError naming it and the fix."""
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: folder not found; {fix}")
    return path


def binary_labels(values: np.ndarray, source: str, where: Callable[[int], str]) -> np.ndarray:
    """Labels as uint8, raising (with `where(row)` naming the line) on anything but 0 and 1."""
    bad = np.flatnonzero(~np.isin(values, (0, 1)))
    if bad.size:
        raise DatasetFormatError(
            f"{source}: {where(int(bad[0]))}: label {values[bad[0]]:g} is not 0 or 1 "
            f"({bad.size} such rows); labels must be 0 (normal) or 1 (anomalous)"
        )
    return values.astype(np.uint8)


def check_lengths(test_rows: int, labels: np.ndarray, test_source: str, label_source: str) -> None:
    """Raise DatasetFormatError naming both files when there is not one label per test row."""
    if labels.shape[0] != test_rows:
        raise DatasetFormatError(
            f"{label_source}: {labels.shape[0]} labels for the {test_rows} rows of {test_source}; "
            "there must be exactly one label per test row (is it the label file of that entity?)"
        )


def check_channels(train_columns: int, test_columns: int, train_source: str, test_source: str) -> None:
    """Raise DatasetFormatError naming both files when train and test differ in channels."""
    if train_columns != test_columns:
        raise DatasetFormatError(
            f"{test_source}: {test_columns} channels but {train_source} has {train_columns}; "
            "train and test must hold the same channels in the same order"
        )


def check_no_empty_columns(values: np.ndarray, source: str, names: list[str] | None = None,
                           first_column: int = 1) -> None:
    """Raise DatasetFormatError when a column holds no value at all (NaN on every row).

    `first_column` is the file's 1-based column number of `values[:, 0]`.
    """
    empty = np.flatnonzero(np.isnan(values).all(axis=0))
    if empty.size:
        listed = ", ".join(f"{i + first_column}" + (f" ({names[i]!r})" if names else "")
                           for i in empty[:5])
        raise DatasetFormatError(
            f"{source}: column {listed} is empty (NaN on every row); the file is damaged or "
            "truncated: fetch it again from its source"
        )


def load_npy(path: Path, fix: str) -> np.ndarray:
    """A numeric .npy array, memory-mapped; raises naming the file when missing or damaged."""
    require_file(path, fix)
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DatasetFormatError(f"{path}: not a readable .npy file ({error}); the file is "
                                 "truncated or damaged: re-download or re-create it") from error
    if not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
        raise DatasetFormatError(f"{path}: holds {array.dtype} values, expected numbers")
    return array
