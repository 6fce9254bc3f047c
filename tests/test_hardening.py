"""Hostile input, without Ray: every case of issue 17's review as a table of (input, expected exit
code, expected words), run through orchestrate's own `main` with Ray's start replaced by a
failure (a case that reaches Ray fails the test), plus the storage, checkpoint and records
faults that need no cluster.

Numbers in the ids are the defects of issue 17: 1 code execution from a run folder, 2 full disk,
3 retried trial lost from the tables, 4 run names and resume, 5 numbers never checked, 6
tracebacks, 7 YAML alias bomb.
"""
from __future__ import annotations

import errno
import json
import os
import pickle
import subprocess
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from tests.test_results_fakes import FakeTrial, config, random_reports, write_experiment
from tsadbench.evaluation import cli as evaluation_cli
from tsadbench.results.records import read_grid
from tsadbench.results.report import write_report
from tsadbench.search_spaces import SearchSpaceError, load_search_space
from tsadbench.tuning import run_files
from tsadbench.tuning.run_files import (RunFolderError, StorageFullError, atomic_write_text, back_up_ray_state,
                                        repair_ray_state, write_run_files)
from tsadbench.tuning.trainable import CheckpointRefusedError, load_state, save_state


@pytest.fixture(autouse=True)
def _own_signing_key(tmp_path, monkeypatch):
    monkeypatch.setenv("TSADBENCH_KEY_FILE", str(tmp_path / "key" / "run-signing.key"))
    monkeypatch.setenv("TSAD_DATA_ROOT", "")


@pytest.fixture
def no_ray(monkeypatch):
    """Any call that would start Ray fails the test: these cases must stop before it."""
    import tsadbench.tuning.cluster as cluster

    def refuse(*args, **kwargs):
        raise AssertionError("Ray was started for input that should have been refused")

    monkeypatch.setattr(cluster, "start_ray", refuse)


def _entity(root: Path, dataset: str, *, train=None, test=None, labels=None) -> Path:
    rng = np.random.default_rng(0)
    train = rng.normal(size=(400, 2)).astype(np.float32) if train is None else train
    test = rng.normal(size=(300, 2)).astype(np.float32) if test is None else test
    if labels is None:
        labels = np.zeros(len(test), np.uint8)
        labels[100:120] = 1
    (root / dataset).mkdir(parents=True, exist_ok=True)
    np.savez(root / dataset / "e1.npz", train=train, test=test, labels=labels)
    return root


def _signed_run(storage: Path, name: str, command: list[str]) -> Path:
    write_run_files(storage / name, command)
    return storage / name


def _read_only_storage(tmp: Path) -> Path:
    folder = tmp / "read-only"
    folder.mkdir()
    if os.geteuid() == 0:  # root ignores permissions: mount a read-only file system instead
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                          capture_output=True).returncode != 0:
            pytest.skip("running as root where mount is not allowed: no read-only folder to test with")
    else:
        folder.chmod(0o555)
    return folder


MLP = ["--grid", "smoke", "--models", "mlp_autoencoder"]

