"""Tables built from a fake grid in the exact on-disk layout: every number is checked against the
trial records it came from, seed repeats give mean ± std, a partly failed and partly finished grid
still yields tables with its gaps marked, and no oracle number appears without its mark."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.test_results_fakes import FakeTrial, config, random_reports, random_section, write_experiment
from tsadbench.results.aggregate import Cell, UnmarkedOracleError, aggregate
from tsadbench.results.cli import main
from tsadbench.results.marks import ORACLE
from tsadbench.results.published import load_published
from tsadbench.results.records import read_grid
from tsadbench.results.select import select
from tsadbench.results.tables import write_tables

TRANSMAMBA, DUAL_STF = "TransMamba", "Dual-STF"
RANDOM, ONE_LINER = "Random score", "One-liner |Δx|"
MAIN = {"P": "pa_precision", "R": "pa_recall", "F1": "pa_f1"}
HONEST = {"F1": "val_percentile/f1", "PA%K": "val_percentile/pak_auc_f1", "Aff-F": "val_percentile/affiliation_f1",
          "R-F1": "val_percentile/range_f1", "Ev-F1": "val_percentile/event_composite_f1",
          "ROC": "threshold_free/roc_auc",
          "PR": "threshold_free/pr_auc", "V-ROC": "threshold_free/vus_roc", "V-PR": "threshold_free/vus_pr",
          "PA-F1‡": "best_f1/pa_f1", "Best-F1‡": "best_f1/best_pointwise_f1"}


def main_key(label, metric):
    """The main table reads each model's headline protocol: best-f1 for Dual-STF, at-compat otherwise."""
    return f"{'best_f1' if label == DUAL_STF else 'at_compat'}/{MAIN[metric]}"


def _trial(rng, trial_id, epochs, planned, val_losses=None, error=None, vus=False, **extra):
    seed = extra.pop("seed", 0)
    return FakeTrial(trial_id, config(rng, **extra, **({"seed": seed} if extra.get("seed_repeat") else {})),
                     random_reports(rng, epochs, planned, seed=seed, val_losses=val_losses, vus=vus), error=error)


