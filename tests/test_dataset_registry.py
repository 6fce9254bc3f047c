"""Dataset names: built-in synthetic, NAME (all entities) and NAME/ENTITY; the per-entity policy."""
from pathlib import Path

import numpy as np
import pytest

from tsadbench.datasets.canonical import EntityArrays, save_entity
from tsadbench.datasets.registry import (UnknownDatasetError, available_datasets, expand_entities, load_dataset,
                                         missing_public_benchmarks, resolve_data_root)
from tsadbench.tuning.grids import GridSpec
from tsadbench.tuning.runner import GridConfigError, GridRequest, plan_grid


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(0)
    for entity, anomalous in (("a", True), ("b", True), ("quiet", False)):
        labels = np.zeros(300, np.uint8)
        labels[100:110] = anomalous
        save_entity(tmp_path, EntityArrays("TOY", entity, rng.normal(size=(400, 3)), rng.normal(size=(300, 3)), labels))
    return tmp_path


def test_names_resolve_to_entities(store):
    assert available_datasets(store) == ["synthetic", "TOY"]
    assert [e.entity for e in load_dataset("TOY", store)] == ["a", "b", "quiet"]
    assert [e.entity for e in load_dataset("TOY/b", store)] == ["b"]
    assert expand_entities("TOY", store) == ["TOY/a", "TOY/b", "TOY/quiet"]
    assert expand_entities("synthetic", store) == ["synthetic"]
    assert missing_public_benchmarks(store) == ["SMD", "SMAP", "MSL", "PSM", "SWaT", "WADI"]
    with pytest.raises(UnknownDatasetError, match=r"unknown dataset 'SMD' under .*; available: synthetic, TOY"):
        expand_entities("SMD", store)
    with pytest.raises(FileNotFoundError, match="no entity file"):
        load_dataset("TOY/zzz", store)


def test_data_root_from_flag_or_environment(store, monkeypatch):
    monkeypatch.setenv("TSAD_DATA_ROOT", str(store))
    assert resolve_data_root(None) == Path(store).resolve()
    with pytest.raises(FileNotFoundError, match=r"\(from --data-root\) is not a folder: fix the path"):
        resolve_data_root(str(store / "missing"))


@pytest.mark.parametrize("policy, expected", [("concatenated", ["TOY"]), ("per-entity", ["TOY/a", "TOY/b"])])
def test_entity_policy_shapes_the_grid_and_is_recorded(store, tmp_path, policy, expected):
    grid = GridSpec("t", "", models=("random",), datasets=("TOY",), num_samples=1, max_concurrent=1)
    plan = plan_grid(GridRequest(grid=grid, storage=tmp_path, run_name="r", data_root=store, entity_policy=policy))
    assert [e.settings.dataset for e in plan.experiments] == expected
    assert all(e.data_provenance["entity_policy"] == policy for e in plan.experiments)
    if policy == "per-entity":
        assert plan.notes == ["TOY/quiet: left out, its test split has no anomalous point"]
    else:
        assert plan.experiments[0].data_provenance["entities"] == ["a", "b", "quiet"]


def test_window_ranges_are_limited_to_the_shortest_split(store, tmp_path):
    grid = GridSpec("t", "", models=("mlp_autoencoder",), datasets=("TOY/a",), num_samples=1, max_concurrent=1)
    plan = plan_grid(GridRequest(grid=grid, storage=tmp_path, run_name="r", data_root=store))
    assert plan.datasets["TOY/a"].shortest_split == 80
    window = plan.experiments[0].space.params["win_size"]
    assert (window.low, window.high) == (16, 80)
    assert plan.notes == ["mlp_autoencoder on TOY/a: win_size limited to 80 points (the shortest split)"]
    too_long = GridSpec("t", "", models=("transmamba",), datasets=("TOY/a",), num_samples=1, max_concurrent=1)
    with pytest.raises(GridConfigError, match=r"transmamba on TOY/a: the smallest win_size in .*transmamba.yaml "
                                              r"is 90, longer than the shortest split \(80 points\)"):
        plan_grid(GridRequest(grid=too_long, storage=tmp_path, run_name="r", data_root=store))


def test_a_window_range_that_fits_is_left_as_it_is(store, tmp_path):
    grid = GridSpec("t", "", models=("mlp_autoencoder",), datasets=("synthetic",), num_samples=1, max_concurrent=1)
    plan = plan_grid(GridRequest(grid=grid, storage=tmp_path, run_name="r", data_root=store))
    window = plan.experiments[0].space.params["win_size"]
    assert (window.low, window.high) == (16, 128) and plan.notes == []


def test_the_repository_evaluation_settings_follow_the_dataset(tmp_path):
    rng = np.random.default_rng(1)
    for name in ("SMAP", "SWaT"):
        for entity in ("A-1", "B-1"):
            labels = np.zeros(300, np.uint8)
            labels[100:110] = 1
            save_entity(tmp_path / "store", EntityArrays(name, entity, rng.normal(size=(400, 2)),
                                                         rng.normal(size=(300, 2)), labels))
    grid = GridSpec("t", "", models=("slmr", "random"), datasets=("SMAP", "SWaT"), num_samples=1, max_concurrent=1)
    plan = plan_grid(GridRequest(grid=grid, storage=tmp_path, run_name="r", data_root=tmp_path / "store"))
    settings = {(e.settings.model, e.settings.dataset): e.settings for e in plan.experiments}
    smap = settings["slmr", "SMAP"]
    assert smap.score_postprocessing == "entity-minmax" and smap.protocol_options["pot_level"] == 0.9
    assert "epsilon-train" in smap.protocols and smap.protocols[0] == "pot-train"
    assert settings["slmr", "SWaT"].score_postprocessing == "none"
    assert settings["slmr", "SWaT"].protocol_options == {"pot_q": 1e-3, "pot_level": 0.99, "epsilon_reg_level": 1}
    assert settings["random", "SMAP"].score_postprocessing == "none"
    assert plan.datasets["SMAP"].train_entity_lengths == (400, 400)
    copies = {(e.settings.model, e.settings.dataset): e.untrained_copy for e in plan.experiments}
    assert copies["slmr", "SMAP"] and not copies["random", "SMAP"]  # random learns nothing to leave out
