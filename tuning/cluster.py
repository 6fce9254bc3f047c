"""Starting and stopping Ray: the embedded local cluster by default, or an existing cluster.

The local cluster binds its dashboard to 127.0.0.1 unless asked otherwise, and keeps Ray's
usage reporting off (this tool never phones home). It also keeps every other port on loopback:
by default Ray 2.60 serves Prometheus metrics without a token on 0.0.0.0 (ports 44217, 44227
and a random export port), even with the dashboard off. Ray binds them to loopback only when
its node address is the loopback one, which it allows for single-node clusters through
`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` (Ray's switch for one-machine clusters; it is read both by
the processes Ray starts and, at import, by the driver). A user who sets that variable
themselves gets Ray's own behaviour.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import shutil
import tempfile
from pathlib import Path

import ray
from ray._private import ray_constants

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
CODE_SUFFIXES = (".py", ".yaml")
NOT_SHIPPED = ("tests",)

RAY_ENVIRONMENT = {
    "RAY_USAGE_STATS_ENABLED": "0",
    # Snapshot the experiment state after every controller step (that changed it: see snapshots.py),
    # not every >= 10 s: a driver killed right after a trial finished must not lose that trial (it
    # would be re-sampled on resume).
    "TUNE_GLOBAL_CHECKPOINT_S": "0",
    "RAY_AIR_NEW_OUTPUT": "0",
    "RAY_DEDUP_LOGS": "1",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
    # Experiments run side by side: one whose trials wait for slots that other experiments hold
    # is not short of resources, so Tune's "cluster not having enough resources" warning after
    # 60 s would mislead; a trial that fits no node is named in the plan before the run instead.
    "TUNE_WARN_INSUFFICENT_RESOURCE_THRESHOLD_S": "86400",
    "TUNE_WARN_INSUFFICENT_RESOURCE_THRESHOLD_S_AUTOSCALER": "86400",
    # The untrained copies run as Ray tasks (untrained.py) in pooled workers that keep torch
    # imported. Ray kills an idle worker beyond its soft limit after 1 s, and trial actors count
    # towards that limit, so every copy paid a new worker's imports (about 2.5 CPU-s) for a
    # fraction of a second of scoring; idle workers of the local cluster now live for a minute.
    "RAY_idle_worker_killing_time_threshold_ms": "60000",
}
TOKEN_FILE = Path("~/.ray/auth_token").expanduser()
SINGLE_NODE_VARIABLE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@dataclasses.dataclass(frozen=True)
class ClusterInfo:
    """What the user needs to watch the run."""

    address: str
    dashboard_url: str | None
    token_hint: str | None
    resources: dict[str, float]
    nodes: int


def configure_ray_environment() -> None:
    """Set Ray's environment defaults for a quiet, resumable run (the user's own settings win)."""
    for key, value in RAY_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


@contextlib.contextmanager
def loopback_only():
    """Start a local Ray inside this context to keep all its ports on 127.0.0.1 (see the module
    docstring); the setting is undone on exit, so later `ray start` or `--address` calls of this
    process are unaffected. A user-set `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER` is left alone."""
    if SINGLE_NODE_VARIABLE in os.environ:
        yield
        return
    previous = ray_constants.ENABLE_RAY_CLUSTER
    os.environ[SINGLE_NODE_VARIABLE] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        os.environ.pop(SINGLE_NODE_VARIABLE, None)
        ray_constants.ENABLE_RAY_CLUSTER = previous


def code_package(destination: Path) -> Path:
    """Copy the package's source files (no data, results, tests or virtual environment) to
    `destination/tsadbench`, for Ray's runtime_env `py_modules`; returns that folder."""
    target = destination / "tsadbench"
    packages = [PACKAGE_ROOT] + [p.parent for p in PACKAGE_ROOT.glob("*/__init__.py") if p.parent.name not in NOT_SHIPPED]
    packages += [p.parent for package in packages[1:] for p in package.glob("*/__init__.py")]
    for package in packages:
        for source in package.iterdir():
            if source.is_file() and source.suffix in CODE_SUFFIXES:
                copy = target / source.relative_to(PACKAGE_ROOT)
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, copy)
    return target


def local_resources(num_cpus: int | None = None) -> dict[str, float]:
    """What the embedded local cluster would declare on this machine (Ray's resource names)."""
    import torch

    return {"CPU": float(num_cpus or os.cpu_count() or 1), "GPU": float(torch.cuda.device_count())}


def start_ray(address: str | None, *, dashboard: bool = True, dashboard_host: str = "127.0.0.1",
              num_cpus: int | None = None) -> ClusterInfo:
    """Join the cluster at `address` (shipping our code to its nodes through runtime_env, never
    data or results), or start the embedded local one."""
    configure_ray_environment()
    if address:
        code = code_package(Path(tempfile.mkdtemp(prefix="tsadbench-code-")))
        context = ray.init(address=address, log_to_driver=False, logging_level="warning",
                           runtime_env={"py_modules": [str(code)]})
    else:
        with loopback_only():
            context = ray.init(num_cpus=num_cpus, include_dashboard=dashboard, dashboard_host=dashboard_host,
                               log_to_driver=False, logging_level="warning")
    url = f"http://{context.dashboard_url}" if context.dashboard_url else None
    token_hint = None
    if url and os.environ.get("RAY_AUTH_MODE", "").lower() != "disabled":
        source = os.environ.get("RAY_AUTH_TOKEN_PATH") or str(TOKEN_FILE)
        token_hint = f"the dashboard asks for Ray's token: `cat {source}`"
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    return ClusterInfo(context.address_info.get("address", address or "local"), url, token_hint,
                       dict(ray.cluster_resources()), nodes)


def storage_problem(storage: str, nodes: int, declared_shared: bool) -> str | None:
    """Why `storage` cannot serve a cluster of `nodes` nodes, or None. Since Ray 2.7 every node
    writes its trials' results and checkpoints straight to the storage path (ray#37177), so a
    multi-node run needs a cloud URI or a filesystem that every node mounts at the same path."""
    if nodes <= 1 or "://" in storage or declared_shared:
        return None
    return (f"the cluster has {nodes} nodes but --storage {storage} is a local path: use a folder that every node "
            "mounts at the same path (NFS) and confirm with --shared-storage, or a cloud URI (s3://..., gs://...)")


def stop_ray() -> None:
    """Disconnect, and stop the local cluster if this process started it. Garbage that still holds
    Ray references (a stopped grid's Tune objects sit in reference cycles) is collected first:
    collected after the shutdown, by a collection in any thread (the report's, drawing at the same
    time), an `ObjectRef` would reach the closed core worker, which then ends the process with
    status 1 ("The core worker has already been shutdown"; seen after Ctrl-C)."""
    if ray.is_initialized():
        gc.collect()
        ray.shutdown()
