"""Cluster behaviour on a real local Ray cluster: the dashboard on loopback only, fractional GPUs
packed, a grid that survives the SIGKILL of its driver, and a second node that receives trials of
a plug-in detector (whose files are gone from disk once planned) and whose death sends them
elsewhere."""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import optuna
import pytest

from tsadbench.results.records import read_grid
from tsadbench.tuning.grids import GridSpec
from tsadbench.tuning.runner import GridRequest, plan_grid, run_grid

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parent.parent


def _reports(experiment_dir: Path) -> dict[str, list[dict]]:
    return {result.parent.name: [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
            for result in experiment_dir.glob("*/result.json")}


def _final_trials(experiment_dir: Path) -> list[dict]:
    """Trials as Ray's newest experiment snapshot records them (orphans of a killed driver excluded)."""
    newest = sorted(experiment_dir.glob("experiment_state-*.json"))[-1]
    state = json.loads(newest.read_text())
    return [json.loads(trial) if isinstance(trial, str) else trial for trial, _ in state["trial_data"]]


def _finished_exactly_once(experiment: Path, planned: int) -> list[str]:
    """Assert that the experiment finished each of its `planned` trials exactly once: its completion
    marker, Ray's snapshot, every trial's epochs reported without a gap, and one COMPLETE Optuna trial
    per Ray trial with the same final value. Returns each trial's final val_loss (4 digits)."""
    summary = json.loads((experiment / "tsadbench_complete.json").read_text())
    assert (summary["trials"], summary["errors"]) == (planned, 0), experiment.name
    trials = _final_trials(experiment)
    assert len(trials) == planned and all(t["status"] == "TERMINATED" for t in trials), experiment.name
    reports = _reports(experiment)
    values = []
    for trial in trials:
        epochs = [r["epoch"] for r in reports[trial["relative_logdir"]]]
        assert sorted(set(epochs)) == list(range(1, max(epochs) + 1)), f"{experiment.name} {trial['relative_logdir']}: {epochs}"
        values.append(f"{reports[trial['relative_logdir']][-1]['val_loss']:.4g}")
    journal = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
        str(experiment / "optuna_journal.log")))
    study = optuna.load_study(study_name=experiment.name, storage=journal)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(f"{t.value:.4g}" for t in complete) == sorted(values), [(t.number, t.state, t.value) for t in study.trials]
    return values


def test_dashboard_answers_on_loopback_only(ray_session, orchestrate_module):
    with urllib.request.urlopen("http://127.0.0.1:8265/", timeout=10) as response:
        assert response.status == 200
    other = ray_session.util.get_node_ip_address()
    assert other != "127.0.0.1"
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(f"http://{other}:8265/", timeout=5)
    assert orchestrate_module.build_parser().parse_args(["--grid", "smoke"]).dashboard_host == "127.0.0.1"


def test_fractional_gpu_requests_share_one_gpu(ray_session, tmp_path):
    grid = GridSpec("gpu", "", models=("mlp_autoencoder",), datasets=("synthetic",), num_samples=4, max_concurrent=4,
                    epochs_cap=3, max_windows_per_epoch=512, tiny_models=True)
    plan = plan_grid(GridRequest(grid=grid, storage=tmp_path, run_name="gpu", protocol="clean",
                                 cpus_per_trial=0.5, gpus_per_trial=0.25, untrained_copies=False))
    assert plan.experiments[0].resources == {"cpu": 0.5, "gpu": 0.25}
    [outcome] = run_grid(plan, printer=lambda line: None)
    assert (outcome.status, outcome.trials, outcome.errors) == ("complete", 4, 0)
    reports = _reports(tmp_path / "gpu" / "mlp_autoencoder__synthetic")
    assert len(reports) == 4 and all(r[-1]["gpu_ids"] == ["0"] for r in reports.values())
    spans = [(r[0]["timestamp"] - r[0]["time_total_s"], r[-1]["timestamp"]) for r in reports.values()]
    most_at_once = max(sum(start <= moment < end for start, end in spans) for moment, _ in spans)
    assert most_at_once >= 3, spans


