"""Oracles of spec B.8 for affiliation, range-based, VUS and the TSB-AD bundle, and perfect predictions."""

import numpy as np
import pytest

from tsadbench.evaluation import (
    affiliation,
    affiliation_from_events,
    event_f1_overlap,
    full_record,
    precision_recall_f1,
    range_auc_by_window,
    range_prf,
    tsb_ad_metrics,
    vus,
)

TOL = 1e-6


def te_fixture():
    """TimeEval's fixture: y[10:20] = y[28:33] = y[110:120] = 1; s = 0.5·U(0,1) (seed 41) with three peaks."""
    y = np.zeros(200, dtype=int)
    y[10:20] = y[28:33] = y[110:120] = 1
    s = 0.5 * np.random.default_rng(41).random(200)
    s[16:22] = s[33:38] = s[160:170] = 1
    return s, y


TOY_Y = np.array([0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0])
TOY_S = np.array([.1, .2, .1, .3, .9, .2, .1, .1, .1, .8, .1, .1, .2, .1, .1, .1, .1, .1, .1, .1])


def test_o_aff_1():
    res = affiliation([0, 0, 0, 0, 1, 0, 0, 0, 1, 0], [0, 0, 0, 1, 0, 0, 0, 1, 1, 1])
    assert res.precision == pytest.approx(0.818182, abs=TOL)
    assert res.recall == pytest.approx(0.844276, abs=TOL)
    assert res.individual_precision_probabilities == pytest.approx([0.636364, 1.0], abs=TOL)
    assert res.individual_recall_probabilities == pytest.approx([0.818182, 0.870370], abs=TOL)
    assert res.individual_precision_distances == pytest.approx([0.5, 0.0], abs=TOL)
    assert res.individual_recall_distances == pytest.approx([0.5, 0.333333], abs=TOL)


def test_o_aff_2():
    res = affiliation_from_events([(1, 3), (6, 18), (25, 26)], [(1, 8), (16, 17), (25, 28), (29, 31)], (1, 31))
    assert res.individual_precision_distances[:3] == pytest.approx([1.0, 8.5 / 6, 0.0], abs=1e-12)
    assert np.isnan(res.individual_precision_distances[3])
    assert res.individual_recall_distances[:3] == pytest.approx([2.25 / 7, 0.0, 2 / 3], abs=1e-12)
    assert np.isinf(res.individual_recall_distances[3])
    assert res.individual_recall_probabilities[3] == 0.0


@pytest.mark.parametrize(
    ("real", "pred", "kwargs", "expected"),
    [
        ([1, 1, 1, 0, 0], [0, 1, 0, 0, 0], {}, (1.0, 1 / 3, 0.5)),
        ([0, 1, 0, 0], [0, 1, 1, 0], {}, (0.5, 1.0, 2 / 3)),
        ([0, 1, 1, 1, 1, 0, 0, 1, 1, 0], [0, 0, 1, 1, 0, 0, 0, 1, 1, 1], {}, (5 / 6, 0.75, None)),
        ([0, 1, 1, 1, 1, 0, 0, 1, 1, 0], [0, 0, 1, 1, 0, 0, 0, 1, 1, 1], {"cardinality": "reciprocal"}, (5 / 6, 0.75, None)),
        ([0, 1, 1, 1, 1, 0, 0, 1, 1, 0], [0, 0, 1, 1, 0, 0, 0, 1, 1, 1], {"alpha": 0.5}, (5 / 6, 0.875, None)),
        ([0, 1, 1, 1, 1, 0, 0, 1, 1, 0], [0, 0, 1, 1, 0, 0, 0, 1, 1, 1],
         {"alpha": 0.5, "cardinality": "reciprocal"}, (5 / 6, 0.875, None)),
    ],
)
def test_o_rng(real, pred, kwargs, expected):
    res = range_prf(pred, real, **kwargs)
    assert res.precision == pytest.approx(expected[0], abs=TOL)
    assert res.recall == pytest.approx(expected[1], abs=TOL)
    if expected[2] is not None:
        assert res.f1 == pytest.approx(expected[2], abs=TOL)


@pytest.mark.parametrize(("window", "roc", "pr"), [(0, 0.510324, 0.147748), (10, 0.672897, 0.266164),
                                                   (20, 0.750649, 0.348087)])
def test_o_vus_tsb(window, roc, pr):
    s, y = te_fixture()
    assert vus(s, y, window) == pytest.approx((roc, pr), abs=TOL)


