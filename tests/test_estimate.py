"""The plan before the run: slots per model's resources, the packed wall-time estimate against a
hand count, the calibration step, and `--dry-run` (no Ray, nothing written)."""
import subprocess
import sys
from pathlib import Path

import pytest

from tsadbench.tuning.estimate import calibrate, estimate_grid, not_measured, plan_lines, slots_for
from tsadbench.tuning.grids import GridSpec
from tsadbench.tuning.runner import GridRequest, plan_grid

ROOT = Path(__file__).resolve().parent.parent


def test_slots_are_the_scarcest_resource_over_each_trials_share():
    assert slots_for({"cpu": 1, "gpu": 0.25}, {"CPU": 16, "GPU": 2}) == 8
    assert slots_for({"cpu": 1, "gpu": 0.25}, {"CPU": 6, "GPU": 2}) == 6
    assert slots_for({"cpu": 0.5, "gpu": 0.0}, {"CPU": 3}) == 6
    assert slots_for({"cpu": 1, "gpu": 0.5}, {"CPU": 8}) == 0


def _plan(tmp_path, models=("mlp_autoencoder",), **request):
    grid = GridSpec("g", "", models=models, datasets=("synthetic",), num_samples=4, max_concurrent=2, tiny_models=True)
    return plan_grid(GridRequest(grid=grid, storage=tmp_path, run_name="r", fixed={"epochs": 3}, **request))


def test_the_wall_estimate_packs_trials_into_slots_and_the_cluster(tmp_path):
    plan = _plan(tmp_path, models=("mlp_autoencoder", "slmr"), cpus_per_trial=1, gpus_per_trial=0)
    estimate = estimate_grid(plan.experiments, plan.datasets, {"CPU": 4}, measure=lambda e, d: (1.0, 0.5))
    [first, second] = estimate.experiments
    assert (first.trials, first.epochs, first.slots, first.epoch_s) == (5, 12, 4, 1.5)
    assert first.work_s == 12 * 1.5 + 0.5  # the untrained copy is scored once
    # per experiment: 4 trials, 2 at once -> 2 rounds of 3 epochs, then the untrained copy: 9.5 s;
    # the cluster: 2 x 18.5 CPU-seconds over 4 CPUs = 9.25 s; the slower bound wins
    assert estimate.wall_s == pytest.approx(9.5)
    assert estimate.cpu_hours == pytest.approx(2 * 18.5 / 3600) and estimate.gpu_hours == 0
    crowded = estimate_grid(plan.experiments, plan.datasets, {"CPU": 1}, measure=lambda e, d: (1.0, 0.5))
    assert crowded.wall_s == pytest.approx(37.0)
    lines = plan_lines(estimate)
    assert lines[0] == "plan on 4 CPU, 0 GPU: 2 experiment(s), 10 trial(s), at most 24 trial-epoch(s)"
    assert "mlp_autoencoder__synthetic" in lines[2] and lines[-1].startswith("estimate: 0.2 min wall, 0.01 CPU-hours")
    def broken(experiment, data):
        raise FloatingPointError("non-finite scores")

    failed = estimate_grid(plan.experiments, plan.datasets, {"CPU": 4}, measure=broken)
    assert "its calibration epoch failed (FloatingPointError: non-finite scores)" in "\n".join(plan_lines(failed))
    unmeasured = estimate_grid(plan.experiments, plan.datasets, {"CPU": 4}, measure=not_measured)
    assert not unmeasured.calibrated and not plan_lines(unmeasured)[-1].startswith("estimate")


def test_calibration_measures_a_real_epoch_and_scales_it_to_the_full_splits(tmp_path):
    [experiment] = _plan(tmp_path).experiments
    train_s, eval_s, loss_s = calibrate(experiment, plan_grid_data(tmp_path))
    assert train_s > 0 and eval_s > 0 and loss_s == 0  # every epoch evaluated: no loss-only epoch to cost