def build_partial_grid(root):
    """A partly failed, partly finished grid with seed repeats and an oracle-tuned model; returns
    (folder, the trials behind each (row, dataset) cell)."""
    rng = np.random.default_rng(7)
    names = {"transmamba": TRANSMAMBA, "random": "Random score",
             "dual_stf": "Dual-STF (clean re-implementation of the described architecture)",
             "one_liner": "One-liner |Δx| (Wu & Keogh 2021)"}
    tm = dict(display_name=names["transmamba"])
    # TransMamba on SMD: a failed, an ASHA-stopped and a finished search trial; three finished seed
    # repeats in a __seeds experiment (a fourth failed).
    best_smd = _trial(rng, "tm00smd2", 2, 2, [0.5, 0.3], vus=True)
    write_experiment(root, "transmamba", "SMD", [
        _trial(rng, "tm00smd0", 1, 2, [0.1], error="RuntimeError: CUDA out of memory", vus=True),
        _trial(rng, "tm00smd1", 1, 2, [0.6], vus=True), best_smd], **tm)
    seeds_smd = [_trial(rng, f"tmseed{s}", 2, 2, seed=s, vus=True) for s in (1, 2, 3)]
    write_experiment(root, "transmamba", "SMD", seeds_smd + [
        _trial(rng, "tmseed4", 1, 2, seed=4, error="ValueError: nan loss", vus=True)], seeds=[1, 2, 3, 4], **tm)
    # TransMamba on MSL: two search trials and two seed repeats marked in their config.
    best_msl = _trial(rng, "tm00msl0", 2, 2, [0.4, 0.25], vus=True)
    seeds_msl = [_trial(rng, f"tmrep{s}", 2, 2, seed=s, seed_repeat=True, vus=True) for s in (5, 6)]
    write_experiment(root, "transmamba", "MSL", [best_msl, _trial(rng, "tm00msl1", 2, 2, [0.5, 0.4], vus=True),
                                                 *seeds_msl], **tm)
    # Dual-STF: tuned on test labels on SMD (every number an oracle); every trial failed on MSL.
    dual_smd = [_trial(rng, f"ds00smd{i}", 2, 2) for i in range(2)]
    write_experiment(root, "dual_stf", "SMD", dual_smd, display_name=names["dual_stf"], objective_name="pa_f1",
                     headline="best-f1")
    write_experiment(root, "dual_stf", "MSL", [_trial(rng, "ds00msl0", 0, 2, error="IndexError: boom")],
                     display_name=names["dual_stf"], objective_name="pa_f1", headline="best-f1")
    # Random: finished on SMD; still running on MSL (no complete file; a line cut mid-write).
    random_smd = _trial(rng, "rnd00smd", 1, 1)
    write_experiment(root, "random", "SMD", [random_smd], display_name=names["random"])
    random_msl = _trial(rng, "rnd00msl", 1, 1)
    folder = write_experiment(root, "random", "MSL", [random_msl], display_name=names["random"], complete=False)
    with open(folder / "trial_rnd00msl" / "result.json", "a") as file:
        file.write('{"epoch": 2, "val_lo')
    # One-liner: SMD only (MSL not run).
    one_smd = _trial(rng, "one00smd", 1, 1)
    write_experiment(root, "one_liner", "SMD", [one_smd], display_name=names["one_liner"])
    dual_best = max(dual_smd, key=lambda t: t.last["best_f1"]["pa_f1"])
    behind = {(TRANSMAMBA, "SMD"): seeds_smd, (TRANSMAMBA, "MSL"): seeds_msl, (DUAL_STF, "SMD"): [dual_best],
              (RANDOM, "SMD"): [random_smd], (RANDOM, "MSL"): [random_msl], (ONE_LINER, "SMD"): [one_smd]}
    return root, behind


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    return build_partial_grid(tmp_path_factory.mktemp("grid"))


def _value(trial, key):
    node = trial.last
    for part in key.split("/"):
        node = node[part]
    return node


def shown(values, marks="", signed=False):
    """A cell as the tables must show it: percent, two decimals, ± sample std over several seeds."""
    text = f"{100 * np.mean(values):+.2f}" if signed else f"{100 * np.mean(values):.2f}"
    if len(values) > 1:
        text += f" ± {100 * np.std(values, ddof=1):.2f}"
    return text + marks


def _marks(label, dataset, key):
    oracle = label == DUAL_STF or key.startswith("best_f1/")
    return "‡" * oracle + "†" * (label == RANDOM and dataset == "MSL")


def expected_cell(behind, label, dataset, key):
    if (label, dataset) == (ONE_LINER, "MSL"):
        return "n/r"
    if (label, dataset) == (DUAL_STF, "MSL"):
        return "—"
    trials = behind[label, dataset]
    if key.startswith("threshold_free/vus") and label != TRANSMAMBA:
        return "n/c"
    return shown([_value(t, key) for t in trials], _marks(label, dataset, key))


@pytest.fixture(scope="module")
def written(grid):
    return write_tables(grid[0])


def test_write_tables_returns_every_file_orchestrate_uses(written):
    for name in ("main.csv", "main.md", "main.tex", "honest.csv", "honest.md", "honest.tex", "records.csv",
                 "trials.csv", "published.csv", "published.md", "published.tex", "cells.csv", "paper_tables.tex"):
        assert written[name].is_file() and written[name].stat().st_size > 0, name


def test_every_number_of_the_main_table_matches_the_trial_records(grid, written):
    _, behind = grid
    main = pd.read_csv(written["main.csv"], header=[0, 1], index_col=0, dtype=str, keep_default_na=False)
    assert list(main.index) == [DUAL_STF, TRANSMAMBA, RANDOM, ONE_LINER]
    assert set(main.columns) == {(d, m) for d in ("MSL", "SMD") for m in MAIN}
    for label in main.index:
        for dataset, metric in main.columns:
            expected = expected_cell(behind, label, dataset, main_key(label, metric))
            assert main.loc[label, (dataset, metric)] == expected, (label, dataset, metric)


