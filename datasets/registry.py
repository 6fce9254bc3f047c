"""Which datasets exist and how to load them: built-in sources (the synthetic generator) by name,
and every folder of the canonical store under the data root.

A dataset is named `NAME` (all entities, concatenated as the papers do) or `NAME/ENTITY`
(one entity, e.g. `SMD/machine-1-2`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from .canonical import EntityArrays, dataset_dirs, list_entities, load_entity
from .synthetic import generate_synthetic

DATA_ROOT_ENV = "TSAD_DATA_ROOT"
PUBLIC_BENCHMARKS = ("SMD", "SMAP", "MSL", "PSM", "SWaT", "WADI")

BUILTIN_SOURCES: dict[str, Callable[[], list[EntityArrays]]] = {
    "synthetic": lambda: [generate_synthetic().arrays],
}


class UnknownDatasetError(KeyError):
    """A dataset name that is neither built in nor found under the data root."""

    def __str__(self) -> str:
        return str(self.args[0])


def resolve_data_root(argument: str | None) -> Path | None:
    """The data root from the command line, else from $TSAD_DATA_ROOT, else none."""
    chosen = argument or os.environ.get(DATA_ROOT_ENV)
    if not chosen:
        return None
    root = Path(chosen).expanduser().resolve()
    if not root.is_dir():
        origin = "--data-root" if argument else f"${DATA_ROOT_ENV}"
        raise FileNotFoundError(f"data root {root} (from {origin}) is not a folder: fix the path")
    return root


def available_datasets(root: Path | None) -> list[str]:
    """Built-in datasets, then every dataset folder under `root`."""
    found = [p.name for p in dataset_dirs(root)] if root else []
    return list(BUILTIN_SOURCES) + found


def missing_public_benchmarks(root: Path | None) -> list[str]:
    """The public benchmarks that are not under `root`."""
    found = set(available_datasets(root))
    return [name for name in PUBLIC_BENCHMARKS if name not in found]


ENTITY_POLICIES = ("concatenated", "per-entity")


def expand_entities(spec: str, root: Path | None) -> list[str]:
    """The per-entity policy: `NAME` becomes `NAME/e1`, `NAME/e2`, ...; built-in datasets and
    `NAME/ENTITY` stay as they are."""
    if spec in BUILTIN_SOURCES or "/" in spec:
        return [spec]
    _require_known(spec, root)
    return [f"{spec}/{entity}" for entity in list_entities(root, spec)]


def _require_known(name: str, root: Path | None) -> None:
    if name not in available_datasets(root):
        where = f"under {root}" if root else "(no data root given: use --data-root or $TSAD_DATA_ROOT)"
        raise UnknownDatasetError(
            f"unknown dataset '{name}' {where}; available: {', '.join(available_datasets(root))}"
        )


def dataset_files(spec: str, root: Path | None) -> list[Path]:
    """The entity files that `spec` names (none for a built-in dataset), in sorted entity order."""
    if spec in BUILTIN_SOURCES:
        return []
    name, _, entity = spec.partition("/")
    _require_known(name, root)
    return [Path(root) / name / f"{e}.npz" for e in ([entity] if entity else list_entities(root, name))]


def load_dataset(spec: str, root: Path | None) -> list[EntityArrays]:
    """The entities that `spec` names, in sorted entity order."""
    if spec in BUILTIN_SOURCES:
        return BUILTIN_SOURCES[spec]()
    name, _, entity = spec.partition("/")
    _require_known(name, root)
    entities = [entity] if entity else list_entities(root, name)
    return [load_entity(root, name, e) for e in entities]