def test_an_epoch_trains_one_window_per_stride(tmp_path):
    from tsadbench.tuning.estimate import training_windows

    [experiment] = _plan(tmp_path).experiments
    assert training_windows(experiment, {"win_size": 10, "train_stride": 5}, 100) == 19
    assert training_windows(experiment, {"win_size": 10, "train_stride": 1}, 100) == 91


def plan_grid_data(tmp_path):
    return _plan(tmp_path).datasets["synthetic"]


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path):
    completed = subprocess.run([sys.executable, str(ROOT / "orchestrate.py"), "--grid", "smoke", "--models",
                                "random,one_liner", "--storage", str(tmp_path), "--name", "d", "--dry-run",
                                "--num-cpus", "3"], capture_output=True, text=True, timeout=300)
    out = completed.stdout
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "Ray cluster" not in out
    assert "plan on 3 CPU, 0 GPU: 2 experiment(s), 6 trial(s), at most 6 trial-epoch(s)" in out
    assert "random__synthetic" in out and "estimate: " in out and "CPU-hours" in out
    assert not (tmp_path / "d").exists()


def test_background_calibration_times_every_experiment_in_its_own_thread(tmp_path, monkeypatch):
    import threading

    import tsadbench.tuning.estimate as estimate

    plan = _plan(tmp_path, models=("mlp_autoencoder", "slmr"))
    threads = []

    def fake(experiment, data):
        threads.append(threading.current_thread().name)
        if experiment.settings.model == "slmr":
            raise FloatingPointError("non-finite scores")
        return 2.0, 1.0

    monkeypatch.setattr(estimate, "calibrate", fake)
    background = estimate.BackgroundCalibration(plan.experiments, plan.datasets)
    found = estimate_grid(plan.experiments, plan.datasets, {"CPU": 2}, measure=background.measure)
    assert threads == ["calibration", "calibration"]
    assert (found.experiments[0].train_s_per_epoch, found.experiments[0].eval_s_per_epoch) == (2.0, 1.0)
    assert found.experiments[1].calibration_error == "FloatingPointError: non-finite scores"


def test_calibration_times_the_trained_second_epoch_not_the_restored_first(tmp_path, monkeypatch):
    """Early stopping that restores epoch 1 after epoch 2 reports epoch 1 again with ~0 s of
    training; the calibration must time the trained, warm second epoch."""
    import tsadbench.tuning.estimate as estimate

    # patience 1 and a min_delta no loss can beat: epoch 2 is bad, the run stops and restores epoch 1
    [experiment] = _plan_fixed(tmp_path, {"epochs": 3, "patience": 1, "min_delta": 1e9}).experiments
    reports = []
    real_run_trial = estimate.run_trial

    def recording_run_trial(config, data, settings, report, **kwargs):
        real_run_trial(config, data, settings, lambda m, a: (reports.append(m), report(m, a)), **kwargs)

    monkeypatch.setattr(estimate, "run_trial", recording_run_trial)
    data = _plan_fixed(tmp_path, {"epochs": 3}).datasets["synthetic"]
    train_s, _, _ = calibrate(experiment, data)
    assert [(m["epoch"], m["early_stopping"].get("restored", False)) for m in reports] == [(1, False), (2, False),
                                                                                           (1, True)]
    warm = reports[1]["train_seconds"]
    assert reports[2]["train_seconds"] < warm
    config = estimate.calibration_config(experiment)
    cut = estimate._cut(data, max(estimate.CALIBRATION_POINTS, 4 * int(config["win_size"])))
    scale = (estimate.training_windows(experiment, config, data.train.shape[0])
             / min(estimate.CALIBRATION_WINDOWS, estimate.training_windows(experiment, config, cut.train.shape[0])))
    assert train_s == pytest.approx(warm * scale)


