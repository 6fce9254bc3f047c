"""Where our metrics deliberately differ from the reference code (evaluation/__init__.py lists each):
every case here is one where a reference implementation errs and we do not."""
import numpy as np
import pytest

from tsadbench.evaluation import affiliation, event_f1_composite, point_adjust_k, range_prf, threshold_free_metrics
from tsadbench.evaluation.point_adjust import pak_f1_curve

Y = np.array([0, 0, 0, 1, 1, 0, 0, 1, 1, 1])


def test_event_f1_counts_the_last_point_of_a_segment_that_reaches_the_end():
    # TSB-AD ends the last event at tim - 1, so a hit on its last point would not detect it (recall 0).
    only_last = np.zeros(10, int)
    only_last[-1] = 1
    assert event_f1_composite(only_last, Y).recall == 0.5
    assert event_f1_composite(only_last, Y).precision == 1.0


@pytest.mark.parametrize("dtype", [bool, int, float])
def test_an_all_ones_prediction_is_one_range_for_any_label_type(dtype):
    # TSB-AD's range_convers_new finds no range in a constant prediction, and XORs the labels.
    result = range_prf(np.ones(10, dtype), Y.astype(dtype))
    assert (result.precision, result.recall) == (Y.mean(), 1.0)


def test_affiliation_precision_is_zero_when_nothing_is_predicted():
    # ahstat's package returns NaN here.
    result = affiliation(np.zeros(10, int), Y)
    assert (result.precision, result.recall, result.f1) == (0.0, 0.0, 0.0)


def test_pa_percent_k_compares_exactly():
    # tadpak: 29 > 29 / 100 * 100 == 28.999999999999996 adjusts the segment at K = 29.
    assert 29 > 29 / 100 * 100
    y = np.zeros(200, int)
    y[50:150] = 1
    pred = np.zeros(200, int)
    pred[50:79] = 1  # 29 of the segment's 100 points
    assert point_adjust_k(pred, y, 29).sum() == 29  # not strictly more than 29 %: left as predicted
    assert point_adjust_k(pred, y, 28).sum() == 100
    assert pak_f1_curve(pred, y, [28, 29]) == pytest.approx([1.0, 2 * 0.29 / 1.29])


def test_the_period_window_replaces_the_fixed_buffer():
    t = np.arange(2000)
    series = np.sin(2 * np.pi * t / 50)
    y = np.zeros(2000, int)
    y[1000:1020] = 1
    scores = np.abs(series) + 2.0 * y
    fixed = threshold_free_metrics(scores, y)
    period = threshold_free_metrics(scores, y, window="period", series=series)
    assert fixed["vus_window"] == 100 and period["vus_window"] == 50
