"""`prepare`: read a dataset in any known raw layout and write the canonical per-entity store
(`<root>/<NAME>/<entity>.npz`) and its manifest. Entities are written one at a time into a
staging folder, so a failure half-way leaves the previous store untouched."""
from __future__ import annotations

import dataclasses
import datetime
import json
import shutil
from pathlib import Path
from typing import Any

from .canonical import save_entity
from .info import entity_stats
from .manifest import dataset_entry, file_entry, update_manifest
from .raw import ReadOptions, dataset_name, find_layout

STAGING = "_staging-{}"


def prepare(dataset: str, source: Path, root: Path, layout: str | None = None,
            options: ReadOptions = ReadOptions(), overwrite: bool = False) -> dict[str, Any]:
    """Convert `dataset` found in `source` into `root`; returns its manifest entry."""
    name = dataset_name(dataset, layout)
    chosen = find_layout(name, Path(source), layout)
    for option, value in dataclasses.asdict(options).items():
        if value != getattr(ReadOptions(), option) and option not in chosen.options:
            raise ValueError(f"--{option.replace('_', '-')} does not apply to the {chosen.name} "
                             f"layout of {name}")
    target = Path(root) / name
    if any(target.glob("*.npz")) and not overwrite:
        raise FileExistsError(f"{target}: already holds {len(list(target.glob('*.npz')))} entity "
                              "files; pass --overwrite to replace them, or choose another --root")
    staging = Path(root) / STAGING.format(name)
    shutil.rmtree(staging, ignore_errors=True)
    record: dict[str, Any] = {
        "layout": chosen.name, "source": str(Path(source).resolve()),
        "prepared_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "options": {key: str(value) if isinstance(value, Path) else value
                    for key, value in dataclasses.asdict(options).items()},
    }
    try:
        files, stats = [], []
        for arrays in chosen.read(Path(source), options, record):
            path = save_entity(staging, arrays)
            stats.append(entity_stats(arrays))
            files.append(file_entry(f"{name}/{path.name}", path, arrays, stats[-1]))
        _replace(staging / name, target, record.pop("extra_files", {}))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    record["extra_files"] = sorted(p.name for p in target.glob("*.json"))
    entry = dataset_entry(name, stats, files, record)
    update_manifest(Path(root), name, files, entry)
    return entry


def _replace(staged: Path, target: Path, extra_files: dict[str, Any]) -> None:
    """Move the staged entity files into `target`, replacing what was there."""
    target.mkdir(parents=True, exist_ok=True)
    for old in [*target.glob("*.npz"), *target.glob("*.json")]:
        old.unlink()
    for new in staged.glob("*.npz"):
        shutil.move(str(new), target / new.name)
    for file_name, content in extra_files.items():
        (target / file_name).write_text(json.dumps(content, indent=1), encoding="utf-8")
