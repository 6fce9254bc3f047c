"""The one-liner baseline: hand-computed oracle, no training, validation loss = mean score."""
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from tsadbench.zoo import get_model
from tsadbench.zoo.base import ModelConfigError
from tsadbench.zoo.one_liner import OneLiner


def test_scores_equal_hand_computed_oracle():
    series = np.array([[0.0, 0.0], [1.0, -1.0], [1.0, 1.0], [4.0, 1.0]])
    model = OneLiner(2, OneLiner.Config())
    # |Δ| summed over channels: t=1: 1+1, t=2: 0+2, t=3: 3+0; t=0 repeats t=1.
    np.testing.assert_array_equal(model.score(series), [2.0, 2.0, 2.0, 3.0])


def test_registered_untrained_and_validation_loss_is_mean_score():
    assert get_model("one_liner") is OneLiner
    rng = np.random.default_rng(0)
    series = rng.standard_normal((50, 3))
    model = OneLiner(3, OneLiner.Config())
    before = model.score(series)
    assert model.train_epoch(series) == {}
    assert model.epochs_trained == 1
    np.testing.assert_array_equal(model.score(series), before)
    assert model.validation_loss(series) == pytest.approx(before.mean())
    restored = OneLiner(3, OneLiner.Config())
    restored.load_state_dict(model.state_dict())
    assert restored.epochs_trained == 1


def test_detects_spikes_and_refuses_unknown_hyperparameters():
    rng = np.random.default_rng(1)
    t = np.arange(400)
    series = np.stack([np.sin(2 * np.pi * t / 40), np.cos(2 * np.pi * t / 25)], axis=1)
    series += 0.05 * rng.standard_normal((400, 2))
    labels = np.zeros(400, dtype=int)
    for position in (50, 170, 300):
        series[position, 0] += 3.0
        labels[position] = 1
    assert roc_auc_score(labels, OneLiner(2, OneLiner.Config()).score(series)) > 0.95
    with pytest.raises(ModelConfigError, match="lr"):
        OneLiner.Config.from_dict({"lr": 1e-3})


def test_search_space_file_is_consistent():
    with open(Path(__file__).parents[1] / "search_spaces" / "one_liner.yaml") as handle:
        space = yaml.safe_load(handle)
    assert space["model"] == "one_liner"
    assert space["params"] == {}