def test_every_number_of_the_honest_table_matches_the_trial_records(grid, written):
    _, behind = grid
    honest = pd.read_csv(written["honest.csv"], index_col=[0, 1], dtype=str, keep_default_na=False)
    assert list(honest.columns) == list(HONEST)
    assert len(honest) == 8
    for (dataset, label), row in honest.iterrows():
        for header, key in HONEST.items():
            assert row[header] == expected_cell(behind, label, dataset, key), (dataset, label, header)


def test_every_number_of_the_published_table_matches_the_data_file_and_the_records(grid, written):
    _, behind = grid
    table = pd.read_csv(written["published.csv"], header=[0, 1], index_col=[0, 1], dtype=str, keep_default_na=False)
    transmamba = next(p for p in load_published() if p.model == "transmamba")
    assert [i for i in table.index] == [(f"{TRANSMAMBA} [1]", d) for d in transmamba.results]
    for (_, dataset), row in table.iterrows():
        published = transmamba.results[dataset]
        for metric, part in (("P", "precision"), ("R", "recall"), ("F1", "f1")):
            assert row[("Published", metric)] == f"{published[metric]:.2f}"
            key = f"at_compat/pa_loop_{part}"
            expected = shown([_value(t, key) for t in behind[TRANSMAMBA, dataset]]) \
                if (TRANSMAMBA, dataset) in behind else "n/r"
            assert row[("Ours", metric)] == expected
        if (TRANSMAMBA, dataset) in behind:
            ours = np.mean([_value(t, "at_compat/pa_loop_f1") for t in behind[TRANSMAMBA, dataset]])
            assert row[("Δ", "F1")] == f"{100 * ours - published['F1']:+.2f}"
        else:
            assert row[("Δ", "F1")] == "n/r"
    notes = written["published.md"].read_text()
    assert transmamba.source in notes and "Anomaly Transformer" not in notes


def test_best_is_bold_and_second_underlined_in_markdown(grid, written):
    _, behind = grid
    lines = [line for line in written["main.md"].read_text().splitlines() if line.startswith("| ")]
    header = [h.strip() for h in lines[0].strip("|").split(" | ")]
    rows = {cells[0].strip(): cells for cells in
            ([c.strip() for c in line.strip("| ").split(" | ")] for line in lines[1:])}
    for position, column in enumerate(header[1:], start=1):
        dataset, metric = column.split(" ")
        means = {label: round(100 * np.mean([_value(t, main_key(label, metric)) for t in behind[label, dataset]]), 2)
                 for label in (DUAL_STF, TRANSMAMBA, ONE_LINER, RANDOM) if (label, dataset) in behind}
        ranked = sorted(set(means.values()), reverse=True)
        for label, mean in means.items():
            cell = rows[label.replace("|", r"\|")][position]
            assert cell.startswith("**") == (mean == ranked[0]), (column, label, cell)
            assert cell.startswith("<u>") == (len(ranked) > 1 and mean == ranked[1]), (column, label, cell)


def test_seed_repeats_are_aggregated_and_counted(grid, written):
    _, behind = grid
    cells = pd.read_csv(written["cells.csv"])
    main = cells[cells.table == "main"]
    smd = main[(main.row == TRANSMAMBA) & (main.column == "SMD / F1")].iloc[0]
    assert smd.n == 3 and smd.trials == "tmseed1 tmseed2 tmseed3"
    assert np.isclose(smd["mean"], np.mean([t.last["at_compat"]["pa_f1"] for t in behind[TRANSMAMBA, "SMD"]]))
    msl = main[(main.row == TRANSMAMBA) & (main.column == "MSL / F1")].iloc[0]
    assert msl.n == 2 and msl.trials == "tmrep5 tmrep6"
    notes = written["main.md"].read_text()
    assert "TransMamba on MSL: n = 2" in notes and "TransMamba on SMD: n = 3" in notes
    trials = pd.read_csv(written["trials.csv"], keep_default_na=False)
    selected = trials[trials.selected.astype(str) == "True"].set_index("experiment").trial.to_dict()
    assert selected["transmamba__SMD"] == "trial_tm00smd2" and selected["transmamba__MSL"] == "trial_tm00msl0"
    assert set(trials[trials.in_tables.astype(str) == "True"].trial) >= {"trial_tmseed1", "trial_tmrep5"}
    assert "trial_tmseed4" not in set(trials[trials.in_tables.astype(str) == "True"].trial)


