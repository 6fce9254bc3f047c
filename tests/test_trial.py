"""The Ray-free trial loop: every epoch reported with honest and oracle metrics; resume is exact."""
import numpy as np
import torch
import pytest
from sklearn.metrics import roc_auc_score

from tsadbench.datasets.preprocessing import prepare
from tsadbench.datasets.synthetic import SyntheticSpec, generate_synthetic
from tsadbench.tuning.trial import TrialSettings, run_trial
from tsadbench.zoo.base import ModelConfigError

CONFIG = {"win_size": 32, "d_model": 16, "lr": 3e-3, "epochs": 3, "anomaly_ratio": 2.0}


@pytest.fixture(scope="module")
def data():
    return prepare("synthetic", [generate_synthetic(SyntheticSpec(train_length=2000, test_length=2500)).arrays])


def _collect(config, data, settings, state=None):
    reports = []
    run_trial(config, data, settings, lambda metrics, artifacts: reports.append((metrics, artifacts)), state=state)
    return reports


def test_every_epoch_reports_labelled_metrics(data):
    reports = _collect(CONFIG, data, TrialSettings("mlp_autoencoder", "synthetic", max_windows_per_epoch=512))
    assert [m["epoch"] for m, _ in reports] == [1, 2, 3]
    metrics, artifacts = reports[-1]
    at, oracle = metrics["at_compat"], metrics["best_f1"]
    assert at["protocol"] == "at-compat" and at["uses_test_labels"] is False
    assert oracle["protocol"] == "best-f1" and oracle["uses_test_labels"] is True and oracle["oracle"] is True
    assert oracle["pa_f1"] >= at["pa_f1"]
    test_scores = artifacts["scores"]["test"]
    assert test_scores.shape == data.labels.shape
    assert metrics["threshold_free"]["roc_auc"] == pytest.approx(roc_auc_score(data.labels, test_scores))
    combined = np.concatenate([artifacts["scores"]["train"], artifacts["scores"]["val"], test_scores])
    assert at["threshold"] == pytest.approx(np.percentile(combined, 100 - 2.0))
    assert metrics["val_loss"] < reports[0][0]["val_loss"]


def test_resuming_from_a_reported_state_reproduces_the_run(data):
    settings = TrialSettings("mlp_autoencoder", "synthetic", max_windows_per_epoch=256, seed=3)
    straight = _collect(CONFIG, data, settings)
    first_epoch_state = straight[0][1]["state"]
    resumed = _collect(CONFIG, data, settings, state=first_epoch_state)
    assert [m["epoch"] for m, _ in resumed] == [2, 3]
    assert resumed[-1][0]["val_loss"] == pytest.approx(straight[-1][0]["val_loss"], rel=1e-6)


def test_epochs_cap_and_window_check(data):
    capped = _collect(CONFIG, data, TrialSettings("mlp_autoencoder", "synthetic", epochs_cap=1))
    assert len(capped) == 1 and capped[0][0]["epochs_planned"] == 1
    with pytest.raises(ModelConfigError, match=r"win_size=900 is longer than the shortest split of synthetic \(400"):
        _collect({**CONFIG, "win_size": 900}, data, TrialSettings("mlp_autoencoder", "synthetic"))


def test_repository_evaluation_settings_reach_every_record():
    entities = []
    for number, shift in enumerate((0.0, 5.0)):  # two entities on different scales, as SMAP channels are
        arrays = generate_synthetic(SyntheticSpec(train_length=1500, test_length=1500, seed=number)).arrays
        entities.append(type(arrays)(arrays.dataset, f"E-{number}", arrays.train + shift, arrays.test + shift,
                                     arrays.labels))
    data = prepare("two", entities)
    assert data.train_entity_lengths == (1500, 1500) and data.test_entity_lengths == (1500, 1500)
    settings = TrialSettings("mlp_autoencoder", "two", max_windows_per_epoch=256, epochs_cap=1,
                             protocols=("pot-train", "epsilon-train", "best-f1"),
                             protocol_options={"pot_q": 5e-3, "pot_level": 0.9, "epsilon_reg_level": 0},
                             score_postprocessing="entity-minmax")
    metrics, artifacts = _collect(CONFIG, data, settings)[-1]
    assert metrics["pot_train"]["pot_level"] == 0.9 and metrics["pot_train"]["pot_q"] == 5e-3
    assert metrics["epsilon_train"]["epsilon_reg_level"] == 0
    test = artifacts["scores"]["test"]
    for part in (test[:1500], test[1500:]):
        assert part.min() == 0.0 and part.max() == pytest.approx(1.0)
    assert np.all(test[1500 - 19:1500 + 20] == 0.0)
    whole_train = np.concatenate([artifacts["scores"]["train"], artifacts["scores"]["val"]])
    assert whole_train[:1500].max() == pytest.approx(1.0) and whole_train[1500:].max() == pytest.approx(1.0)


