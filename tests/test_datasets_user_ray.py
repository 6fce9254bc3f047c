"""A grid runs on a user's one-file CSV prepared with `--layout csv` (local Ray cluster)."""
import json

import pytest

from tests.test_datasets_user import _series
from tsadbench.datasets.cli import main
from tsadbench.results.records import read_grid
from tsadbench.tuning.grids import GridSpec
from tsadbench.tuning.runner import GridRequest, plan_grid, run_grid

pytestmark = pytest.mark.ray


def test_a_grid_runs_on_a_prepared_csv(ray_session, tmp_path):
    _series().to_csv(tmp_path / "plant.csv", index=False)
    store = tmp_path / "store"
    assert main(["prepare", "PLANT", "--from", str(tmp_path / "plant.csv"), "--layout", "csv", "--label-column",
                 "is_anomaly", "--time-column", "timestamp", "--train-rows", "600", "--root", str(store)]) == 0
    grid = GridSpec("own", "", models=("mlp_autoencoder", "random"), datasets=None, num_samples=1, max_concurrent=1,
                    epochs_cap=2, max_windows_per_epoch=256, tiny_models=True)
    plan = plan_grid(GridRequest(grid=grid, storage=tmp_path / "runs", run_name="own", datasets=("PLANT",),
                                 data_root=store, untrained_copies=False))
    outcomes = run_grid(plan, printer=lambda line: None)
    assert [(o.name, o.status, o.trials, o.errors) for o in outcomes] == [
        ("mlp_autoencoder__PLANT", "complete", 1, 0), ("random__PLANT", "complete", 1, 0)]
    metadata = json.loads((tmp_path / "runs" / "own" / "mlp_autoencoder__PLANT" / "tsadbench_experiment.json").read_text())
    assert (metadata["data"]["train_rows"] + metadata["data"]["val_rows"], metadata["data"]["test_rows"],
            metadata["data"]["anomaly_ratio"]) == (600, 400, 23 / 400)
    _, trials = read_grid(tmp_path / "runs" / "own")
    assert sorted(t.last["epoch"] for t in trials) == [1, 2]
