"""The untrained copy as one Ray task: the trial folder the readers know, with exactly the scores
of the Ray-free trial; a failure kept as a failed trial; a stale attempt replaced; Ctrl-C cancels."""
import json
import threading

import numpy as np
import pytest

from tsadbench.datasets.preprocessing import prepare
from tsadbench.datasets.synthetic import SyntheticSpec, generate_synthetic
from tsadbench.results.records import read_experiment
from tsadbench.tuning.progress import TrialLinePrinter
from tsadbench.tuning.trial import TrialSettings, run_trial
from tsadbench.tuning.untrained import TRIAL_FOLDER, TRIAL_ID, score_untrained
from tsadbench.zoo.plugins import PluginBundle

pytestmark = pytest.mark.ray

CONFIG = {"win_size": 32, "d_model": 16, "lr": 3e-3, "anomaly_ratio": 2.0, "seed": 2, "untrained": True}
RESOURCES = {"cpu": 1, "gpu": 0}


@pytest.fixture(scope="module")
def data():
    spec = SyntheticSpec(n_channels=4, train_length=1200, test_length=1000, anomalies_per_kind=1)
    return prepare("synthetic", [generate_synthetic(spec).arrays])


def _experiment(folder):
    """The metadata `read_experiment` needs beside the trial folder."""
    folder.mkdir(exist_ok=True)
    (folder / "tsadbench_experiment.json").write_text(json.dumps({"model": "mlp_autoencoder:untrained",
                                                                  "dataset": "synthetic"}))
    return folder


def test_the_task_writes_the_trial_folder_the_readers_know_with_the_ray_free_scores(ray_session, data, tmp_path):
    settings = TrialSettings("mlp_autoencoder", "synthetic")
    lines = []
    printer = TrialLinePrinter("mlp untrained", "at_compat/pa_f1", 1, printer=lines.append)
    folder = _experiment(tmp_path / "copy")
    assert score_untrained(folder, CONFIG, ray_session.put(data), settings, PluginBundle(), RESOURCES, printer,
                           threading.Event(), retries=0) == (1, 0)
    expected = []
    run_trial(CONFIG, data, settings, lambda metrics, artifacts: expected.append((metrics, artifacts)))
    [(metrics, artifacts)] = expected

    _, [trial] = read_experiment(folder)
    assert trial.status == "TERMINATED" and trial.trial_id == TRIAL_ID and trial.config == CONFIG
    [report] = trial.epochs
    assert report["epoch"] == 0 and report["training_iteration"] == 1 and report["config"] == CONFIG
    assert report["at_compat"] == metrics["at_compat"] and report["val_loss"] == metrics["val_loss"]
    path, scored_report = trial.stored_scores()
    assert path == folder / TRIAL_FOLDER / "checkpoint_000000" / "scores.npz" and scored_report is report
    stored = np.load(path)
    assert np.array_equal(stored["labels"], data.labels)
    assert all(np.array_equal(stored[split], artifacts["scores"][split]) for split in ("train", "val", "test"))
    assert printer.done == 1 and printer.running == set()
    assert lines == [f"[mlp untrained] trial 1/1 done after 0 epoch(s)  at_compat/pa_f1={metrics['at_compat']['pa_f1']:.4g}"
                     f"  PA-F1@at-compat={metrics['at_compat']['pa_f1']:.3f} F1={metrics['at_compat']['f1']:.3f}"
                     f"  oracle best PA-F1={metrics['best_f1']['pa_f1']:.3f}"]


def test_a_failing_copy_is_a_failed_trial_and_a_stale_attempt_is_replaced(ray_session, data, tmp_path):
    folder = _experiment(tmp_path / "copy")
    stale = folder / TRIAL_FOLDER / "checkpoint_000000"
    stale.mkdir(parents=True)
    (stale.parent / "result.json").write_text('{"epoch": 0, "val_loss": 1.0}\n{"epo')
    lines = []
    printer = TrialLinePrinter("mlp untrained", "at_compat/pa_f1", 1, printer=lines.append)
    too_long = {**CONFIG, "win_size": 5000}
    assert score_untrained(folder, too_long, ray_session.put(data), TrialSettings("mlp_autoencoder", "synthetic"),
                           PluginBundle(), RESOURCES, printer, threading.Event(), retries=0) == (1, 1)
    _, [trial] = read_experiment(folder)
    assert trial.status == "ERROR" and trial.epochs == [] and trial.config == too_long
    assert "win_size=5000 is longer than the shortest split" in trial.error
    assert not stale.exists()
    assert printer.failed == 1 and lines[0].startswith("[mlp untrained] trial 1/1 FAILED after 0 epoch(s)")
    assert lines[0].endswith(f"(error kept in {folder / TRIAL_FOLDER})")


def test_ctrl_c_cancels_the_task_and_writes_nothing(ray_session, data, tmp_path):
    folder = _experiment(tmp_path / "copy")
    stop = threading.Event()
    stop.set()
    # 64 CPUs: the task waits for a node that has them, until Ctrl-C cancels it
    assert score_untrained(folder, CONFIG, ray_session.put(data), TrialSettings("mlp_autoencoder", "synthetic"),
                           PluginBundle(), {"cpu": 64, "gpu": 0}, None, stop, retries=0) is None
    assert not (folder / TRIAL_FOLDER).exists()
