"""Readers of the raw layouts users have (one module per layout) and the registry that maps a
dataset name to the layouts it may come in."""
from __future__ import annotations

import re
from pathlib import Path

from . import preprocessed, psm, smd, swat, telemanom, tranad, tsb_ad, tslib_swat, user_tables, wadi
from .base import Layout, ReadOptions, Record, UnknownDatasetError

READERS: dict[str, tuple[Layout, ...]] = {
    "SMD": (smd.LAYOUT, preprocessed.layout("SMD"), tranad.layout("SMD")),
    "SMAP": (telemanom.layout("SMAP"), preprocessed.layout("SMAP"), tranad.layout("SMAP")),
    "MSL": (telemanom.layout("MSL"), preprocessed.layout("MSL"), tranad.layout("MSL")),
    "PSM": (psm.LAYOUT, preprocessed.layout("PSM")),
    "SWaT": (swat.LAYOUT, tslib_swat.LAYOUT, preprocessed.layout("SWaT")),
    "WADI": (wadi.LAYOUT, preprocessed.layout("WADI")),
}

# Layouts for a dataset of the user's naming, chosen with --layout (never detected).
USER_LAYOUTS = {"csv": user_tables.layout, "tsb-ad": tsb_ad.layout}
USER_DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

__all__ = ["READERS", "USER_LAYOUTS", "Layout", "ReadOptions", "Record", "UnknownDatasetError", "dataset_name",
           "find_layout"]


def dataset_name(name: str, layout: str | None = None) -> str:
    """The registered spelling of `name` (any letter case), or, for a user layout, `name` checked
    as a folder name; raises listing the known names."""
    if layout in USER_LAYOUTS:
        if not USER_DATASET_NAME.match(name) or name == "synthetic":
            raise UnknownDatasetError(f"dataset name {name!r}: use letters, digits, '_', '-' or '.', starting "
                                      "with a letter or digit ('synthetic' is built in)")
        return name
    for known in READERS:
        if known.lower() == name.lower():
            return known
    raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(READERS)} (your own "
                              f"files: --layout {' or --layout '.join(USER_LAYOUTS)})")


def find_layout(dataset: str, folder: Path, layout: str | None = None) -> Layout:
    """The layout of `dataset` found in `folder` (or the one named `layout`)."""
    if layout in USER_LAYOUTS:
        return USER_LAYOUTS[layout](dataset)
    layouts = READERS[dataset_name(dataset)]
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"{folder}: folder not found; pass --from the folder holding your "
                                f"{dataset} files (or run `python -m tsadbench.datasets download {dataset}`)")
    if layout is not None:
        chosen = [candidate for candidate in layouts if candidate.name == layout]
        if not chosen:
            raise UnknownDatasetError(f"unknown layout {layout!r} for {dataset}; known layouts: "
                                      f"{', '.join(candidate.name for candidate in layouts)}")
        return chosen[0]
    for candidate in layouts:
        if candidate.matches(Path(folder)):
            return candidate
    found = [note for candidate in layouts if candidate.diagnose and (note := candidate.diagnose(Path(folder)))]
    if found:
        raise FileNotFoundError(f"{folder}: no complete {dataset} layout: {'; '.join(found)}")
    expected = "; ".join(f"{candidate.name}: {candidate.expects}" for candidate in layouts)
    raise FileNotFoundError(f"{folder}: holds none of the {dataset} layouts ({expected}); point "
                            "--from at the folder holding those files (or the folder above it)")