# (id, arguments (a callable of the test's tmp folder, for cases that need files), exit code, words)
CLI_CASES: list[tuple[str, Callable[[Path], list[str]] | list[str], int, str]] = [
    ("4-name-parent", MLP + ["--name", "../../x"], 2, "--name '../../x' must be a single folder name under --storage"),
    ("4-name-absolute", MLP + ["--name", "/abs/x"], 2, "--name '/abs/x' must be a single folder name"),
    ("4-name-nested", MLP + ["--name", "grp/run1"], 2, "--name 'grp/run1' must be a single folder name"),
    ("4-resume-nested-name", lambda t: ["--resume", "--storage", str(t), "--name", "grp/run1"], 2,
     "--name 'grp/run1' must be a single folder name"),
    ("4-resume-changed-arguments",
     lambda t: ["--resume", "--storage", str(_signed_run(t, "run", MLP + ["--num-samples", "3"]).parent), "--name",
                "run", "--num-samples", "5", "--protocol", "clean"], 2,
     "these differ: --num-samples 5 (the run has 3); --protocol 'clean' (the run has 'paper')"),
    ("5-num-samples-0", MLP + ["--num-samples", "0"], 2, "--num-samples must be an integer >= 1, got 0"),
    ("5-num-cpus-0", MLP + ["--num-cpus", "0"], 2, "--num-cpus must be an integer >= 1, got 0"),
    ("5-time-budget-negative", MLP + ["--time-budget", "-5"], 2, "--time-budget must be a number > 0, got -5.0"),
    ("5-time-budget-nan", MLP + ["--time-budget", "nan"], 2, "--time-budget must be a number > 0, got nan"),
    ("5-cpus-per-trial-negative", MLP + ["--cpus-per-trial", "-1"], 2, "--cpus-per-trial must be a number > 0"),
    ("5-gpus-per-trial-negative", MLP + ["--gpus-per-trial", "-0.5"], 2, "--gpus-per-trial must be a number >= 0"),
    ("5-max-concurrent-negative", MLP + ["--max-concurrent", "-1"], 2, "--max-concurrent must be an integer >= 1"),
    ("5-max-concurrent-experiments-0", MLP + ["--max-concurrent-experiments", "0"], 2,
     "--max-concurrent-experiments must be an integer >= 1, got 0"),
    ("5-epochs-cap-negative", MLP + ["--epochs-cap", "-1"], 2, "--epochs-cap must be an integer >= 1, got -1"),
    ("5-seeds-negative", MLP + ["--seeds", "-2"], 2, "--seeds must be an integer >= 0, got -2"),
    ("5-max-windows-0", MLP + ["--max-windows-per-epoch", "0"], 2, "--max-windows-per-epoch must be an integer >= 1"),
    ("5-eval-every-0", MLP + ["--eval-every", "0"], 2, "--eval-every must be an integer >= 1, got 0"),
    ("5-fix-lr-negative", MLP + ["--fix", "lr=-1"], 2, "mlp_autoencoder on synthetic: need lr > 0"),
    ("5-fix-win-size-negative", MLP + ["--fix", "win_size=-5"], 2, "win_size must be >= 1, got -5"),
    ("5-fix-d-model-0", MLP + ["--fix", "d_model=0"], 2, "d_model and hidden must be >= 1, got 0"),
    ("5-fix-anomaly-ratio-500", MLP + ["--fix", "anomaly_ratio=500"], 2,
     "anomaly_ratio is a percentage of points and must lie in (0, 100), got 500"),
    ("5-fix-epochs-0", MLP + ["--fix", "epochs=0"], 2, "epochs must be an integer >= 1, got 0"),
    ("5-fix-lr-infinite", MLP + ["--fix", "lr=.inf"], 2, "lr must be a finite float, got inf"),
    ("5-fix-lr-exponent-without-dot", MLP + ["--fix", "lr=-1e30"], 2, "need lr > 0"),
    ("5-all-one-labels", lambda t: MLP + ["--datasets", "ONES", "--data-root",
                                          str(_entity(t, "ONES", labels=np.ones(300, np.uint8)))], 2,
     "every test point is labelled anomalous"),
    ("5-zero-channels", lambda t: MLP + ["--datasets", "EMPTY", "--data-root", str(_entity(
        t, "EMPTY", train=np.zeros((400, 0), np.float32), test=np.zeros((300, 0), np.float32)))], 2,
     "have zero channels"),
    ("5-float32-overflow", lambda t: MLP + ["--datasets", "HUGE", "--data-root", str(_entity(
        t, "HUGE", train=np.full((400, 2), 1e300)))], 2, "holds values beyond float32's range"),
    ("6-fix-win-size-text", MLP + ["--fix", "win_size=abc"], 2, "win_size must be a finite int, got 'abc' (str)"),
    ("6-fix-python-tag", lambda t: MLP + ["--fix", f"a=!!python/object/apply:os.system ['touch {t}/owned']"], 2,
     "argument --fix: a: \"!!python/object/apply:os.system"),
    ("6-string-npz", lambda t: MLP + ["--datasets", "TEXT", "--data-root", str(_entity(
        t, "TEXT", train=np.full((400, 2), "x")))], 2, "train holds <U1 values, not numbers"),
    ("6-read-only-storage", lambda t: MLP + ["--storage", str(_read_only_storage(t) / "runs")], 2,
     "cannot write the run folder"),
    ("1-resume-unsigned-folder", lambda t: ["--resume", "--storage", str(t), "--name", "planted"], 2,
     "carries no valid signature of this account"),
    ("1-resume-trusted-folder", lambda t: ["--resume", "--trust-run", "--storage", str(t), "--name", "planted"], 2,
     "unknown model 'nope'"),
]