def test_an_untrained_copy_is_scored_once_straight_after_initialisation(data):
    from tsadbench.zoo import get_model

    reports = _collect({**CONFIG, "untrained": True}, data, TrialSettings("mlp_autoencoder", "synthetic", seed=4))
    assert len(reports) == 1
    metrics, artifacts = reports[0]
    assert metrics["epoch"] == 0 and metrics["epochs_planned"] == 0 and "train_loss" not in metrics
    model_cls = get_model("mlp_autoencoder")
    fresh = model_cls(data.n_channels, model_cls.Config.from_dict({"win_size": 32, "d_model": 16, "lr": 3e-3}), seed=4)
    np.testing.assert_allclose(artifacts["scores"]["test"], fresh.score(data.test), rtol=1e-6)
    trained = _collect(CONFIG, data, TrialSettings("mlp_autoencoder", "synthetic", seed=4, max_windows_per_epoch=512))
    assert trained[-1][0]["val_loss"] < metrics["val_loss"]


def test_patience_stops_on_a_plateau_and_restores_the_best_epoch(data):
    """min_delta larger than any change makes every epoch after the first a bad one: with patience
    2 training ends after epoch 3 of 6, and epoch 1's state is restored, rescored and reported."""
    config = {**CONFIG, "epochs": 6, "patience": 2, "min_delta": 1e9}
    reports = _collect(config, data, TrialSettings("mlp_autoencoder", "synthetic", max_windows_per_epoch=256))
    assert [m["epoch"] for m, _ in reports] == [1, 2, 3, 1]
    stops = [m["early_stopping"] for m, _ in reports]
    assert [s["bad_epochs"] for s in stops[:3]] == [0, 1, 2]
    assert [s["stop_reason"] for s in stops] == [None, None, "patience", "patience"]
    assert all(m["reported_epoch"] == 1 for m, _ in reports) and stops[0]["split"] == "val"
    (first, first_artifacts), (restored, restored_artifacts) = reports[0], reports[-1]
    assert stops[-1]["restored"] is True and stops[-1]["stopped_after_epoch"] == 3
    assert restored["val_loss"] == first["val_loss"] and restored["at_compat"] == first["at_compat"]
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(restored_artifacts["scores"][split], first_artifacts["scores"][split])
    assert not np.array_equal(reports[2][1]["scores"]["test"], first_artifacts["scores"]["test"])
    # a resume from the restored report's state trains nothing more and reports the best epoch again
    again = _collect(config, data, TrialSettings("mlp_autoencoder", "synthetic", max_windows_per_epoch=256),
                     state=restored_artifacts["state"])
    assert [m["epoch"] for m, _ in again] == [1] and again[0][0]["val_loss"] == first["val_loss"]


def test_improving_runs_train_every_planned_epoch(data):
    reports = _collect({**CONFIG, "patience": 1, "min_delta": 0.0}, data,
                       TrialSettings("mlp_autoencoder", "synthetic", max_windows_per_epoch=512))
    assert [m["epoch"] for m, _ in reports] == [1, 2, 3]
    assert reports[-1][0]["early_stopping"]["stop_reason"] == "planned_epochs"
    assert reports[-1][0]["reported_epoch"] == 3


def test_resuming_in_the_middle_of_a_patience_run_reproduces_it(data):
    config = {**CONFIG, "epochs": 5, "patience": 2, "min_delta": 1e9}
    settings = TrialSettings("mlp_autoencoder", "synthetic", max_windows_per_epoch=256, seed=1)
    straight = _collect(config, data, settings)
    resumed = _collect(config, data, settings, state=straight[1][1]["state"])
    assert [m["epoch"] for m, _ in resumed] == [3, 1]
    assert resumed[-1][0]["val_loss"] == straight[-1][0]["val_loss"]


