"""What the SWaT and WADI readers share: finding the iTrust files (CSV or XLSX), tidying the
tag columns, dropping empty columns and the plant's start-up hours."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..canonical import DatasetFormatError

SUFFIXES = (".csv", ".xlsx")
SEARCH_DEPTH = 2


def find_file(folder: Path, stems: tuple[str, ...]) -> Path | None:
    """The first file in `folder` or up to SEARCH_DEPTH folders below it (as in the iTrust
    release folders) named one of `stems` + .csv/.xlsx, CSV first."""
    for stem in stems:
        for suffix in SUFFIXES:
            for depth in range(SEARCH_DEPTH + 1):
                found = sorted(folder.glob("*/" * depth + f"{stem}{suffix}"))
                if len(found) > 1:
                    raise DatasetFormatError(f"{folder}: several {stem}{suffix} files ("
                                             f"{', '.join(map(str, found))}); point --from at one copy")
                if found:
                    return found[0]
    return None


def require_any(folder: Path, stems: tuple[str, ...], fix: str) -> Path:
    """Like find_file, raising FileNotFoundError naming the expected files and the fix."""
    found = find_file(folder, stems)
    if found is None:
        names = " or ".join(f"{stem}.csv/.xlsx" for stem in stems)
        raise FileNotFoundError(f"{folder}: no {names} found (searched {SEARCH_DEPTH} levels of "
                                f"sub-folders too); {fix}")
    return found


def tag_name(header: str) -> str:
    """A tag's short name: header stripped, OPC path prefix (`\\\\HOST\\...\\`) removed."""
    return header.strip().split("\\")[-1]


def check_same_tags(train_tags: list[str], test_tags: list[str], train: Path, test: Path) -> None:
    """Raise DatasetFormatError naming both files and the first differing tag."""
    if train_tags != test_tags:
        if len(train_tags) != len(test_tags):
            detail = f"{len(test_tags)} tags against {len(train_tags)}"
        else:
            i = next(i for i, (a, b) in enumerate(zip(train_tags, test_tags)) if a != b)
            detail = f"tag {i + 1} is {test_tags[i]!r} against {train_tags[i]!r}"
        raise DatasetFormatError(f"{test}: {detail} in {train}; train and test must hold the same "
                                 "tags in the same order (are both files from the same release?)")


def drop_empty_columns(train: np.ndarray, test: np.ndarray, tags: list[str]
                       ) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Drop tags that are NaN on every row of train or of test; returns the dropped names too."""
    empty = np.isnan(train).all(axis=0) | np.isnan(test).all(axis=0)
    keep = np.flatnonzero(~empty)
    return train[:, keep], test[:, keep], [tags[i] for i in keep], [tags[i] for i in np.flatnonzero(empty)]


def startup_rows(clock_seconds: np.ndarray, hours: float, source: Path) -> int:
    """How many leading rows fall within the first `hours` of the series."""
    if hours < 0:
        raise ValueError(f"--drop-startup-hours must be >= 0, got {hours}")
    later = np.flatnonzero(clock_seconds >= clock_seconds[0] + hours * 3600.0)
    if not later.size:
        raise DatasetFormatError(f"{source}: dropping {hours} start-up hours leaves no rows; "
                                 "choose fewer hours")
    return int(later[0])