@pytest.mark.parametrize("cpus, threads", [(1, 1), (3, 3), (0.5, 1)])
def test_calibration_runs_with_the_trials_thread_count_and_restores_the_drivers(tmp_path, monkeypatch, cpus, threads):
    """Two threads of a tiny model on a machine busy starting Ray read up to 25 times slower than
    the one-thread trials ran: the calibration runs as the trial will (`TrialSettings.torch_threads`)."""
    import torch

    import tsadbench.tuning.estimate as estimate

    [experiment] = _plan(tmp_path, cpus_per_trial=cpus).experiments
    seen = []
    real_run_trial = estimate.run_trial

    def recording_run_trial(config, data, settings, report, **kwargs):
        seen.append(torch.get_num_threads())
        real_run_trial(config, data, settings, report, **kwargs)

    monkeypatch.setattr(estimate, "run_trial", recording_run_trial)
    driver_threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        calibrate(experiment, _plan(tmp_path).datasets["synthetic"])
        assert seen == [threads] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(driver_threads)


def _plan_fixed(tmp_path, fixed):
    grid = GridSpec("g", "", models=("mlp_autoencoder",), datasets=("synthetic",), num_samples=4, max_concurrent=2,
                    tiny_models=True)
    return plan_grid(GridRequest(grid=grid, storage=tmp_path, run_name="r", fixed=fixed))


def test_the_estimate_counts_the_evaluation_of_evaluated_epochs_only(tmp_path):
    from tsadbench.tuning.estimate import evaluated_per_trial

    grid = GridSpec("g", "", models=("mlp_autoencoder",), datasets=("synthetic",), num_samples=2, max_concurrent=2,
                    tiny_models=True)
    [every] = plan_grid(GridRequest(grid=grid, storage=tmp_path, run_name="r", fixed={"epochs": 10},
                                    untrained_copies=False)).experiments
    [sparse] = plan_grid(GridRequest(grid=grid, storage=tmp_path, run_name="r", fixed={"epochs": 10}, eval_every=3,
                                     untrained_copies=False)).experiments
    assert evaluated_per_trial(every) == 10
    # epoch 1 (a run's first), 3, 6, 9, the last (10) and ASHA's milestones 2, 4, 8
    assert evaluated_per_trial(sparse) == 8
    [cost] = estimate_grid([sparse], {"synthetic": None}, {"CPU": 2}, measure=lambda e, d: (1.0, 0.5)).experiments
    assert cost.work_s == 2 * (10 * 1.0 + 8 * 0.5)
    [full] = estimate_grid([every], {"synthetic": None}, {"CPU": 2}, measure=lambda e, d: (1.0, 0.5)).experiments
    assert full.work_s == 2 * 10 * 1.5


def test_an_unevaluated_epoch_costs_its_early_stopping_loss_and_seed_repeats_have_no_milestones(tmp_path):
    from tsadbench.tuning.estimate import EpochSeconds, evaluated_per_trial

    grid = GridSpec("g", "", models=("mlp_autoencoder",), datasets=("synthetic",), num_samples=2, max_concurrent=2,
                    tiny_models=True)
    plan = plan_grid(GridRequest(grid=grid, storage=tmp_path, run_name="r", fixed={"epochs": 10, "patience": 20},
                                 eval_every=3, seeds=3, untrained_copies=False))
    [experiment] = plan.experiments
    seconds = calibrate(experiment, plan.datasets["synthetic"])
    assert seconds.monitored_loss > 0  # the validation split's loss, timed on the cut, scaled to the split
    # a search trial: epochs 1, 3, 6, 9, 10 and ASHA's milestones 2, 4, 8; a seed repeat: 1, 3, 6, 9, 10
    assert (evaluated_per_trial(experiment), evaluated_per_trial(experiment, scheduled=False)) == (8, 5)
    [cost] = estimate_grid([experiment], plan.datasets, {"CPU": 1},
                           measure=lambda e, d: EpochSeconds(1.0, 0.5, 0.25)).experiments
    assert cost.work_s == 2 * (10 * 1.0 + 8 * 0.5 + 2 * 0.25) + 3 * (10 * 1.0 + 5 * 0.5 + 5 * 0.25)
