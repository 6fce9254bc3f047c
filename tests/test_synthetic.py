"""The synthetic generator: seeded, every NeurIPS-TS kind present, labels exact, anomalies real."""
import numpy as np
import pytest

from tsadbench.datasets.synthetic import ANOMALY_KINDS, SyntheticSpec, generate_synthetic


def test_same_seed_same_data_other_seed_other_data():
    first, again = generate_synthetic(SyntheticSpec(seed=3)), generate_synthetic(SyntheticSpec(seed=3))
    other = generate_synthetic(SyntheticSpec(seed=4))
    np.testing.assert_array_equal(first.arrays.test, again.arrays.test)
    np.testing.assert_array_equal(first.arrays.labels, again.arrays.labels)
    assert not np.allclose(first.arrays.test, other.arrays.test)


def test_shapes_kinds_and_labels_match_the_injected_anomalies():
    spec = SyntheticSpec(n_channels=4, train_length=1500, test_length=3000, anomalies_per_kind=2, seed=1)
    data = generate_synthetic(spec)
    assert data.arrays.train.shape == (1500, 4) and data.arrays.test.shape == (3000, 4)
    assert data.arrays.train.dtype == np.float32 and data.arrays.labels.dtype == np.uint8
    assert sorted(a.kind for a in data.anomalies) == sorted(ANOMALY_KINDS * 2)
    expected = np.zeros(3000, np.uint8)
    for anomaly in data.anomalies:
        expected[anomaly.start:anomaly.end] = 1
        assert 1 <= anomaly.end - anomaly.start <= 250 and anomaly.channels
    np.testing.assert_array_equal(data.arrays.labels, expected)
    spans = sorted((a.start, a.end) for a in data.anomalies)
    assert all(prev_end + 20 <= start for (_, prev_end), (start, _) in zip(spans, spans[1:]))


def test_anomalies_change_only_their_rows_and_channels():
    spec = SyntheticSpec(seed=5)
    data = generate_synthetic(spec)
    clean = generate_synthetic(SyntheticSpec(seed=5, anomalies_per_kind=0))
    changed = ~np.isclose(data.arrays.test, clean.arrays.test)
    allowed = np.zeros_like(changed)
    for anomaly in data.anomalies:
        allowed[anomaly.start:anomaly.end, list(anomaly.channels)] = True
    assert not (changed & ~allowed).any()
    for anomaly in data.anomalies:
        assert changed[anomaly.start:anomaly.end, list(anomaly.channels)].any(), anomaly


def test_global_points_stand_out_of_the_channel_range():
    data = generate_synthetic(SyntheticSpec(seed=2))
    for anomaly in (a for a in data.anomalies if a.kind == "global_point"):
        for channel in anomaly.channels:
            column = data.arrays.train[:, channel]
            value = data.arrays.test[anomaly.start, channel]
            assert abs(value - column.mean()) > 3 * column.std()


def test_too_many_anomalies_for_the_length_is_refused():
    with pytest.raises(ValueError, match="too short"):
        generate_synthetic(SyntheticSpec(test_length=300, anomalies_per_kind=5))
