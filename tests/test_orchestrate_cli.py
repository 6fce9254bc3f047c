"""orchestrate.py from a user's shell: bad input ends in one line and exit code 2; a real grid
joins a running cluster with --address and writes its tables."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _orchestrate(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "orchestrate.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, "TSAD_DATA_ROOT": ""})


@pytest.mark.parametrize("args, message", [
    (["--grid", "smoke", "--models", "nope"], "unknown model 'nope': known models are"),
    (["--grid", "smoke", "--datasets", "nope"], "unknown dataset 'nope' (no data root given"),
    (["--grid", "smoke", "--models", "mlp_autoencoder", "--fix", "win_size=100000"],
     "win_size=100000 for mlp_autoencoder on synthetic is longer than the shortest split (800 points): "
     "choose win_size <= 800"),
    (["--grid", "smoke", "--data-root", "/no/such/folder"], "data root /no/such/folder (from --data-root) is not a folder"),
    (["--grid", "nope"], "unknown grid 'nope': known grids are smoke, all"),
    (["--grid", "smoke", "--fix", "nonsense=1"], "--fix nonsense: no model of this grid has that hyperparameter"),
    (["--grid", "smoke", "--plugin", "/no/such/detector.py"],
     "plug-in /no/such/detector.py: no such file; give the path of the detector's .py file"),
    (["--grid", "smoke", "--search-spaces", "/no/such"], "--search-spaces /no/such: not a folder"),
    (["--grid", "smoke", "--plugin", str(ROOT / "examples" / "conv_autoencoder.py"), "--models", "conv_autoencoder",
      "--fix", "win_size=100000"], "win_size=100000 for conv_autoencoder on synthetic is longer than the shortest split"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, message):
    completed = _orchestrate(*args)
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert lines == [f"orchestrate.py: error: {lines[0].split('error: ', 1)[1]}"] and message in lines[0]


def test_a_bad_vus_window_names_the_choices():
    completed = _orchestrate("--grid", "smoke", "--vus-window", "weekly")
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    assert "argument --vus-window: 'weekly': give a number of points (>= 0) or 'period'" in completed.stderr


def test_missing_dataset_under_a_real_root_lists_what_is_there(shared_data_root):
    completed = _orchestrate("--grid", "smoke", "--datasets", "PSM", "--data-root", shared_data_root)
    assert completed.returncode == 2
    assert "unknown dataset 'PSM' under" in completed.stderr and "SMD" in completed.stderr


@pytest.mark.ray
def test_smoke_grid_on_an_existing_cluster_writes_tables(ray_session, tmp_path):
    address = ray_session.get_runtime_context().gcs_address
    completed = _orchestrate("--grid", "smoke", "--address", address, "--num-samples", "2",
                             "--models", "mlp_autoencoder,random",
                             "--storage", str(tmp_path), "--name", "cli")
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "trials: 5 run, 0 failed" in completed.stdout  # 2 + the untrained copy of the best, then 2
    tables = tmp_path / "cli" / "tables"
    assert f"tables: {tables}" in completed.stdout
    main = (tables / "main.md").read_text()
    assert "| MLP autoencoder |" in main and "| Untrained MLP autoencoder |" in main and "| Random score |" in main


def test_resume_needs_a_run_to_resume(tmp_path):
    completed = _orchestrate("--resume", "--storage", str(tmp_path))
    assert completed.returncode == 2
    assert completed.stderr.strip() == f"orchestrate.py: error: no earlier run under {tmp_path} to resume " \
                                       "(pass --storage or --name)"
    (tmp_path / "old").mkdir()
    completed = _orchestrate("--resume", "--storage", str(tmp_path), "--name", "old")
    assert "old holds no tsadbench_command.json: it is not a run to resume" in completed.stderr


def test_precision_reaches_every_trial_and_other_values_are_refused(monkeypatch, tmp_path, orchestrate_module):
    from tsadbench.tuning import runner

    completed = _orchestrate("--grid", "smoke", "--precision", "fp16")
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    assert "argument --precision: invalid choice: 'fp16' (choose from 'fp32', 'bf16')" in completed.stderr
    requests = []

    def planned(request):
        requests.append(request)
        raise ValueError("planned")
    monkeypatch.setattr(runner, "plan_grid", planned)
    with pytest.raises(SystemExit):
        orchestrate_module.main(["--grid", "smoke", "--precision", "bf16", "--storage", str(tmp_path), "--dry-run"])
    assert requests[0].precision == "bf16"