def test_the_monitored_split_follows_the_protocol():
    from tsadbench.tuning.early_stopping import EarlyStopping, monitored_split
    from tsadbench.zoo import get_model

    transmamba, at, autoencoder = (get_model(n) for n in ("transmamba", "anomaly_transformer", "mlp_autoencoder"))
    assert monitored_split(at, "MSL", "paper") == "test" and monitored_split(at, "MSL", "clean") == "val"
    assert monitored_split(transmamba, "SMD/machine-1-1", "paper") == "val"
    assert monitored_split(transmamba, "PSM", "paper") == "test"
    assert monitored_split(autoencoder, "PSM", "paper") == "val"
    rule = EarlyStopping(patience=2, min_delta=0.001, split="val")
    model = type("Stub", (), {"state_dict": lambda self: {}})()
    for epoch, loss in enumerate((1.0, 0.9995, 0.998, 0.9975, 0.9971), start=1):
        rule.update(epoch, loss, model, {})
    # 0.9995 and 0.9975 improve by less than min_delta; 0.998 improves on 1.0 by 0.002
    assert (rule.best_epoch, rule.best_loss, rule.stop_reason) == (3, 0.998, "patience")
    ties = EarlyStopping(patience=1, min_delta=0.0, split="test")
    ties.update(1, 0.5, model, {})
    ties.update(2, 0.5, model, {})  # the releases count an equal loss as an improvement (delta 0)
    assert ties.best_epoch == 2 and ties.stop_reason is None
    with pytest.raises(ModelConfigError, match="patience >= 1"):
        EarlyStopping(patience=0, min_delta=0.0, split="val")


def test_the_at_family_recipe_stops_on_the_test_split_under_the_paper_protocol(data):
    config = {"win_size": 16, "d_model": 8, "n_heads": 1, "e_layers": 1, "d_ff": 8, "batch_size": 32,
              "epochs": 2, "min_delta": 1e9}
    settings = TrialSettings("anomaly_transformer", "synthetic", max_windows_per_epoch=64, protocol_mode="paper")
    reports = _collect(config, data, settings)
    stop = reports[-1][0]["early_stopping"]
    assert (stop["split"], stop["patience"]) == ("test", 3)  # AT's recipe, the test split as solver.py
    assert [m["epoch"] for m, _ in reports] == [1, 2, 1] and stop["restored"] is True


def test_the_at_family_reports_the_reconstruction_score_beside_the_headline(data):
    """An extra record with every protocol for the reconstruction error alone; the headline records
    stay the release's association-weighted score."""
    from tsadbench.zoo import get_model

    config = {"win_size": 16, "d_model": 8, "n_heads": 1, "e_layers": 1, "d_ff": 8, "batch_size": 32, "epochs": 1}
    (metrics, artifacts), = _collect(config, data, TrialSettings("anomaly_transformer", "synthetic",
                                                                 max_windows_per_epoch=64))
    extra = metrics["extra_scores"]["reconstruction"]
    assert set(extra) == {"at_compat", "best_f1", "threshold_free"}
    assert extra["at_compat"]["protocol"] == "at-compat"
    model_cls = get_model("anomaly_transformer")
    model = model_cls(data.n_channels, model_cls.Config.from_dict({k: v for k, v in config.items() if k != "epochs"}))
    model.load_state_dict(artifacts["state"]["model"])
    scores = model.score_set(data.test)
    np.testing.assert_allclose(scores["score"], artifacts["scores"]["test"])
    assert metrics["threshold_free"]["roc_auc"] == pytest.approx(roc_auc_score(data.labels, scores["score"]))
    assert extra["threshold_free"]["roc_auc"] == pytest.approx(roc_auc_score(data.labels, scores["reconstruction"]))
    assert extra["threshold_free"]["roc_auc"] != metrics["threshold_free"]["roc_auc"]
    # per point: the squared error averaged over channels, the factor the release's score weights
    windows = torch.as_tensor(data.test[:16][None], dtype=torch.float32)
    with torch.no_grad():
        reconstruction = model.network(windows)[0]
    np.testing.assert_allclose(scores["reconstruction"][:16], (windows - reconstruction).pow(2).mean(-1)[0].numpy(),
                               rtol=1e-5)


def test_the_vus_window_follows_the_settings_and_cpu_time_is_reported(data):
    from tsadbench.evaluation.vus import period_window

    config = {**CONFIG, "epochs": 1}
    fixed = _collect(config, data, TrialSettings("mlp_autoencoder", "synthetic", max_windows_per_epoch=128))
    period = _collect(config, data, TrialSettings("mlp_autoencoder", "synthetic", max_windows_per_epoch=128,
                                                  vus_window="period"))
    assert fixed[0][0]["threshold_free"]["vus_window"] == 100
    assert period[0][0]["threshold_free"]["vus_window"] == period_window(data.test)
    assert 0 < fixed[0][0]["cpu_seconds"] and fixed[0][0]["best_f1"]["best_pointwise_f1"] > 0
