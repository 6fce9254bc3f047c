"""Early stopping on the local Ray cluster: a trial with patience stops on a plateau, restores its
best epoch, and the tables report that epoch and say why; ASHA cannot cut the restored report."""
import json

import pandas as pd
import pytest

from tsadbench.results.tables import write_tables
from tsadbench.tuning.grids import GridSpec
from tsadbench.tuning.runner import GridRequest, plan_grid, run_grid

pytestmark = pytest.mark.ray

GRID = GridSpec("plateau", "early-stopping test grid", models=("mlp_autoencoder",), datasets=("synthetic",),
                num_samples=1, max_concurrent=1, max_windows_per_epoch=256, tiny_models=True)


def test_a_patience_trial_stops_restores_and_its_cell_reports_that_epoch(ray_session, tmp_path):
    # min_delta beyond any change: a plateau from epoch 1 on; patience 2 stops after epoch 3 of 5
    fixed = {"epochs": 5, "patience": 2, "min_delta": 1e9}
    plan = plan_grid(GridRequest(grid=GRID, storage=tmp_path, run_name="run", protocol="clean", fixed=fixed,
                                 untrained_copies=False))
    (outcome,) = run_grid(plan, printer=lambda line: None)
    assert (outcome.status, outcome.trials, outcome.errors) == ("complete", 1, 0)

    (result,) = (tmp_path / "run" / "mlp_autoencoder__synthetic").glob("*/result.json")
    reports = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
    assert [(r["epoch"], r["training_iteration"]) for r in reports] == [(1, 1), (2, 2), (3, 3), (1, 4)]
    restored = reports[-1]
    assert restored["early_stopping"]["restored"] is True and restored["early_stopping"]["split"] == "val"
    assert restored["early_stopping"]["stop_reason"] == "patience"
    assert restored["val_loss"] == reports[0]["val_loss"]
    assert restored["val_percentile"] == reports[0]["val_percentile"]
    assert reports[2]["val_percentile"] != reports[0]["val_percentile"]
    assert sorted(p.parent.name for p in result.parent.glob("checkpoint_*/scores.npz"))[-1] == "checkpoint_000003"

    written = write_tables(tmp_path / "run")
    main = pd.read_csv(written["main.csv"], header=[0, 1], index_col=0, dtype=str)
    assert main.loc["MLP autoencoder", ("synthetic", "F1")] == f"{100 * reports[0]['val_percentile']['pa_f1']:.2f}"
    trials = pd.read_csv(written["trials.csv"])
    assert list(trials.reported_epoch) == [1]
    reason = trials.reported_because.iloc[0]
    assert reason.startswith("epoch 1, restored: lowest val loss, patience 2") and "stopped early after epoch 3" in reason
    assert "Reported epoch per cell: MLP autoencoder on synthetic: epoch 1, restored" in written["main.md"].read_text()
    metadata = json.loads((tmp_path / "run" / "mlp_autoencoder__synthetic" / "tsadbench_experiment.json").read_text())
    assert "patience 2, min_delta 1000000000.0 on the validation loss of the validation split" in metadata["early_stopping"]


def test_asha_cuts_at_rungs_and_a_cut_trial_is_reported_at_its_best_epoch(ray_session, tmp_path):
    """Four trials one after the other (a fixed arrival order, so a fixed outcome), ASHA grace 2 and
    reduction 2: the rung at epoch 2 cuts a trial worse than the median there; each
    cut trial's last report names its best epoch so far, which its table row then reports."""
    fixed = {"epochs": 4, "patience": 3, "min_delta": 0.0}
    plan = plan_grid(GridRequest(grid=GRID, storage=tmp_path, run_name="asha", protocol="clean", fixed=fixed,
                                 num_samples=4, max_concurrent=1, untrained_copies=False))
    run_grid(plan, printer=lambda line: None)
    trials = pd.read_csv(write_tables(tmp_path / "asha")["trials.csv"])
    assert len(trials) == 4 and (trials.status == "TERMINATED").all()
    cut = trials[trials.epochs < 4]
    assert len(cut) >= 1, "ASHA cut no trial at its epoch-2 rung"
    for reason in cut.reported_because:
        assert "the trial ended after epoch 2 (ASHA" in reason
    assert (trials.reported_epoch <= trials.epochs).all()


def test_eval_every_on_the_cluster_skips_scoring_between_milestones_and_tables_use_evaluated_epochs(ray_session,
                                                                                                     tmp_path):
    """--eval-every 5 over 6 epochs: ASHA's milestones (2, 4), the first and the last epoch and
    every 5th are evaluated; epoch 3 trains unscored, carrying epoch 2's records (Tune needs the
    objective), with no scores stored; the tables report the last epoch."""
    plan = plan_grid(GridRequest(grid=GRID, storage=tmp_path, run_name="sparse", protocol="clean",
                                 fixed={"epochs": 6}, eval_every=5, untrained_copies=False))
    (outcome,) = run_grid(plan, printer=lambda line: None)
    assert (outcome.status, outcome.trials, outcome.errors) == ("complete", 1, 0)
    (result,) = (tmp_path / "sparse" / "mlp_autoencoder__synthetic").glob("*/result.json")
    reports = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
    assert [(r["epoch"], r["evaluated"], r["evaluated_epoch"]) for r in reports] == [
        (1, True, 1), (2, True, 2), (3, False, 2), (4, True, 4), (5, True, 5), (6, True, 6)]
    assert reports[2]["val_loss"] == reports[1]["val_loss"] and reports[2]["val_percentile"] == reports[1]["val_percentile"]
    trials = pd.read_csv(write_tables(tmp_path / "sparse")["trials.csv"])
    assert list(trials.reported_epoch) == [6]
    metadata = json.loads((tmp_path / "sparse" / "mlp_autoencoder__synthetic" / "tsadbench_experiment.json").read_text())
    assert metadata["settings"]["eval_every"] == 5 and "ASHA's milestones [2, 4]" in metadata["evaluation"]
