"""Starting and stopping Ray: the embedded local cluster by default, or an existing cluster.

The local cluster binds its dashboard to 127.0.0.1 unless asked otherwise, and keeps Ray's
usage reporting off (this tool never phones home).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import ray

QUIET_ENVIRONMENT = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AIR_NEW_OUTPUT": "0",
    "RAY_DEDUP_LOGS": "1",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
}
TOKEN_FILE = Path("~/.ray/auth_token").expanduser()


@dataclasses.dataclass(frozen=True)
class ClusterInfo:
    """What the user needs to watch the run."""

    address: str
    dashboard_url: str | None
    token_hint: str | None
    resources: dict[str, float]


def quiet_ray_environment() -> None:
    """Set Ray's environment defaults for a quiet run (explicit settings of the user win)."""
    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


def start_ray(address: str | None, *, dashboard: bool = True, dashboard_host: str = "127.0.0.1",
              num_cpus: int | None = None) -> ClusterInfo:
    """Join the cluster at `address`, or start the embedded local one."""
    quiet_ray_environment()
    if address:
        context = ray.init(address=address, log_to_driver=False, logging_level="warning")
    else:
        context = ray.init(num_cpus=num_cpus, include_dashboard=dashboard, dashboard_host=dashboard_host,
                           log_to_driver=False, logging_level="warning")
    url = f"http://{context.dashboard_url}" if context.dashboard_url else None
    token_hint = None
    if url and os.environ.get("RAY_AUTH_MODE", "").lower() != "disabled":
        source = os.environ.get("RAY_AUTH_TOKEN_PATH") or str(TOKEN_FILE)
        token_hint = f"the dashboard asks for Ray's token: `cat {source}`"
    return ClusterInfo(context.address_info.get("address", address or "local"), url, token_hint,
                       dict(ray.cluster_resources()))


def stop_ray() -> None:
    """Disconnect, and stop the local cluster if this process started it."""
    if ray.is_initialized():
        ray.shutdown()