def test_a_partial_grid_marks_every_gap_and_says_why(grid, written):
    main_md = written["main.md"].read_text()
    assert "| Dual-STF | — | — | — |" in main_md
    for mark, meaning in (("—", "no finished trial"), ("n/r", "not run in this grid"),
                          ("†", "experiment not finished"), ("‡", "oracle: chosen with test labels")):
        assert f"{mark} {meaning}" in main_md, mark
    assert "n/c not in the trial records" in written["honest.md"].read_text()
    trials = pd.read_csv(written["trials.csv"], keep_default_na=False).set_index("trial")
    assert trials.loc["trial_rnd00msl", "unreadable_lines"] == 1
    assert trials.loc["trial_tm00smd0", "status"] == "ERROR"
    assert trials.loc["trial_tm00smd0", "error"] == "RuntimeError: CUDA out of memory"


def test_footnotes_name_every_protocol_and_metric_variant(written):
    honest = written["honest.md"].read_text()
    assert "Threshold protocol val-percentile: threshold from the val scores, no labels" in honest
    assert "Threshold protocol best-f1: threshold from the test scores, chosen on the test labels" in honest
    assert "range_alpha = 0.0, range_bias = flat, range_cardinality = one" in honest
    assert "composite variant (Garg et al., TNNLS 2021" in honest and "vus_window = 100" in honest
    assert "Dual-STF: clean re-implementation of the described architecture." in honest
    main = written["main.md"].read_text()
    assert "segment-wise PA" in main and "Dual-STF: pa_f1 (F1 after point adjustment at the best-f1" in main
    assert "Threshold protocol at-compat (TransMamba, Random score, One-liner |Δx|): threshold from the train+test" \
        in main and "Threshold protocol best-f1 (Dual-STF): threshold from the test scores, chosen on the test" in main


def test_oracle_numbers_carry_their_mark_in_every_format(written):
    main = pd.read_csv(written["main.csv"], header=[0, 1], index_col=0, dtype=str)
    assert all(cell.endswith("‡") for cell in main.loc[DUAL_STF, "SMD"])
    md_row = next(line for line in written["main.md"].read_text().splitlines() if line.startswith("| Dual-STF"))
    assert md_row.count("‡") == 3
    tex_row = next(line for line in written["main.tex"].read_text().splitlines() if line.startswith("Dual-STF"))
    assert tex_row.count(r"$^\ddagger$") == 3 and "‡" not in written["main.tex"].read_text()


def test_a_cell_refuses_an_oracle_number_without_its_mark():
    with pytest.raises(UnmarkedOracleError):
        Cell(values=(0.9,), oracle=True)
    assert Cell(values=(0.9,), oracle=True, marks=(ORACLE,)).oracle


def test_a_record_that_says_it_saw_test_labels_is_marked_even_in_a_label_free_column(tmp_path):
    rng = np.random.default_rng(1)
    trial = _trial(rng, "x1", 1, 1)
    trial.reports[-1]["at_compat"]["uses_test_labels"] = True
    write_experiment(tmp_path, "random", "SMD", [trial], display_name="Random score")
    selection = select(*read_grid(tmp_path))[0]
    cell = aggregate(selection, "at_compat/pa_f1")
    assert cell.oracle and [m.symbol for m in cell.marks] == ["‡"]
    main = pd.read_csv(write_tables(tmp_path)["main.csv"], header=[0, 1], index_col=0, dtype=str)
    assert main.loc[RANDOM, ("SMD", "F1")] == shown([trial.last["at_compat"]["pa_f1"]], "‡")