@pytest.mark.parametrize("make_args, code, words", [case[1:] for case in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_hostile_input_is_refused_before_ray_with_one_line(make_args, code, words, tmp_path, capsys, no_ray,
                                                            orchestrate_module):
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "tsadbench_command.json").write_text(json.dumps(["--grid", "smoke", "--models", "nope"]))
    args = make_args(tmp_path) if callable(make_args) else make_args
    try:
        with pytest.raises(SystemExit) as stopped:
            orchestrate_module.main(args)
    finally:
        if os.geteuid() == 0 and (tmp_path / "read-only").is_mount():
            subprocess.run(["umount", str(tmp_path / "read-only")], check=True)
    error = capsys.readouterr().err
    assert stopped.value.code == code
    assert "Traceback" not in error
    assert len(error.strip().splitlines()) == 1, error
    assert error.startswith("orchestrate.py: error: ") and words in error, error
    assert not (tmp_path / "owned").exists()
    assert not (tmp_path.parent / "x").exists() and not Path("/abs/x").exists()


def test_resume_without_changes_keeps_the_run_arguments(tmp_path, capsys, no_ray, orchestrate_module):
    _signed_run(tmp_path, "run", MLP + ["--num-samples", "3", "--fix", "d_model=0"])
    with pytest.raises(SystemExit) as stopped:  # the run's own arguments are checked again: d_model=0
        orchestrate_module.main(["--resume", "--storage", str(tmp_path), "--name", "run", "--num-cpus", "1"])
    assert stopped.value.code == 2 and "d_model and hidden must be >= 1" in capsys.readouterr().err


def test_a_signed_folder_whose_command_was_edited_is_refused(tmp_path, capsys, no_ray, orchestrate_module):
    folder = _signed_run(tmp_path, "run", MLP)
    (folder / "tsadbench_command.json").write_text(json.dumps(MLP + ["--num-samples", "1"]))
    with pytest.raises(SystemExit):
        orchestrate_module.main(["--resume", "--storage", str(tmp_path), "--name", "run"])
    assert "carries no valid signature" in capsys.readouterr().err


@pytest.mark.parametrize("make_file, words", [
    (lambda p: np.save(p, np.array([{"a": 1}, None], dtype=object), allow_pickle=True), "not a plain numeric .npy"),
    (lambda p: np.save(p, np.array(["a", "b"])), "holds <U1 values, not numbers"),
], ids=["6-object-npy", "6-string-npy"])
def test_evaluation_cli_refuses_non_numeric_npy_in_one_line(make_file, words, tmp_path, capsys):
    scores = tmp_path / "scores.npy"
    make_file(scores)
    np.save(tmp_path / "labels.npy", np.array([0, 1]))
    code = evaluation_cli.main(["--scores", str(scores), "--labels", str(tmp_path / "labels.npy")])
    error = capsys.readouterr().err
    assert code == 2 and words in error and len(error.strip().splitlines()) == 1


def _alias_bomb() -> str:
    """A search space of about 500 bytes (the review used 813) whose categorical choices are nine levels of aliases:
    9**9 strings once expanded (an encoded choice list then fills memory for minutes)."""
    levels = ["      - &a [x, x, x, x, x, x, x, x, x]"]
    levels += [f"      - &{name} [{', '.join([f'*{previous}'] * 9)}]" for previous, name in zip("abcdefgh", "bcdefghi")]
    return "model: mlp_autoencoder\nparams:\n  d_model:\n    type: categorical\n    choices:\n" + "\n".join(levels) + "\n"


def test_7_yaml_alias_bomb_in_a_search_space_is_refused_at_once(tmp_path):
    (tmp_path / "mlp_autoencoder.yaml").write_text(_alias_bomb())
    assert (tmp_path / "mlp_autoencoder.yaml").stat().st_size < 1000
    with pytest.raises(SearchSpaceError, match="refused .*expands to more than 100000 values"):
        load_search_space("mlp_autoencoder", directory=tmp_path)


def test_7_plain_aliases_and_big_files_are_told_apart(tmp_path):
    (tmp_path / "mlp_autoencoder.yaml").write_text(
        "model: mlp_autoencoder\nparams:\n  d_model: &sizes {type: categorical, choices: [8, 16]}\n"
        "  hidden: *sizes\n")
    assert load_search_space("mlp_autoencoder", directory=tmp_path).params["hidden"].choices == (8, 16)
    (tmp_path / "mlp_autoencoder.yaml").write_text("model: mlp_autoencoder\n" + "# padding\n" * 40_000)
    with pytest.raises(SearchSpaceError, match="larger than 256 KiB"):
        load_search_space("mlp_autoencoder", directory=tmp_path)


def test_1_a_planted_pickle_checkpoint_is_refused_and_runs_nothing(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'owned'}",))

    checkpoint = tmp_path / "checkpoint_000001"
    checkpoint.mkdir()
    with open(checkpoint / "state.pt", "wb") as stream:
        pickle.dump({"model": Payload(), "epoch": 1}, stream, protocol=2)
    (checkpoint / "state.json").write_text('{"format": 1, "epoch": 1}')
    with pytest.raises(CheckpointRefusedError, match="not one tsadbench wrote"):
        load_state(str(checkpoint))
    assert not (tmp_path / "owned").exists()


def test_1_checkpoints_round_trip_without_pickle(tmp_path):
    import torch

    state = {"model": {"network": {"w": torch.arange(3.0)}, "rng": {"state": {"state": 2**100, "inc": 7}},
                       "epochs_trained": 2}, "epoch": 2}
    save_state(str(tmp_path), state)
    assert json.loads((tmp_path / "state.json").read_text()) == {"format": 1, "epoch": 2}
    loaded = load_state(str(tmp_path))
    assert loaded["epoch"] == 2 and torch.equal(loaded["model"]["network"]["w"], torch.arange(3.0))
    assert loaded["model"]["rng"]["state"]["state"] == 2**100


def test_2_an_atomic_write_that_hits_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "tsadbench_complete.json"
    target.write_text("old")

    def full(descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_files.os, "fsync", full)
    with pytest.raises(OSError) as raised:
        atomic_write_text(target, "new and longer")
    assert run_files.is_storage_full(raised.value)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == [target.name]


def _ray_state(folder: Path, statuses: list[str]) -> None:
    trials = [[json.dumps({"status": status, "relative_logdir": f"trial_{i}"}), {}] for i, status in enumerate(statuses)]
    (folder / "experiment_state-2026-12-01_10-00-00.json").write_text(json.dumps({"trial_data": trials}))
    (folder / "searcher-state-2026-12-01_10-00-00.pkl").write_bytes(pickle.dumps({"searcher": [1, 2]}))
    (folder / "search_gen_state-2026-12-01_10-00-00.json").write_bytes(pickle.dumps({"counter": 3}))


def test_2_damaged_ray_state_is_put_back_from_the_last_intact_copy(tmp_path):
    _ray_state(tmp_path, ["TERMINATED", "RUNNING"])
    assert back_up_ray_state(tmp_path) and not back_up_ray_state(tmp_path)  # unchanged: no second copy
    intact = {p.name: p.read_bytes() for p in tmp_path.glob("*state-*")}
    newer = tmp_path / "experiment_state-2026-12-01_11-00-00.json"
    newer.write_text('{"trial_data": [["{\\"status\\": \\"TERM')  # the disk filled up mid-write
    for path in tmp_path.glob("searcher-state-*.pkl"):
        path.write_bytes(path.read_bytes()[:10])
    assert not back_up_ray_state(tmp_path)  # a damaged set never replaces the intact copy
    assert repair_ray_state(tmp_path) == sorted(intact)
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*state-*")} == intact
    assert repair_ray_state(tmp_path) == []


def test_2_a_state_file_rewritten_while_it_is_copied_never_becomes_the_backup(tmp_path, monkeypatch):
    """Ray uploads its state in a background thread: a file may be cut short while it is copied."""
    _ray_state(tmp_path, ["TERMINATED", "RUNNING"])
    assert back_up_ray_state(tmp_path)
    intact = {p.name: p.read_bytes() for p in tmp_path.glob("*state-*")}
    copy = run_files.shutil.copy2

    def copied_mid_write(source, destination):
        copy(source, destination)
        if Path(source).name.startswith("search_gen_state"):
            Path(destination).write_bytes(b"")  # the upload had just truncated it

    _ray_state(tmp_path, ["TERMINATED", "TERMINATED"])
    monkeypatch.setattr(run_files.shutil, "copy2", copied_mid_write)
    assert not back_up_ray_state(tmp_path)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tsadbench_state.")] == []
    monkeypatch.undo()
    for path in tmp_path.glob("searcher-state-*.pkl"):
        path.write_bytes(b"")  # then the driver is killed mid-write
    assert repair_ray_state(tmp_path) == sorted(intact)
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*state-*")} == intact


def test_2_damaged_ray_state_without_a_copy_names_the_folder(tmp_path):
    (tmp_path / "experiment_state-x.json").write_text("{")
    with pytest.raises(RunFolderError, match="no intact copy was kept"):
        repair_ray_state(tmp_path)


def test_2_a_trial_that_failed_for_want_of_space_stops_the_experiment_unfinished(tmp_path):
    from tsadbench.tuning.experiment import COMPLETE_FILE, _finish

    class Results:
        errors = [RuntimeError("ray.exceptions.RayTaskError: OSError: [Errno 28] No space left on device")]
        num_errors = 1

        def __len__(self):
            return 2

    _ray_state(tmp_path, ["TERMINATED", "ERROR"])
    with pytest.raises(StorageFullError):
        _finish(tmp_path, Results(), 2, False)
    assert not (tmp_path / COMPLETE_FILE).exists()


def test_2_a_full_disk_during_the_grid_stops_it_with_one_message_and_exit_75(tmp_path, monkeypatch, capsys,
                                                                                orchestrate_module):
    import tsadbench.tuning.cluster as cluster
    import tsadbench.tuning.runner as runner

    started = []
    monkeypatch.setattr(cluster, "start_ray", lambda *a, **k: started.append(1) or cluster.ClusterInfo(
        "local", None, None, {"CPU": 2.0}, 1))
    monkeypatch.setattr(cluster, "stop_ray", lambda: started.append("stopped"))

    def full(plan, printer=print, estimate_s=None, board=None, work_s=None):
        raise StorageFullError(str(plan.request.grid_dir / "mlp_autoencoder__synthetic"))

    monkeypatch.setattr(runner, "run_grid", full)
    code = orchestrate_module.main(MLP + ["--storage", str(tmp_path), "--name", "full"])
    error = capsys.readouterr().err
    assert code == 75 and started == [1, "stopped"]
    assert error.count("\n") == 1 and "no space left on the device" in error
    assert f"--resume --name full --storage {tmp_path}" in error


def test_the_calibration_thread_starts_only_once_ray_is_up(tmp_path, monkeypatch, orchestrate_module):
    """`ray.init` adds variables to the process environment; a thread reading the environment
    meanwhile can crash the process (a segfault in glibc's getenv, seen in the calibration thread),
    so no thread of the run may be alive while Ray starts."""
    import threading

    import tsadbench.tuning.cluster as cluster
    import tsadbench.tuning.estimate as estimate
    import tsadbench.tuning.runner as runner

    events = []

    def start(*args, **kwargs):
        events.append(("ray", sorted(t.name for t in threading.enumerate() if t.name == "calibration")))
        return cluster.ClusterInfo("local", None, None, {"CPU": 2.0}, 1)

    class RecordedCalibration(estimate.BackgroundCalibration):
        def __init__(self, *args, **kwargs):
            events.append(("calibration", []))
            super().__init__(*args, **kwargs)

    def full(plan, printer=print, estimate_s=None, board=None, work_s=None):
        raise StorageFullError(str(plan.request.grid_dir / "mlp_autoencoder__synthetic"))

    monkeypatch.setattr(cluster, "start_ray", start)
    monkeypatch.setattr(cluster, "stop_ray", lambda: None)
    monkeypatch.setattr(estimate, "BackgroundCalibration", RecordedCalibration)
    monkeypatch.setattr(runner, "run_grid", full)
    assert orchestrate_module.main(MLP + ["--storage", str(tmp_path), "--name", "order"]) == 75
    assert events == [("ray", []), ("calibration", [])]


def test_2_and_3_records_survive_a_damaged_snapshot(tmp_path):
    rng = np.random.default_rng(0)
    experiment = write_experiment(tmp_path, "mlp_autoencoder", "synthetic",
                                  [FakeTrial("a1", config(rng), random_reports(rng, 2, 2))], display_name="MLP")
    (experiment / "experiment_state-x.json").write_text('{"trial_data": [')
    _, trials = read_grid(tmp_path)
    assert [t.status for t in trials] == ["TERMINATED"]


def test_3_a_trial_retried_to_completion_counts_as_finished_in_every_table(tmp_path):
    rng = np.random.default_rng(1)
    retried = FakeTrial("r1", config(rng), random_reports(rng, 3, 3), error="ray.exceptions.ActorDiedError: worker died")
    failed = FakeTrial("f1", config(rng), random_reports(rng, 1, 3), error="ValueError: boom")
    experiment = write_experiment(tmp_path, "mlp_autoencoder", "synthetic", [retried, failed], display_name="MLP")
    state = [[json.dumps({"status": "TERMINATED", "relative_logdir": "trial_r1"}), {}],
             [json.dumps({"status": "ERROR", "relative_logdir": "trial_f1"}), {}]]
    (experiment / "experiment_state-2026-12-01_10-00-00.json").write_text(json.dumps({"trial_data": state}))
    _, trials = read_grid(tmp_path)
    assert {t.trial_dir.name: (t.status, t.retried) for t in trials} == {
        "trial_r1": ("TERMINATED", True), "trial_f1": ("ERROR", False)}
    tables = write_report(tmp_path)["main.md"].parent
    rows = {row.split(",")[1]: row for row in (tables / "trials.csv").read_text().splitlines()[1:]}
    assert ",TERMINATED," in rows["trial_r1"] and "retried after: ray.exceptions.ActorDiedError" in rows["trial_r1"]
    assert ",True,True," in rows["trial_r1"]  # selected and in the tables
    assert "| MLP |" in (tables / "main.md").read_text()
    assert "worker died" not in (tables / "report.html").read_text()


def _learning_rate_space(trial) -> dict:
    return {"lr": trial.suggest_float("lr", 1e-4, 1e-1, log=True)}


def _journal_searcher(journal: Path):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from tsadbench.tuning.journal_search import JournalOptunaSearch

    searcher = JournalOptunaSearch(space=_learning_rate_space, metric="score", mode="max", sampler=optuna.samplers.TPESampler(seed=0),
                                   study_name="s", storage=JournalStorage(JournalFileBackend(str(journal))))
    searcher.set_search_properties("score", "max", {})
    return searcher


@pytest.mark.parametrize("first_end", ["failed", "finished"])
def test_2_a_restored_searcher_behind_its_journal_reruns_a_closed_trial_without_error(first_end, tmp_path):
    """Ray pickles the searcher when it saves its state; the journal is written as trials end. A
    searcher restored from an older pickle meets trials the journal already closed (a full disk
    failed them, or the driver was killed after they finished) and Ray runs them again."""
    from optuna.trial import TrialState

    searcher = _journal_searcher(tmp_path / "journal.log")
    params = searcher.suggest("t0")
    searcher.on_trial_result("t0", {"score": 0.1, "training_iteration": 1})
    searcher.save(str(tmp_path / "searcher.pkl"))  # Ray's snapshot, before the trial ended
    if first_end == "failed":
        searcher.on_trial_complete("t0", error=True)
    else:
        searcher.on_trial_complete("t0", {"score": 0.5, "training_iteration": 2})

    restored = _journal_searcher(tmp_path / "journal.log")
    restored.restore(str(tmp_path / "searcher.pkl"))
    restored.on_trial_result("t0", {"score": 0.3, "training_iteration": 2})  # raised UpdateFinishedTrialError
    restored.on_trial_complete("t0", {"score": 0.7, "training_iteration": 2})
    trials = restored._ot_study.get_trials()
    if first_end == "failed":  # the rerun's outcome is learnt, under the same parameters
        assert [(t.state, t.value, t.params) for t in trials] == [
            (TrialState.FAIL, None, params), (TrialState.COMPLETE, 0.7, params)]
    else:  # the journal's value stays final, told once
        assert [(t.state, t.value) for t in trials] == [(TrialState.COMPLETE, 0.5)]
    assert restored.suggest("t1") is not None  # the search goes on