def test_sigkilled_driver_resumes_every_planned_trial_exactly_once(ray_session, tmp_path):
    address = ray_session.get_runtime_context().gcs_address
    command = [sys.executable, str(ROOT / "orchestrate.py"), "--grid", "all", "--datasets", "synthetic",
               "--models", "mlp_autoencoder", "--fix", "epochs=10", "--fix", "win_size=96",
               "--num-samples", "5", "--max-concurrent", "1", "--protocol", "clean", "--address", address,
               "--storage", str(tmp_path), "--name", "killed", "--no-untrained-copies"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen = []
    for line in driver.stdout:
        seen.append(line)
        if "trial 2/5 done" in line:
            break
    time.sleep(1.0)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    experiment = tmp_path / "killed" / "mlp_autoencoder__synthetic"
    assert not (experiment / "tsadbench_complete.json").exists(), "".join(seen)
    completed = subprocess.run(command + ["--resume"], capture_output=True, text=True, env=env, timeout=600)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    final_values = _finished_exactly_once(experiment, planned=5)
    finished_before_the_kill = {line.split("val_loss=")[1].split()[0] for line in seen if "done after" in line}
    assert len(finished_before_the_kill) == 2
    assert finished_before_the_kill <= set(final_values), (finished_before_the_kill, final_values)
    _, recorded = read_grid(tmp_path / "killed")
    assert sorted(f"{t.last['val_loss']:.4g}" for t in recorded) == sorted(final_values)


def test_sigkill_with_several_experiments_in_flight_resumes_every_planned_trial_exactly_once(ray_session, tmp_path):
    address = ray_session.get_runtime_context().gcs_address
    models = ("mlp_autoencoder", "slmr", "dual_stf")
    command = [sys.executable, str(ROOT / "orchestrate.py"), "--grid", "smoke", "--models", ",".join(models),
               "--epochs-cap", "6", "--fix", "epochs=6", "--num-samples", "3", "--max-concurrent", "1",
               "--cpus-per-trial", "0.5", "--protocol", "clean", "--address", address, "--storage", str(tmp_path),
               "--name", "killed", "--no-untrained-copies"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen, with_a_finished_trial = [], set()
    for line in driver.stdout:
        seen.append(line)
        if "trial 1/3 done" in line:
            with_a_finished_trial.add(line.split("]")[0].lstrip("["))
        if len(with_a_finished_trial) >= 2:
            break
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    experiments = {model: tmp_path / "killed" / f"{model}__synthetic" for model in models}
    in_flight = [m for m, path in experiments.items() if not (path / "tsadbench_complete.json").exists()]
    assert len(in_flight) >= 2, "".join(seen)
    completed = subprocess.run(command + ["--resume"], capture_output=True, text=True, env=env, timeout=900)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    finished_before_the_kill = {line.split("val_loss=")[1].split()[0] for line in seen if "done after" in line}
    final_values = [value for experiment in experiments.values()
                    for value in _finished_exactly_once(experiment, planned=3)]
    assert len(finished_before_the_kill) >= 2 and finished_before_the_kill <= set(final_values)
    _, recorded = read_grid(tmp_path / "killed")
    assert sorted(f"{t.last['val_loss']:.4g}" for t in recorded) == sorted(final_values)


def test_ctrl_c_stops_the_grid_and_resume_finishes_it(ray_session, tmp_path):
    address = ray_session.get_runtime_context().gcs_address
    command = [sys.executable, str(ROOT / "orchestrate.py"), "--grid", "all", "--datasets", "synthetic",
               "--models", "mlp_autoencoder,random", "--fix", "epochs=10", "--fix", "win_size=96",
               "--num-samples", "3", "--max-concurrent", "1", "--protocol", "clean", "--address", address,
               "--storage", str(tmp_path), "--name", "stopped"]
    # A test runner started in the background of a non-interactive shell ignores SIGINT, and so
    # would the driver (Python leaves an ignored SIGINT ignored): give the driver the default.
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"},
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in driver.stdout:
        seen.append(line)
        if "trial 1/3 done" in line:
            driver.send_signal(signal.SIGINT)
            break
    seen.extend(driver.stdout)
    assert driver.wait(timeout=120) == 130, "".join(seen)
    output = "".join(seen)
    assert f"interrupted: continue with  python orchestrate.py --resume --name stopped --storage {tmp_path}" in output
    assert "untrained copy" not in output, "an experiment started after Ctrl-C"
    experiment = tmp_path / "stopped" / "mlp_autoencoder__synthetic"
    assert not (experiment / "tsadbench_complete.json").exists()
    resumed = subprocess.run([sys.executable, str(ROOT / "orchestrate.py"), "--resume", "--storage", str(tmp_path),
                              "--address", address], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    for name in ("mlp_autoencoder__synthetic", "random__synthetic"):
        summary = json.loads((tmp_path / "stopped" / name / "tsadbench_complete.json").read_text())
        assert (summary["trials"], summary["errors"]) == (3, 0)
        assert [t["status"] for t in _final_trials(tmp_path / "stopped" / name)] == ["TERMINATED"] * 3
    untrained = json.loads((tmp_path / "stopped" / "mlp_autoencoder__synthetic__untrained" / "tsadbench_complete.json")
                           .read_text())
    assert (untrained["trials"], untrained["errors"]) == (1, 0)
    assert not (tmp_path / "stopped" / "random__synthetic__untrained").exists()


def _kill_with_children(pid: int) -> None:
    """SIGKILL a process and every descendant (a node's raylet and its worker processes)."""
    listing = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in listing.splitlines():
        child, parent = map(int, line.split())
        children.setdefault(parent, []).append(child)
    doomed, queue = [], [pid]
    while queue:
        current = queue.pop()
        doomed.append(current)
        queue.extend(children.get(current, []))
    for victim in doomed:
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _ray_processes() -> dict[int, str]:
    """Process id -> command line of every Ray process on this machine."""
    listing = subprocess.run(["ps", "-eww", "-o", "pid=,args="], capture_output=True, text=True).stdout
    processes = (line.strip().split(maxsplit=1) for line in listing.splitlines() if line.strip())
    return {int(pid): args for pid, args in (p for p in processes if len(p) == 2) if "ray" in args}


@pytest.fixture
def second_node(ray_session):
    """A second raylet joined to the session cluster; yields (node id, raylet pid). Every process
    it started is killed afterwards by process id (`ray stop` would stop the session cluster too)."""
    before = set(_ray_processes())
    address_file = Path("/tmp/ray/ray_current_cluster")
    address_before = address_file.read_text() if address_file.exists() else None
    known = {n["NodeID"] for n in ray_session.nodes() if n["Alive"]}
    # `python -m` rather than the venv's `ray` script: the node must run this interpreter (a copied
    # venv's scripts may point at another one, whose workers would import another tsadbench).
    subprocess.run([sys.executable, "-m", "ray.scripts.scripts", "start", "--address", ray_session.get_runtime_context().gcs_address,
                    "--num-cpus", "2", "--num-gpus", "0", "--node-manager-port", "45123"],
                   check=True, capture_output=True, timeout=120, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not [n for n in ray_session.nodes() if n["Alive"] and n["NodeID"] not in known]:
            time.sleep(0.5)
        [node] = [n["NodeID"] for n in ray_session.nodes() if n["Alive"] and n["NodeID"] not in known]
        [raylet] = [pid for pid, args in _ray_processes().items() if "--node_manager_port=45123" in args]
        yield node, raylet
    finally:
        for pid, args in _ray_processes().items():
            if pid not in before and ("--node_manager_port=45123" in args or "log_monitor" in args
                                      or "--node-manager-port=45123" in args):
                _kill_with_children(pid)
        if address_before is None:
            address_file.unlink(missing_ok=True)
        else:
            address_file.write_text(address_before)


def _plugin_outside_the_repository(folder: Path, name: str) -> Path:
    """The example plug-in, renamed to `name`, with its YAML, in `folder`."""
    folder.mkdir()
    example = ROOT / "examples" / "conv_autoencoder.py"
    (folder / f"{name}.py").write_text(example.read_text().replace('"conv_autoencoder"', f'"{name}"'))
    (folder / f"{name}.yaml").write_text(example.with_suffix(".yaml").read_text().replace(
        "model: conv_autoencoder", f"model: {name}"))
    return folder / f"{name}.py"


@pytest.mark.slow
def test_second_node_receives_trials_and_its_death_sends_them_elsewhere(second_node, tmp_path):
    second, raylet = second_node
    plugin = _plugin_outside_the_repository(tmp_path / "plugin", "second_node_plugin")
    grid = GridSpec("nodes", "", models=("second_node_plugin",), datasets=("synthetic",), num_samples=4,
                    max_concurrent=4, epochs_cap=4, max_windows_per_epoch=3000, tiny_models=True)
    plan = plan_grid(GridRequest(grid=grid, storage=tmp_path, run_name="nodes", protocol="clean",
                                 cpus_per_trial=1, gpus_per_trial=0, untrained_copies=False, plugins=(str(plugin),)))
    shutil.rmtree(plugin.parent)  # every worker, on either node, must import the files the trials carry
    experiment = tmp_path / "nodes" / "second_node_plugin__synthetic"
    killed = threading.Event()

    def kill_the_second_node_once_it_reports() -> None:
        while not killed.is_set():
            if any(r.get("node_id") == second for rs in _reports(experiment).values() for r in rs):
                _kill_with_children(raylet)
                killed.set()
            time.sleep(0.3)

    watcher = threading.Thread(target=kill_the_second_node_once_it_reports, daemon=True)
    watcher.start()
    [outcome] = run_grid(plan, printer=lambda line: None)
    assert killed.is_set(), "no trial ever ran on the second node"
    assert (outcome.status, outcome.trials, outcome.errors) == ("complete", 4, 0)
    reports = _reports(experiment)
    nodes_per_trial = {name: {r["node_id"] for r in rs} for name, rs in reports.items()}
    assert any(second in nodes and len(nodes) > 1 for nodes in nodes_per_trial.values()), \
        {name: [(r["epoch"], r["node_id"][:8]) for r in rs] for name, rs in reports.items()}
    assert all(t["status"] == "TERMINATED" for t in _final_trials(experiment))
    metadata = json.loads((experiment / "tsadbench_experiment.json").read_text())
    assert metadata["plugins"][0]["module"] == "tsadbench_plugins.second_node_plugin"