def test_vus_is_the_mean_of_range_aucs():
    s, y = te_fixture()
    curves = range_auc_by_window(s, y, 20)
    assert vus(s, y, 7) == pytest.approx((curves.roc[:8].mean(), curves.pr[:8].mean()), abs=1e-12)


def test_o_tsb_all():
    s, y = te_fixture()
    got = tsb_ad_metrics(s, y, sliding_window=10)
    expected = {"auc_pr": 0.149193, "auc_roc": 0.525257, "vus_pr": 0.266164, "vus_roc": 0.672897,
                "standard_f1": 0.234144, "pa_f1": 0.588235, "event_based_f1": 0.285714, "r_based_f1": 0.199064,
                "affiliation_f": 0.752019}
    assert got["oracle"] is True
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=TOL), key


def test_o_tsb_toy():
    oracle = tsb_ad_metrics(TOY_S, TOY_Y, sliding_window=2)
    expected = {"auc_pr": 0.65, "auc_roc": 0.833333, "vus_pr": 0.626095, "vus_roc": 0.82347, "standard_f1": 0.727268,
                "pa_f1": 0.833333, "event_based_f1": 0.8, "r_based_f1": 0.615385, "affiliation_f": 0.853513}
    for key, value in expected.items():
        assert oracle[key] == pytest.approx(value, abs=TOL), key
    fixed = tsb_ad_metrics(TOY_S, TOY_Y, sliding_window=2, pred=TOY_S > 0.5)
    assert fixed["oracle"] is False
    expected = {"standard_f1": 0.285714, "pa_f1": 0.666667, "event_based_f1": 0.5, "r_based_f1": 0.318182,
                "affiliation_f": 0.686001}
    for key, value in expected.items():
        assert fixed[key] == pytest.approx(value, abs=TOL), key


def test_o_orion_examples():
    truth, pred = [1, 1, 1, 0, 0, 0], [0, 1, 1, 1, 0, 0]
    assert precision_recall_f1(pred, truth).f1 == pytest.approx(0.667, abs=5e-4)
    assert np.mean(np.array(truth) == np.array(pred)) == pytest.approx(0.667, abs=5e-4)
    # The overlap-segment example (one detection inside the one anomaly), on a discrete grid: F1 = 1.
    y = np.zeros(1000, dtype=int)
    y[700:900] = 1
    p = np.zeros(1000, dtype=int)
    p[820:840] = 1
    assert event_f1_overlap(p, y).f1 == 1.0


def test_perfect_scores_give_one_on_every_metric():
    y = np.zeros(3000, dtype=int)
    y[0:20] = y[500:560] = y[1000] = y[2990:] = 1
    rec = full_record(y.astype(float), y, train_scores=np.zeros(1000), val_scores=np.zeros(100),
                      anomaly_ratio=(y.mean() * 100), protocols=["best-f1", "test-percentile"])
    metric_keys = [k for k in rec if k.endswith(("precision", "recall", "f1", "auc", "auc_roc", "auc_pr", "vus_roc",
                                                 "vus_pr", "auc_f1"))]
    assert len(metric_keys) > 40
    for key in metric_keys:
        assert rec[key] == pytest.approx(1.0, abs=1e-12), key
    # TSB-AD's Standard-F1 carries its 1e-5 in the denominator.
    assert all(v == pytest.approx(1.0, abs=1e-5) for k, v in tsb_ad_metrics(y * 1.0, y, 10).items() if k != "oracle")


def test_o_te_small_average_precision():
    from tsadbench.evaluation import average_precision

    assert average_precision([0, 0.1, 1.0, 0.5, 0, 0], [0, 1, 1, 0, 0, 0]) == pytest.approx(0.833333, abs=TOL)


@pytest.mark.parametrize("fixture, expected", [(te_fixture, 0.234144), (lambda: (TOY_S, TOY_Y), 0.727268)])
def test_best_pointwise_f1_is_tsb_ad_standard_f1(fixture, expected):
    """The best-f1 record's best point-wise F1 over all thresholds (oracle) is TSB-AD's Standard-F1
    (which differs only by the 1e-5 in its denominator)."""
    s, y = fixture()
    record = full_record(s, y, protocols=["best-f1"])
    assert record["best-f1/uses_test_labels"] is True
    assert record["best-f1/best_pointwise_f1"] == pytest.approx(expected, abs=1e-5)
    predicted = s > record["best-f1/best_pointwise_threshold"]
    assert precision_recall_f1(predicted, y).f1 == pytest.approx(record["best-f1/best_pointwise_f1"], abs=1e-12)
