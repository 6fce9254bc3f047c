"""Normalisation fitted on train only, validation from the end of train, explicit NaN policy."""
import numpy as np
import pytest

from tsadbench.datasets.canonical import EntityArrays
from tsadbench.datasets.preprocessing import apply_nan_policy, concatenate_entities, prepare


def _entity(train, test, labels=None, name="e"):
    labels = np.zeros(len(test), np.uint8) if labels is None else labels
    return EntityArrays("toy", name, np.asarray(train, float), np.asarray(test, float), labels)


def _with_anomaly(test):
    labels = np.zeros(len(test), np.uint8)
    labels[len(test) // 2] = 1
    return labels


def test_statistics_come_from_train_only():
    rng = np.random.default_rng(0)
    train = rng.normal(5, 2, size=(100, 3))
    test = rng.normal(50, 20, size=(40, 3))
    data = prepare("toy", [_entity(train, test, _with_anomaly(test))], val_fraction=0.2)
    mean, std = train.mean(0), train.std(0)
    np.testing.assert_allclose(data.train, (train[:80] - mean) / std, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(data.val, (train[80:] - mean) / std, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(data.test, (test - mean) / std, rtol=1e-5, atol=1e-6)
    shifted = prepare("toy", [_entity(train, test * 10 + 7, _with_anomaly(test))], val_fraction=0.2)
    np.testing.assert_array_equal(shifted.train, data.train)
    assert data.provenance["scaler_fitted_on"] == "train"
    assert (data.provenance["train_rows"], data.provenance["val_rows"]) == (80, 20)


def test_constant_training_channel_is_only_centred():
    train = np.column_stack([np.full(10, 3.0), np.arange(10.0)])
    data = prepare("toy", [_entity(train, train + 1, _with_anomaly(train))], val_fraction=0.2)
    np.testing.assert_allclose(data.test[:, 0], 1.0)


def test_nan_policies():
    values = np.array([[np.nan, 1.0], [2.0, np.nan], [np.nan, 3.0]])
    with pytest.raises(ValueError, match=r"toy train contains 3 NaN.*--nan-policy"):
        apply_nan_policy(values, "error", "toy train")
    np.testing.assert_array_equal(apply_nan_policy(values, "zero", "x"), [[0, 1], [2, 0], [0, 3]])
    np.testing.assert_array_equal(apply_nan_policy(values, "ffill", "x"), [[0, 1], [2, 1], [2, 3]])
    with pytest.raises(ValueError, match="unknown NaN policy"):
        apply_nan_policy(values, "mean", "x")


def test_entities_are_concatenated_in_order_and_recorded():
    first = _entity(np.ones((10, 2)), np.ones((5, 2)), np.array([0, 1, 0, 0, 0], np.uint8), "a")
    second = _entity(np.zeros((10, 2)), np.zeros((4, 2)), np.array([0, 0, 0, 1], np.uint8), "b")
    joined = concatenate_entities([first, second])
    np.testing.assert_array_equal(joined.labels, [0, 1, 0, 0, 0, 0, 0, 0, 1])
    assert joined.train.shape == (20, 2)
    data = prepare("toy", [first, second])
    assert data.provenance["entity_policy"] == "concatenated" and data.provenance["entities"] == ["a", "b"]
    with pytest.raises(ValueError, match="different channel counts"):
        concatenate_entities([first, _entity(np.ones((10, 3)), np.ones((5, 3)))])


def test_a_test_split_without_anomalies_is_refused():
    with pytest.raises(ValueError, match="no anomalous point"):
        prepare("toy", [_entity(np.ones((10, 2)), np.ones((5, 2)))])
