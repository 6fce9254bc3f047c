"""A dataset run per entity (`--entity-policy per-entity`) becomes one dataset row per model in
every table, the mean over its entities, with the per-entity numbers, the median and the entities
left out beside it; models are ranked across the entities with a critical-difference diagram."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.test_results_fakes import FakeTrial, config, random_reports, write_experiment
from tsadbench.results.report import write_report

MODELS = {"mlp_autoencoder": "MLP autoencoder", "random": "Random score", "one_liner": "One-liner |Δx|"}
ENTITIES = [f"machine-1-{i}" for i in range(1, 9)]
LEFT_OUT = ["SMD/machine-9-9"]
SHA = {"SMD/machine-1-1.npz": "ab" * 32}
PROVENANCE = {"packages": {"tsadbench": "0.1.0", "torch": "2.13.0", "ray": "2.60.0", "optuna": "5.0.0",
                           "numpy": "2.4.6"},
              "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": True, "changed_files": 2},
              "machine": {"cpu_model": "Xeon", "cpu_count": 2, "gpu_models": [], "gpu_count": 0},
              "config_hash": "feedfacecafebeef"}


def _values(rng):
    """PA-F1 and VUS-PR per (model, entity): the MLP is best on most entities, random worst."""
    centre = {"mlp_autoencoder": 0.8, "one_liner": 0.6, "random": 0.2}
    return {(m, e): (float(np.clip(centre[m] + rng.normal(0, 0.05), 0, 1)),
                     float(np.clip(centre[m] - 0.1 + rng.normal(0, 0.05), 0, 1)))
            for m in MODELS for e in ENTITIES}


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    root = tmp_path_factory.mktemp("per_entity")
    rng = np.random.default_rng(3)
    values = _values(rng)
    for model, label in MODELS.items():
        for entity in ENTITIES:
            reports = random_reports(rng, 1, 1, vus=True)
            pa_f1, vus_pr = values[(model, entity)]
            reports[-1]["at_compat"]["pa_f1"] = pa_f1
            reports[-1]["threshold_free"]["vus_pr"] = vus_pr
            reports[-1]["cpu_seconds"] = 0.5
            data = {"dataset": f"SMD/{entity}", "entities": [entity], "entity_policy": "per-entity",
                    "entities_left_out": LEFT_OUT, "file_sha256": {f"SMD/{entity}.npz": "ab" * 32}}
            write_experiment(root, model, f"SMD/{entity}",
                             [FakeTrial(f"{model[:4]}{entity[-1]}", config(rng), reports)],
                             display_name=label, extra_meta={"data": data, "provenance": PROVENANCE})
        reports = random_reports(rng, 1, 1, vus=True)
        write_experiment(root, model, "synthetic", [FakeTrial(f"{model[:4]}syn", config(rng), reports)],
                         display_name=label)
    written = write_report(root)
    return root, values, written


def _cells(written):
    return pd.read_csv(written["cells.csv"])


def test_main_table_has_one_smd_row_per_model_with_the_mean_over_entities(grid):
    _, values, written = grid
    main = pd.read_csv(written["main.csv"], header=[0, 1], index_col=0, dtype=str)
    assert list(dict.fromkeys(main.columns.get_level_values(0))) == ["SMD", "synthetic"]
    cells = _cells(written)
    for model, label in MODELS.items():
        cell = cells[(cells.table == "main") & (cells.row == label) & (cells.column == "SMD / F1")].iloc[0]
        expected = np.mean([values[(model, e)][0] for e in ENTITIES])
        assert cell["mean"] == pytest.approx(expected) and cell["n"] == len(ENTITIES)
        assert main.loc[label, ("SMD", "F1")] == f"{100 * expected:.2f}"
    assert "±" not in main.to_string()  # a mean over entities is not a spread over seeds


def test_honest_and_published_tables_use_the_entity_mean(grid):
    _, values, written = grid
    cells = _cells(written)
    honest = cells[(cells.table == "honest") & (cells.column == "V-PR")]
    assert set(honest.row) == {f"{d} / {label}" for d in ("SMD", "synthetic") for label in MODELS.values()}
    row = honest[honest.row == "SMD / MLP autoencoder"].iloc[0]
    assert row["mean"] == pytest.approx(np.mean([values[("mlp_autoencoder", e)][1] for e in ENTITIES]))
    assert "machine" not in " ".join(cells.row) + " ".join(cells.column)


def test_per_entity_csv_summary_and_footnote(grid):
    _, values, written = grid
    entities = pd.read_csv(written["entities.csv"])
    pa = entities[(entities.metric == "at_compat/pa_f1") & (entities.model == "random")]
    assert sorted(pa.entity) == ENTITIES
    assert dict(zip(pa.entity, pa.value)) == pytest.approx({e: values[("random", e)][0] for e in ENTITIES})
    assert not entities.metric.isin(["epoch", "seed", "epoch_seconds"]).any()
    summary = pd.read_csv(written["entity_summary.csv"])
    row = summary[(summary.metric == "at_compat/pa_f1") & (summary.model == "random")].iloc[0]
    column = [values[("random", e)][0] for e in ENTITIES]
    assert (row["mean"], row["median"]) == pytest.approx((np.mean(column), np.median(column)))
    assert row["n_entities"] == len(ENTITIES) and row["entities_left_out"] == "SMD/machine-9-9"
    note = written["main.md"].read_text()
    assert (f"SMD: run per entity; each number is the mean over its entities (n = {len(ENTITIES)} entities)" in note
            and "Left out (no anomalous test point): SMD/machine-9-9." in note)


def test_ranks_across_entities_and_a_cd_diagram(grid):
    _, values, written = grid
    ranks = pd.read_csv(written["ranks.csv"])
    headline = ranks[(ranks.blocks == "SMD entities") & (ranks.metric == "PA-F1 (headline protocol)")]
    table = np.array([[values[(m, e)][0] for m in MODELS] for e in ENTITIES])
    expected = dict(zip(MODELS.values(), stats.rankdata(-table, axis=1).mean(axis=0)))
    assert dict(zip(headline.model, headline.average_rank)) == pytest.approx(expected)
    assert (headline.n_blocks == len(ENTITIES)).all() and (headline.friedman_p < 0.05).all()
    pairs = pd.read_csv(written["wilcoxon.csv"])
    assert len(pairs[(pairs.blocks == "SMD entities") & (pairs.metric == "PA-F1 (headline protocol)")]) == 3
    for metric in ("PA-F1", "V-PR"):
        assert f"figures/cd_{metric}_SMD_entities.png" in written
    html = written["report.html"].read_text()
    assert "cd_PA-F1_SMD_entities.png" in html
    # Two datasets are too few to rank models across datasets: the report says why.
    assert "across datasets: N = 2 datasets with a number for every model, fewer than the 6" in html


def test_records_and_provenance_carry_the_hashes(grid):
    _, _, written = grid
    records = pd.read_csv(written["records.csv"])
    smd = records[records.dataset.str.startswith("SMD/")]
    assert (smd.config_hash == "feedfacecafebeef").all() and smd.code_dirty.all()
    assert smd.data_sha256.str.fullmatch(r"SMD/machine-1-\d\.npz:(ab){32}").all()
    provenance = pd.read_csv(written["provenance.csv"])
    row = provenance[provenance.experiment == "random__SMD-machine-1-1"].iloc[0]
    assert row["code"] == "0123456789ab (dirty)" and row["version.torch"] == "2.13.0"
    assert row["trial_cpu_seconds"] == pytest.approx(0.5)
    assert "Provenance: code 0123456789ab (dirty) with torch 2.13.0, ray 2.60.0" in written["main.md"].read_text()


def test_a_fact_about_every_entity_is_said_once_for_the_dataset(tmp_path):
    from tsadbench.results.tables import write_tables

    rng = np.random.default_rng(5)
    for entity in ENTITIES[:3]:
        data = {"dataset": f"SMAP/{entity}", "entity_policy": "per-entity", "entities_left_out": []}
        settings = {"model": "random", "dataset": f"SMAP/{entity}", "score_postprocessing": "entity-minmax"}
        write_experiment(tmp_path, "random", f"SMAP/{entity}",
                         [FakeTrial(f"r{entity[-1]}", config(rng), random_reports(rng, 1, 1))],
                         display_name="Random score", extra_meta={"data": data, "settings": settings})
    notes = write_tables(tmp_path)["main.md"].read_text()
    assert "as the model's repository does: Random score on SMAP: entity-minmax (" in notes
    assert "machine-1-" not in notes


def test_an_entity_without_a_finished_trial_is_not_averaged_and_is_named(tmp_path):
    from tsadbench.results.tables import write_tables

    rng = np.random.default_rng(6)
    for entity in ENTITIES[:3]:
        data = {"dataset": f"SMD/{entity}", "entity_policy": "per-entity", "entities_left_out": []}
        failed = entity == ENTITIES[2]
        trial = FakeTrial(f"r{entity[-1]}", config(rng), [] if failed else random_reports(rng, 1, 1),
                          error="RuntimeError: boom" if failed else None)
        write_experiment(tmp_path, "random", f"SMD/{entity}", [trial], display_name="Random score",
                         extra_meta={"data": data})
    written = write_tables(tmp_path)
    cells = pd.read_csv(written["cells.csv"])
    assert cells[(cells.table == "main") & (cells.column == "SMD / F1")].iloc[0]["n"] == 2
    notes = written["main.md"].read_text()
    assert "(n = 2 entities)" in notes and "Not averaged (no finished trial): random on machine-1-3." in notes
