"""The Ray-free trial loop: every epoch reported with honest and oracle metrics; resume is exact."""
import numpy as np
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
