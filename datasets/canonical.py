"""The canonical per-entity store: `<root>/<DATASET>/<entity>.npz` with arrays `train` [T, C],
`test` [T', C] and `labels` [T'] (1 = anomalous test step), as in `../shared/datasets/`.

Values are kept as published (no normalisation, no NaN filling); `datasets.preprocessing` scales
them and applies the NaN policy inside the pipeline.
"""
from __future__ import annotations

import dataclasses
import zipfile
import zlib
from pathlib import Path

import numpy as np


class DatasetFormatError(ValueError):
    """A dataset file that does not follow the canonical layout."""


@dataclasses.dataclass(frozen=True)
class EntityArrays:
    """One entity (an SMD machine, a SMAP channel, ...) as stored."""

    dataset: str
    entity: str
    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray


def validate_entity(train: np.ndarray, test: np.ndarray, labels: np.ndarray, source: str) -> None:
    """Raise DatasetFormatError, naming `source`, if the arrays do not form a valid entity."""
    for name, values in (("train", train), ("test", test), ("labels", labels)):
        if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
            raise DatasetFormatError(f"{source}: {name} holds {values.dtype} values, not numbers: "
                                     "convert the columns to numbers when preparing the dataset")
    if train.ndim != 2 or test.ndim != 2:
        raise DatasetFormatError(
            f"{source}: train and test must be [time, channels], got {train.shape} and {test.shape}"
        )
    if train.shape[1] != test.shape[1]:
        raise DatasetFormatError(
            f"{source}: train has {train.shape[1]} channels but test has {test.shape[1]}"
        )
    if labels.ndim != 1 or labels.shape[0] != test.shape[0]:
        raise DatasetFormatError(
            f"{source}: {labels.shape[0] if labels.ndim == 1 else labels.shape} labels for "
            f"{test.shape[0]} test rows; there must be exactly one label per test row"
        )
    if not np.isin(labels, (0, 1)).all():
        raise DatasetFormatError(f"{source}: labels must be 0 or 1, found {np.unique(labels)[:10]}")
    if train.shape[0] == 0 or test.shape[0] == 0:
        raise DatasetFormatError(f"{source}: train and test must not be empty")
    if train.shape[1] == 0:
        raise DatasetFormatError(f"{source}: train and test have zero channels: a series needs at least one")
    largest = float(np.finfo(np.float32).max)
    for name, values in (("train", train), ("test", test)):
        finite = values[np.isfinite(values)] if np.issubdtype(values.dtype, np.floating) else values
        if finite.size and float(np.abs(finite).max()) > largest:
            raise DatasetFormatError(f"{source}: {name} holds values beyond float32's range (|x| > {largest:.3g}); "
                                     "rescale that channel (e.g. change its unit) when preparing the dataset")


def dataset_dirs(root: Path) -> list[Path]:
    """Folders under `root` holding at least one entity file, sorted by name."""
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("_")
                  and any(p.glob("*.npz")))


def list_entities(root: Path, dataset: str) -> list[str]:
    """Entity names of `dataset` (file stems), sorted."""
    folder = Path(root) / dataset
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}: is the data root right (--data-root)?")
    return sorted(p.stem for p in folder.glob("*.npz"))


def load_entity(root: Path, dataset: str, entity: str) -> EntityArrays:
    """Read and validate one entity file."""
    path = Path(root) / dataset / f"{entity}.npz"
    if not path.is_file():
        known = ", ".join(list_entities(root, dataset)[:5])
        raise FileNotFoundError(f"no entity file {path} (entities found: {known}, ...)")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            missing = {"train", "test", "labels"} - set(arrays.files)
            if missing:
                raise DatasetFormatError(f"{path}: missing array(s) {sorted(missing)}")
            train, test, labels = arrays["train"], arrays["test"], arrays["labels"]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        if isinstance(error, DatasetFormatError):
            raise
        raise DatasetFormatError(f"{path}: not a readable .npz file ({error}); it is truncated or damaged: prepare "
                                 "the dataset again (python -m tsadbench.datasets prepare ... --overwrite)") from error
    validate_entity(train, test, labels, str(path))
    return EntityArrays(dataset, entity, train, test, labels.astype(np.uint8))


def save_entity(root: Path, entity: EntityArrays) -> Path:
    """Write one entity in the canonical layout (float32 values, uint8 labels)."""
    validate_entity(entity.train, entity.test, entity.labels, f"{entity.dataset}/{entity.entity}")
    folder = Path(root) / entity.dataset
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{entity.entity}.npz"
    np.savez_compressed(path, train=entity.train.astype(np.float32), test=entity.test.astype(np.float32),
                        labels=entity.labels.astype(np.uint8))
    return path
