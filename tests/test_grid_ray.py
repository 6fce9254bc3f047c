"""A real grid on the local Ray cluster: OptunaSearch + ASHA trials, tables that match the trial
records, a failing trial that does not sink the grid, and a rerun that redoes nothing."""
import json

import pandas as pd
import pytest

from tsadbench.results.tables import write_tables
from tsadbench.tuning.grids import GridSpec
from tsadbench.tuning.runner import GridRequest, plan_grid, run_grid

pytestmark = pytest.mark.ray

TINY = GridSpec("tiny", "test grid", models=("mlp_autoencoder", "random"), datasets=("synthetic",), num_samples=2,
                max_concurrent=2, epochs_cap=2, max_windows_per_epoch=256, tiny_models=True)


def _last_reports(experiment_dir):
    reports = []
    for result in sorted(experiment_dir.glob("*/result.json")):
        lines = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
        reports.append(lines[-1])
    return reports


def test_grid_runs_reports_and_tables_match_the_records(ray_session, tmp_path):
    plan = plan_grid(GridRequest(grid=TINY, storage=tmp_path, run_name="run", protocol="clean"))
    lines = []
    outcomes = run_grid(plan, printer=lines.append)
    assert [(o.name, o.status, o.trials, o.errors) for o in outcomes] == [
        ("mlp_autoencoder__synthetic", "complete", 2, 0), ("mlp_autoencoder__synthetic__untrained", "complete", 1, 0),
        ("random__synthetic", "complete", 2, 0)]
    assert sum("done after" in line for line in lines) == 5

    autoencoder = _last_reports(tmp_path / "run" / "mlp_autoencoder__synthetic")
    assert len(autoencoder) == 2 and all(r["epoch"] == r["epochs_planned"] for r in autoencoder)
    best = min(autoencoder, key=lambda r: r["val_loss"])
    written = write_tables(tmp_path / "run")
    main = pd.read_csv(written["main.csv"], header=[0, 1], index_col=0, dtype=str)
    for metric, key in (("P", "pa_precision"), ("R", "pa_recall"), ("F1", "pa_f1")):
        assert main.loc["MLP autoencoder", ("synthetic", metric)] == f"{100 * best['val_percentile'][key]:.2f}"
    honest = written["honest.md"].read_text()
    assert f"{100 * best['threshold_free']['roc_auc']:.2f}" in honest
    assert f"{100 * best['best_f1']['pa_f1']:.2f}" in honest and "‡" in honest
    records = pd.read_csv(written["records.csv"])
    oracle_rows = records[records.threshold_protocol == "best-f1"]
    assert oracle_rows.oracle.all() and not records[records.threshold_protocol == "at-compat"].oracle.any()
    assert set(records.objective) == {"val_loss"} and not records.objective_uses_test_labels.any()

    (untrained,) = _last_reports(tmp_path / "run" / "mlp_autoencoder__synthetic__untrained")
    assert untrained["epoch"] == 0 and untrained["config"]["untrained"] is True
    assert {k: v for k, v in untrained["config"].items() if k != "untrained"} == best["config"]
    assert untrained["val_loss"] > best["val_loss"]
    assert list(main.index) == ["MLP autoencoder", "Random score", "Untrained MLP autoencoder"]
    for folder in (tmp_path / "run").glob("*/tsadbench_experiment.json"):
        provenance = json.loads(folder.read_text())["provenance"]
        assert {"torch", "ray", "optuna", "numpy", "tsadbench"} <= set(provenance["packages"])
        assert isinstance(provenance["git"]["dirty"], bool) and len(provenance["config_hash"]) == 16
        assert len(json.loads(folder.read_text())["data"]["file_sha256"]["synthetic (generated)"]) == 64
    assert main.loc["Untrained MLP autoencoder", ("synthetic", "F1")] == f"{100 * untrained['val_percentile']['pa_f1']:.2f}"

    rerun = run_grid(plan_grid(GridRequest(grid=TINY, storage=tmp_path, run_name="run", protocol="clean")),
                     printer=lines.append)
    assert [o.status for o in rerun] == ["skipped", "skipped", "skipped"]
    assert len(list((tmp_path / "run" / "mlp_autoencoder__synthetic").glob("*/params.json"))) == 2


def test_a_crashing_trial_is_recorded_and_the_grid_goes_on(ray_session, tmp_path):
    # a learning rate that passes every check before Ray starts but makes training diverge
    request = GridRequest(grid=TINY, storage=tmp_path, run_name="broken", fixed={"lr": 1e30}, num_samples=1)
    outcomes = run_grid(plan_grid(request), printer=lambda line: None)
    assert [(o.status, o.errors) for o in outcomes] == [("complete", 1), ("no_best_trial", 0), ("complete", 0)]
    trials = pd.read_csv(write_tables(tmp_path / "broken")["trials.csv"])
    failed = trials[trials.status == "ERROR"]
    assert list(failed.experiment) == ["mlp_autoencoder__synthetic"]
    assert "train_loss became nan during training" in failed.error.iloc[0]
    main = (tmp_path / "broken" / "tables" / "main.md").read_text()
    assert "| MLP autoencoder | — | — | — |" in main and "no finished trial" in main


def test_paper_protocol_with_seed_repeats_marks_oracle_and_keeps_the_study(ray_session, tmp_path):
    grid = GridSpec("tiny", "test grid", models=("mlp_autoencoder",), datasets=("synthetic",), num_samples=2,
                    max_concurrent=2, epochs_cap=2, max_windows_per_epoch=256, tiny_models=True)
    plan = plan_grid(GridRequest(grid=grid, storage=tmp_path, run_name="paper", seeds=2, untrained_copies=False))
    experiment = plan.experiments[0]
    assert (experiment.protocol_mode, experiment.threshold_protocol) == ("paper", "at-compat")
    assert experiment.objective.metric == "at_compat/pa_f1" and experiment.objective.uses_test_labels
    outcomes = run_grid(plan, printer=lambda line: None)
    assert [(o.name, o.status, o.trials) for o in outcomes] == [
        ("mlp_autoencoder__synthetic", "complete", 2), ("mlp_autoencoder__synthetic__seeds", "complete", 2)]
    seeds = sorted(r["seed"] for r in _last_reports(tmp_path / "paper" / "mlp_autoencoder__synthetic__seeds"))
    assert seeds == [0, 1]
    search = _last_reports(tmp_path / "paper" / "mlp_autoencoder__synthetic")
    best = max(search, key=lambda r: r["at_compat"]["pa_f1"])
    repeat_configs = [json.loads(p.read_text()) for p in
                      (tmp_path / "paper" / "mlp_autoencoder__synthetic__seeds").glob("*/params.json")]
    assert all(c["seed_repeat"] and c["win_size"] == best["config"]["win_size"] and c["lr"] == best["config"]["lr"]
               for c in repeat_configs)
    import optuna
    study = optuna.load_study(study_name="mlp_autoencoder__synthetic", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "paper" / "mlp_autoencoder__synthetic"
                                                       / "optuna_journal.log"))))
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(finished) == 2
    assert sorted(t.value for t in finished) == pytest.approx(sorted(r["at_compat"]["pa_f1"] for r in search))
    records = pd.read_csv(write_tables(tmp_path / "paper")["records.csv"])
    assert records[records.experiment_complete].oracle.all()
