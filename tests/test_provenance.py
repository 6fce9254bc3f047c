"""Every experiment's metadata records the package versions, the git commit with a dirty flag, the
machine, the sha256 of each dataset file used and a configuration hash (records.csv and provenance.csv
carry them: tests/test_results_entities.py)."""
import dataclasses
import hashlib
import json
import subprocess

import numpy as np
import pytest

from tests.test_dataset_registry import store  # noqa: F401  (TOY: entities a, b and quiet, no anomaly)
from tsadbench.datasets.canonical import EntityArrays, save_entity
from tsadbench.tuning import provenance
from tsadbench.tuning.experiment import _metadata
from tsadbench.tuning.grids import GridSpec
from tsadbench.tuning.runner import GridRequest, plan_grid

PACKAGES = {"tsadbench", "torch", "ray", "optuna", "numpy"}


def _plan(store, tmp_path, **overrides):
    grid = GridSpec("t", "", models=("random",), datasets=("TOY",), num_samples=1, max_concurrent=1)
    return plan_grid(GridRequest(grid=grid, storage=tmp_path / "runs", run_name="r", data_root=store, **overrides))


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("policy", ["concatenated", "per-entity"])
def test_metadata_holds_versions_git_state_machine_and_dataset_hashes(store, tmp_path, policy):
    plan = _plan(store, tmp_path, entity_policy=policy)
    for experiment in plan.experiments:
        meta = json.loads(json.dumps(_metadata(experiment), default=str))
        record = meta["provenance"]
        assert PACKAGES <= set(record["packages"]) and all(record["packages"][p] != "not installed" for p in PACKAGES)
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=provenance.REPOSITORY, capture_output=True,
                              text=True, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain"], cwd=provenance.REPOSITORY, capture_output=True,
                                text=True, check=True).stdout
        assert record["git"]["commit"] == head and record["git"]["dirty"] is bool(status.strip())
        assert meta["code_version"] == head[:7] + ("+dirty" if status.strip() else "")
        assert record["machine"]["cpu_count"] >= 1 and record["machine"]["cpu_model"]
        assert len(record["config_hash"]) == 16
        entities = ["a", "b", "quiet"] if policy == "concatenated" else [experiment.settings.dataset.split("/")[1]]
        assert meta["data"]["file_sha256"] == {f"TOY/{e}.npz": _sha256(store / "TOY" / f"{e}.npz") for e in entities}
        if policy == "per-entity":
            assert meta["data"]["entities_left_out"] == ["TOY/quiet"]


def test_the_config_hash_changes_with_what_runs_not_with_when(store, tmp_path):
    first, second = (_metadata(_plan(store, tmp_path).experiments[0]) for _ in range(2))
    assert first["provenance"]["config_hash"] == second["provenance"]["config_hash"]
    other = _metadata(_plan(store, tmp_path, fixed={"anomaly_ratio": 2.0}).experiments[0])
    assert other["provenance"]["config_hash"] != first["provenance"]["config_hash"]


def test_a_changed_data_file_changes_its_hash(store, tmp_path):
    before = _metadata(_plan(store, tmp_path).experiments[0])["data"]["file_sha256"]["TOY/a.npz"]
    rng = np.random.default_rng(1)
    labels = np.zeros(300, np.uint8)
    labels[5] = 1
    save_entity(store, EntityArrays("TOY", "a", rng.normal(size=(400, 3)), rng.normal(size=(300, 3)), labels))
    after = _metadata(_plan(store, tmp_path).experiments[0])["data"]["file_sha256"]["TOY/a.npz"]
    assert after != before and after == _sha256(store / "TOY" / "a.npz")


def test_the_builtin_dataset_is_hashed_by_its_generated_arrays(tmp_path):
    grid = GridSpec("t", "", models=("random",), datasets=("synthetic",), num_samples=1, max_concurrent=1)
    plan = plan_grid(GridRequest(grid=grid, storage=tmp_path, run_name="r"))
    hashes = plan.experiments[0].data_provenance["file_sha256"]
    assert list(hashes) == ["synthetic (generated)"] and len(hashes["synthetic (generated)"]) == 64


def test_the_dirty_flag_follows_the_working_tree(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(git + ["init", "-q"], cwd=repo, check=True)
    (repo / "f.txt").write_text("one")
    subprocess.run(git + ["add", "f.txt"], cwd=repo, check=True)
    subprocess.run(git + ["commit", "-qm", "c"], cwd=repo, check=True)
    monkeypatch.setattr(provenance, "REPOSITORY", repo)
    clean = provenance.git_state()
    assert clean["dirty"] is False and len(clean["commit"]) == 40
    (repo / "f.txt").write_text("two")
    assert provenance.git_state() == {"commit": clean["commit"], "dirty": True, "changed_files": 1}
    monkeypatch.setattr(provenance, "REPOSITORY", tmp_path / "elsewhere")
    assert provenance.git_state() == {"commit": None, "dirty": None, "changed_files": 0}


def test_the_precision_is_recorded_as_asked_for_and_as_used(store, tmp_path):
    from tsadbench.results.provenance import precision_used

    grid = GridSpec("t", "", models=("random", "mlp_autoencoder"), datasets=("TOY",), num_samples=1, max_concurrent=1)
    request = GridRequest(grid=grid, storage=tmp_path / "runs", run_name="r", data_root=store,
                          fixed={"win_size": 8}, precision="bf16")
    metadata = {e.settings.model: _metadata(e) for e in plan_grid(request).experiments}
    assert metadata["mlp_autoencoder"]["provenance"]["precision"] == {"requested": "bf16", "used": "bf16"}
    ignored = metadata["random"]["provenance"]["precision"]
    assert ignored["used"] == "fp32" and "random runs in fp32 only: --precision ignored" in ignored["note"]
    assert [precision_used(m["provenance"]) for m in metadata.values()] == ["fp32", "bf16"]
    assert precision_used({}) == "fp32"  # records written before --precision existed
    fp32 = _metadata(plan_grid(dataclasses.replace(request, precision="fp32")).experiments[1])
    assert fp32["settings"]["precision"] == "fp32"
    assert fp32["provenance"]["config_hash"] != metadata["mlp_autoencoder"]["provenance"]["config_hash"]