def test_latex_escapes_names_and_marks(written):
    tex = written["main.tex"].read_text()
    assert r"One-liner \textbar{}$\Delta$x\textbar{}" in tex and r"$\pm$" in tex and r"$^\dagger$" in tex
    assert r"\toprule" in tex and r"\cmidrule(lr){2-4}" in tex and r"\textbf{" in tex and r"\underline{" in tex
    assert r"Wu \& Keogh 2021" in written["honest.tex"].read_text()


def test_the_published_data_file_is_sourced_and_its_inconsistencies_are_noted():
    papers = load_published()
    assert {p.model for p in papers} == {"anomaly_transformer", "transmamba", "stformer"}
    for paper in papers:
        assert paper.source and paper.paper and paper.results
        for dataset, values in paper.results.items():
            harmonic = 2 * values["P"] * values["R"] / (values["P"] + values["R"])
            if abs(harmonic - values["F1"]) > 0.02:
                noted = any(dataset in note and f"{harmonic:.2f}" in note for note in paper.notes)
                assert noted, (paper.model, dataset)
    stformer = next(p for p in papers if p.model == "stformer")
    assert stformer.uses_test_labels and stformer.protocol == "ratio-sweep"


def test_the_command_line_rebuilds_from_records_and_refuses_an_empty_folder(grid, tmp_path, capsys):
    assert main([str(grid[0]), "--out", str(tmp_path / "out"), "--no-figures"]) == 0
    printed = capsys.readouterr().out
    assert "main.tex" in printed and "report.html" in printed
    assert (tmp_path / "out" / "report.html").is_file()
    assert main([str(tmp_path / "empty")]) == 2
    assert "holds no experiment" in capsys.readouterr().err


def test_records_csv_keeps_each_number_with_its_provenance(grid, written):
    records = pd.read_csv(written["records.csv"])
    oracle = records[records.threshold_protocol == "best-f1"]
    assert oracle.oracle.all() and not records[(records.threshold_protocol == "at-compat")
                                               & (records.model != "dual_stf")].oracle.any()
    assert records[records.model == "dual_stf"].oracle.all()
    seeds = records[(records.model == "transmamba") & (records.dataset == "SMD")]
    assert set(seeds.role) == {"seed_repeat"} and set(seeds.seed) == {1, 2, 3}


def test_score_postprocessing_is_noted_and_kept_in_the_records(tmp_path):
    rng = np.random.default_rng(2)
    folder = write_experiment(tmp_path, "random", "SMAP", [_trial(rng, "p1", 1, 1)], display_name="Random score")
    meta_file = folder / "tsadbench_experiment.json"
    meta = json.loads(meta_file.read_text())
    meta["settings"]["score_postprocessing"] = "entity-minmax"
    meta_file.write_text(json.dumps(meta))
    write_experiment(tmp_path, "random", "MSL", [_trial(rng, "p2", 1, 1)], display_name="Random score")
    written = write_tables(tmp_path)
    assert ("Scores post-processed before every threshold and metric, as the model's repository does: "
            "Random score on SMAP: entity-minmax") in written["main.md"].read_text()
    records = pd.read_csv(written["records.csv"])
    assert set(records[records.dataset == "SMAP"].score_postprocessing) == {"entity-minmax"}
    assert set(records[records.dataset == "MSL"].score_postprocessing) == {"none"}


