"""Shared test set-up: a quiet environment for Ray and one local Ray session for the whole run."""
import os

for _key, _value in {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_AIR_NEW_OUTPUT": "0",
    "RAY_DEDUP_LOGS": "1",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
}.items():
    os.environ.setdefault(_key, _value)

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets")


@pytest.fixture(scope="session")
def shared_data_root():
    """The staged real datasets beside the checkout (skips where they are absent)."""
    if not os.path.isdir(SHARED_DATA):
        pytest.skip("../shared/datasets is not present on this machine")
    return os.path.abspath(SHARED_DATA)


@pytest.fixture(scope="session")
def ray_session():
    """One quiet local Ray cluster for every Ray test of the run (never two at once), with its
    dashboard on 127.0.0.1 and one declared GPU (none exists: it lets fractional GPU requests be
    scheduled on a CPU machine)."""
    import ray

    start_session_cluster()
    yield ray
    ray.shutdown()


def start_session_cluster() -> None:
    """Start the session's cluster (also again, after a test stopped it to start its own)."""
    import ray

    ray.init(num_cpus=2, num_gpus=1, include_dashboard=True, dashboard_host="127.0.0.1",
             object_store_memory=256 * 2**20, log_to_driver=False, logging_level="warning")


@pytest.fixture(scope="session")
def orchestrate_module():
    """orchestrate.py loaded from its file (it is a script, not a module on sys.path; importing it
    drops the repository root from sys.path, as it does when a user runs it)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("orchestrate_under_test",
                                                  Path(__file__).resolve().parent.parent / "orchestrate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
