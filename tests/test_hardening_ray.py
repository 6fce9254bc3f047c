"""Issue 17's faults on the real local cluster: no port of ours answers on a non-loopback address
(8), a trial whose worker is killed and retried to completion is in the tables (3), a grid on a
storage that runs full stops cleanly and resumes to completion with nothing lost (2), and a grid
whose every trial fails exits non-zero (4)."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest
from ray import tune

from tsadbench.results.records import read_grid
from tsadbench.results.report import write_report
from tsadbench.tuning.grids import GridSpec
from tsadbench.tuning.runner import GridRequest, plan_grid
from tsadbench.tuning.experiment import run_experiment

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = set(), [pid]
    while stack:
        current = stack.pop()
        found.add(current)
        stack.extend(children.get(current, []))
    return found


def _listening_sockets(pids: set[int]) -> list[tuple[str, int]]:
    """(hex address, port) of every TCP socket listening in one of `pids`."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                address, port = fields[1].split(":")
                found.append((address, int(port, 16)))
    return found


def _outside_address() -> str:
    """An address of this machine that is not loopback (where the review found the metrics)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
        return probe.getsockname()[0]


@pytest.fixture
def own_local_cluster(ray_session):
    """The local cluster exactly as `orchestrate.py` starts it (the session's is stopped meanwhile:
    never two clusters at once), then the session's again."""
    from tests.conftest import start_session_cluster
    from tsadbench.tuning.cluster import start_ray, stop_ray

    ray_session.shutdown()
    try:
        yield start_ray(None, dashboard=True, num_cpus=1)
    finally:
        stop_ray()
        start_session_cluster()


def test_8_no_port_of_ours_answers_on_a_non_loopback_address(own_local_cluster):
    outside = _outside_address()
    assert not outside.startswith("127.")
    sockets = _listening_sockets(_descendants(os.getpid()))
    ports = {port for _, port in sockets}
    assert {44217, 44227, 8265} <= ports, sorted(ports)  # the metrics ports and the dashboard are up
    assert [(a, p) for a, p in sockets if a not in LOOPBACK] == []
    for port in sorted(ports):
        with pytest.raises(OSError):
            connection = http.client.HTTPConnection(outside, port, timeout=3)
            connection.request("GET", "/metrics")
            connection.getresponse()
    connection = http.client.HTTPConnection("127.0.0.1", 44227, timeout=5)
    connection.request("GET", "/metrics")
    assert connection.getresponse().status == 200  # metrics still there for a local Prometheus


TINY = GridSpec("tiny", "test grid", models=("mlp_autoencoder",), datasets=("synthetic",), num_samples=1,
                max_concurrent=1, epochs_cap=3, max_windows_per_epoch=128, tiny_models=True)


class KillWorkerOnce(tune.Callback):
    """SIGKILLs the worker process of the first trial after its first epoch, once."""

    def __init__(self):
        self.killed: list[int] = []

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if not self.killed and result.get("epoch") == 1:
            self.killed.append(result["pid"])
            os.kill(result["pid"], signal.SIGKILL)


def test_3_a_trial_whose_worker_was_killed_and_retried_is_in_the_tables(ray_session, tmp_path):
    import ray

    plan = plan_grid(GridRequest(grid=TINY, storage=tmp_path, run_name="run", fixed={"epochs": 3},
                                 untrained_copies=False))
    (experiment,) = plan.experiments
    killer = KillWorkerOnce()
    outcome = run_experiment(experiment, ray.put(plan.datasets["synthetic"]), [killer])
    assert killer.killed and outcome.status == "complete"
    (trial,) = read_grid(tmp_path / "run")[1]
    assert (trial.trial_dir / "error.txt").is_file()  # the killed attempt's error stays on disk
    assert trial.status == "TERMINATED" and trial.retried and [r["epoch"] for r in trial.epochs] == [1, 2, 3]
    trials = pd.read_csv(write_report(tmp_path / "run")["trials.csv"])
    assert list(trials.status) == ["TERMINATED"] and trials.in_tables.all()
    assert trials.error.iloc[0].startswith("retried after: ")
    assert "| MLP autoencoder | —" not in (tmp_path / "run" / "tables" / "main.md").read_text()


def _orchestrate(*args: str, address: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "orchestrate.py"), *args, "--address", address],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "TSAD_DATA_ROOT": ""})


def test_4_a_grid_whose_every_trial_failed_exits_non_zero(ray_session, tmp_path):
    completed = _orchestrate("--grid", "smoke", "--models", "mlp_autoencoder", "--num-samples", "1",
                             "--fix", "lr=1e30", "--no-untrained-copies", "--epochs-cap", "1",
                             "--storage", str(tmp_path), "--name", "doomed",
                             address=ray_session.get_runtime_context().gcs_address)
    assert completed.returncode == 1, completed.stderr[-2000:]
    assert "trials: 1 run, 1 failed" in completed.stdout
    assert "error: every trial failed (1 of 1)" in completed.stderr


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MiB tmpfs (root only; room for the run once the filler is gone); skipped where mount
    is not allowed."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root and mount for a small tmpfs")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def _trial_statuses(grid: Path) -> dict[str, str]:
    return {f"{t.experiment}/{t.trial_dir.name}": t.status for t in read_grid(grid)[1]}


def test_2_a_full_disk_stops_the_grid_and_resume_finishes_it_with_nothing_lost(ray_session, small_disk):
    address = ray_session.get_runtime_context().gcs_address
    run = ["--grid", "smoke", "--models", "mlp_autoencoder", "--num-samples", "3", "--max-concurrent", "1",
           "--fix", "epochs=2", "--no-untrained-copies", "--storage", str(small_disk), "--name", "full"]
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (16 * 2**20 - 700 * 2**10))  # leaves ~700 KiB: the first trial (~1.3 MB) fills it
    first = _orchestrate(*run, address=address)
    assert first.returncode == 75, (first.stdout[-2000:], first.stderr[-2000:])
    last = first.stderr.strip().splitlines()[-1]  # before it, Ray logs each failed trial as it does for any
    assert last.startswith("orchestrate.py: error: no space left on the device")
    assert f"--resume --name full --storage {small_disk}" in last
    assert "orchestrate.py\", line" not in first.stderr  # the driver itself did not crash
    before = _trial_statuses(small_disk / "full")
    finished_before = {name for name, status in before.items() if status == "TERMINATED"}

    filler.unlink()
    second = _orchestrate("--resume", "--name", "full", "--storage", str(small_disk), address=address)
    assert second.returncode == 0, (second.stdout[-3000:], second.stderr[-3000:])
    assert "trials: 3 run, 0 failed" in second.stdout
    after = _trial_statuses(small_disk / "full")
    assert sorted(after.values()) == ["TERMINATED"] * 3
    assert finished_before <= set(after)  # no trial finished before the fault was lost or redone under a new id
    trials = pd.read_csv(small_disk / "full" / "tables" / "trials.csv")
    assert len(trials) == 3 and set(trials.status) == {"TERMINATED"}
    experiment = small_disk / "full" / "mlp_autoencoder__synthetic"
    assert json.loads((experiment / "tsadbench_complete.json").read_text())["trials"] == 3
    journal = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
        str(experiment / "optuna_journal.log")))
    study = optuna.load_study(study_name="mlp_autoencoder__synthetic", storage=journal)
    states = [t.state for t in study.trials]  # trials the full disk failed stay FAIL: the journal only appends
    assert states.count(optuna.trial.TrialState.COMPLETE) == 3, states  # each planned trial told once
    assert optuna.trial.TrialState.RUNNING not in states, states
