"""What an experiment ran with, recorded in its `tsadbench_experiment.json` under `provenance`:
package versions, the git commit with a dirty flag, the machine, the sha256 of every dataset file
used and a hash of the configuration. Free of Ray: versions are read from the installed
distributions' metadata, never by importing the packages.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from ..datasets.canonical import EntityArrays
from ..datasets.manifest import sha256_of

#: Distributions whose versions every experiment records (ours is `tsadbench`).
PACKAGES = ("tsadbench", "torch", "ray", "optuna", "numpy", "scipy", "pandas", "scikit-learn")
#: Metadata keys that change from one launch to the next without changing what runs.
VOLATILE_KEYS = ("started_at", "provenance", "code_version", "experiment", "complete")
REPOSITORY = Path(__file__).resolve().parent.parent


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """The installed version of each distribution ("not installed" if absent)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=REPOSITORY, text=True, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def git_state() -> dict[str, Any]:
    """The commit our code was run from and whether tracked or untracked files differed from it
    (`dirty`); None for both outside a git checkout (an installed wheel)."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=normal")
    return {"commit": commit.strip() if commit else None,
            "dirty": bool(status.strip()) if status is not None else None,
            "changed_files": len(status.splitlines()) if status else 0}


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def _gpus() -> list[str]:
    """Names of the CUDA devices the driver sees (torch's view; empty without torch or CUDA)."""
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def machine() -> dict[str, Any]:
    """The driver's machine: host, OS, Python, CPU model and count, GPU models and count.

    On a cluster the trials may run elsewhere: each trial's reports carry its `node_id`."""
    gpus = _gpus()
    return {"host": platform.node(), "platform": platform.platform(), "python": platform.python_version(),
            "cpu_model": _cpu_model(), "cpu_count": os.cpu_count(), "gpu_models": sorted(set(gpus)),
            "gpu_count": len(gpus)}


def array_digest(entities: list[EntityArrays]) -> str:
    """sha256 of the arrays of built-in (generated) entities, which have no file."""
    digest = hashlib.sha256()
    for entity in entities:
        for array in (entity.train, entity.test, entity.labels):
            digest.update(str((array.dtype.str, array.shape)).encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


def dataset_hashes(files: list[Path], root: Path | None, entities: list[EntityArrays]) -> dict[str, str]:
    """sha256 per dataset file used (keyed by its path under the data root), or for a built-in
    dataset the digest of its generated arrays (keyed `<name> (generated)`)."""
    if not files:
        return {f"{entities[0].dataset} (generated)": array_digest(entities)} if entities else {}
    return {(path.relative_to(root) if root else path).as_posix(): sha256_of(path) for path in files}


def config_hash(metadata: dict[str, Any]) -> str:
    """sha256 (16 hex digits) of an experiment's metadata without its volatile keys: equal hashes
    mean the same model, data, settings, search space, objective and protocols."""
    stable = {key: value for key, value in metadata.items() if key not in VOLATILE_KEYS}
    text = json.dumps(stable, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def experiment_provenance(metadata: dict[str, Any]) -> dict[str, Any]:
    """The `provenance` block of an experiment's metadata."""
    return {"packages": package_versions(), "git": git_state(), "machine": machine(),
            "config_hash": config_hash(metadata)}
