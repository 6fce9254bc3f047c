"""`<root>/MANIFEST.json`: per file sha256, shapes, dtypes, anomalies, segments and NaN count; per
dataset the totals and every choice the preparation made (same schema as ../shared/datasets)."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .canonical import DatasetFormatError, EntityArrays
from .info import EntityStats, summarise

MANIFEST = "MANIFEST.json"
FORMAT = {
    "file": "<DATASET>/<entity>.npz (numpy.savez_compressed)",
    "arrays": {"train": "float32 [T_train, C]", "test": "float32 [T_test, C]",
               "labels": "uint8 [T_test], 1 = anomalous test step"},
}


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def file_entry(relative: str, path: Path, arrays: EntityArrays, stats: EntityStats) -> dict[str, Any]:
    """The manifest entry of one written entity file."""
    return {
        "path": relative, "bytes": path.stat().st_size, "sha256": sha256_of(path),
        "train_shape": list(arrays.train.shape), "test_shape": list(arrays.test.shape),
        "labels_shape": list(arrays.labels.shape),
        "dtypes": {"train": "float32", "test": "float32", "labels": "uint8"},
        "anomalies": stats.anomalies, "anomaly_ratio": stats.anomalies / stats.test_rows,
        "segments": stats.segments, "nan_count": stats.nan_count,
    }


def dataset_entry(dataset: str, stats: list[EntityStats], files: list[dict[str, Any]],
                  preparation: dict[str, Any]) -> dict[str, Any]:
    """Totals of a dataset from its entities' statistics, with the preparation record."""
    total = summarise(dataset, stats)
    return {
        "entities": total.entities, "train_rows": total.train_rows, "test_rows": total.test_rows,
        "anomalies": total.anomalies, "anomaly_ratio": total.anomaly_ratio,
        "segments": total.segments, "nan_count": total.nan_count,
        "bytes": sum(f["bytes"] for f in files), "dims": list(total.channels),
        "preparation": preparation,
    }


def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest under `root`, or an empty one."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        return {"format": FORMAT, "generated_by": "python -m tsadbench.datasets prepare",
                "datasets": {}, "files": []}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DatasetFormatError(f"{path}: not valid JSON ({error}); delete it and prepare the "
                                 "datasets again") from error


def update_manifest(root: Path, dataset: str, files: list[dict[str, Any]], entry: dict[str, Any]) -> Path:
    """Replace `dataset`'s entries in `<root>/MANIFEST.json` (others kept); written atomically."""
    manifest = read_manifest(root)
    manifest.setdefault("datasets", {})[dataset] = entry
    manifest["files"] = [f for f in manifest.get("files", [])
                         if not f["path"].startswith(f"{dataset}/")] + files
    manifest["files"].sort(key=lambda f: f["path"])
    path = Path(root) / MANIFEST
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(temporary, path)
    return path