def test_an_early_stopped_trial_is_reported_at_its_restored_epoch_and_extra_scores_stay_extra(tmp_path):
    """Reports as `run_trial` writes them: epochs 1-3 with patience 2, then epoch 1 restored; the
    restored record heads the tables, and the reconstruction-only record appears only in records.csv."""
    rng = np.random.default_rng(5)
    reports = random_reports(rng, 3, 6, val_losses=[0.2, 0.3, 0.4])
    stops = [None, None, "patience"]
    for epoch, (report, reason) in enumerate(zip(reports, stops), start=1):
        report["reported_epoch"] = 1
        report["early_stopping"] = {"split": "test", "patience": 2, "min_delta": 0.0, "monitored_loss": 0.1 * epoch,
                                    "best_epoch": 1, "best_loss": 0.1, "bad_epochs": epoch - 1, "stop_reason": reason}
    restored = {**reports[0], "early_stopping": {**reports[0]["early_stopping"], "stop_reason": "patience",
                                                  "restored": True, "stopped_after_epoch": 3},
                "extra_scores": {"reconstruction": {"at_compat": random_section(rng, "at_compat"),
                                                    "threshold_free": random_section(rng, "threshold_free")}}}
    write_experiment(tmp_path, "anomaly_transformer", "SMD", [FakeTrial("es1", config(rng), [*reports, restored])],
                     display_name="Anomaly Transformer")
    (trial,) = read_grid(tmp_path)[1]
    assert trial.last is not reports[0] and trial.last["early_stopping"]["restored"] is True
    assert trial.final["epoch"] == 3 and trial.ran_every_epoch
    written = write_tables(tmp_path)
    main_table = pd.read_csv(written["main.csv"], header=[0, 1], index_col=0, dtype=str)
    assert main_table.loc["Anomaly Transformer", ("SMD", "F1")] == f"{100 * restored['at_compat']['pa_f1']:.2f}"
    trials = pd.read_csv(written["trials.csv"])
    assert trials.reported_because.iloc[0] == ("epoch 1, restored: lowest test loss, patience 2, min_delta 0.0; "
                                               "stopped early after epoch 3")
    records = pd.read_csv(written["records.csv"])
    extra = records[records.score == "reconstruction"]
    assert set(extra.threshold_protocol) == {"at-compat", "threshold-free"}
    headline_auc = records[(records.score == "model") & (records.metric == "roc_auc")].value
    assert list(headline_auc) == [pytest.approx(restored["threshold_free"]["roc_auc"])]
    assert "Reported epoch per cell: Anomaly Transformer on SMD: epoch 1, restored" in written["main.md"].read_text()


def test_sanity_baselines_sit_under_a_rule_after_the_learning_models(written):
    main_md = written["main.md"].read_text().splitlines()
    rows = [line.split(" | ")[0].lstrip("| ") for line in main_md if line.startswith("| ") and "---" not in line]
    assert rows[1:] == [DUAL_STF, TRANSMAMBA, "*sanity baselines*", RANDOM, "One-liner \\|Δx\\|"]
    tex = written["main.tex"].read_text().splitlines()
    assert tex[[i for i, line in enumerate(tex) if line.startswith("Random score")][0] - 1] == r"\midrule"
    honest = written["honest.tex"].read_text()
    assert honest.count(r"\midrule") >= 2 * 2  # header + one rule per dataset group (plus group separators)


def test_row_order_and_footnotes_said_once():
    from tsadbench.results.aggregate import baseline_rules
    from tsadbench.results.notes import model_notes
    from tsadbench.results.select import row_group

    models = ["one_liner", "b:untrained", "zeta", "random", "alpha"]
    assert sorted(models, key=row_group) == ["zeta", "alpha", "random", "one_liner", "b:untrained"]
    index = pd.MultiIndex.from_tuples([("A", "m"), ("A", "Random"), ("B", "Random"), ("B", "m"), ("B", "Random")])
    assert baseline_rules(index, lambda label: label[1] == "Random") == (1, 4)
    remark = "clean re-implementation of the described architecture"
    assert model_notes({"Dual-STF": remark, "Untrained Dual-STF": remark, "TWavefussion": "other"}) == [
        f"Dual-STF, Untrained Dual-STF: {remark}.", "TWavefussion: other."]
