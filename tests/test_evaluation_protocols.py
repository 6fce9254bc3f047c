"""Threshold protocols and the evaluation record: AT-compat reproduced bit for bit, oracle labelling."""

import json

import numpy as np
import pytest
from scipy.stats import genpareto
from sklearn.metrics import precision_recall_fscore_support

from tsadbench.evaluation import PROTOCOLS, EvaluationInputError, evaluate, pot_threshold, threshold_free_metrics


def at_adjustment(gt, pred):
    """Literal transcription of the Anomaly-Transformer solver's detection-adjustment loop."""
    pred = list(pred)
    anomaly_state = False
    for i in range(len(gt)):
        if gt[i] == 1 and pred[i] == 1 and not anomaly_state:
            anomaly_state = True
            for j in range(i, 0, -1):
                if gt[j] == 0:
                    break
                if pred[j] == 0:
                    pred[j] = 1
            for j in range(i, len(gt)):
                if gt[j] == 0:
                    break
                if pred[j] == 0:
                    pred[j] = 1
        elif gt[i] == 0:
            anomaly_state = False
        if anomaly_state:
            pred[i] = 1
    return np.array(pred)


def at_solver_metrics(train_energy, test_energy, gt, ratio):
    thresh = np.percentile(np.concatenate([train_energy, test_energy], axis=0), 100 - ratio)
    pred = at_adjustment(gt, (test_energy > thresh).astype(int))
    p, r, f, _ = precision_recall_fscore_support(gt, pred, average="binary", zero_division=0)
    return thresh, p, r, f


def _data(seed=0, n=3000):
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=int)
    y[:40] = 1  # a segment at index 0 exercises the AT loop's quirk
    for a in rng.choice(np.arange(100, n - 100, (n - 200) // 24), 12, replace=False):
        y[a : a + rng.integers(1, 40)] = 1
    test = rng.gamma(2.0, 1.0, n) + 2.0 * y * rng.random(n)
    train = rng.gamma(2.0, 1.0, 2 * n)
    return train, test, y


KEYS = {"protocol", "threshold_splits", "uses_test_labels", "oracle", "threshold", "precision", "recall", "f1",
        "pa_precision", "pa_recall", "pa_f1"}


def test_registry_declares_data_and_oracle():
    assert set(PROTOCOLS) >= {"at-compat", "ratio-sweep", "best-f1", "pot-train", "train-percentile",
                              "val-percentile", "test-percentile"}
    assert PROTOCOLS["at-compat"].splits == ("train", "test")
    assert not PROTOCOLS["at-compat"].uses_test_labels
    for name in ("ratio-sweep", "best-f1"):
        assert PROTOCOLS[name].uses_test_labels and PROTOCOLS[name].oracle
    for name in ("pot-train", "train-percentile", "val-percentile", "test-percentile"):
        assert not PROTOCOLS[name].uses_test_labels
    with pytest.raises(TypeError):
        PROTOCOLS["x"] = PROTOCOLS["best-f1"]


@pytest.mark.parametrize("ratio", [0.5, 1.0, 2.0])
def test_at_compat_reproduces_the_at_solver(ratio):
    train, test, y = _data()
    thresh, p, r, f = at_solver_metrics(train, test, y, ratio)
    rec = evaluate(test, y, "at-compat", train_scores=train, anomaly_ratio=ratio)
    assert rec["threshold"] == thresh
    assert (rec["pa_loop_precision"], rec["pa_loop_recall"], rec["pa_loop_f1"]) == pytest.approx((p, r, f), abs=1e-12)
    assert rec["protocol"] == "at-compat" and rec["threshold_splits"] == "train+test"
    assert rec["uses_test_labels"] is False and rec["oracle"] is False
    assert rec["anomaly_ratio"] == ratio
    raw = precision_recall_fscore_support(y, test > thresh, average="binary", zero_division=0)[:3]
    assert (rec["precision"], rec["recall"], rec["f1"]) == pytest.approx(raw, abs=1e-12)


def test_ratio_sweep_matches_stformer_loop():
    train, test, y = _data(seed=1, n=300)
    best_f, best_r = -1.0, None
    for r in np.linspace(0, 3, 500):
        f = at_solver_metrics(train, test, y, r)[3]
        if f >= best_f:
            best_f, best_r = f, r
    rec = evaluate(test, y, "ratio-sweep", train_scores=train)
    assert rec["chosen_ratio"] == pytest.approx(best_r)
    assert rec["pa_loop_f1"] == pytest.approx(best_f, abs=1e-12)
    assert rec["oracle"] is True and rec["uses_test_labels"] is True


def test_best_f1_record_is_oracle_and_exact():
    train, test, y = _data(seed=2, n=400)
    rec = evaluate(test, y, "best-f1")
    brute = 0.0
    for t in np.unique(test):
        pred = at_adjustment(np.r_[0, y], np.r_[0, (test >= t).astype(int)])[1:]  # padding: segment definition
        brute = max(brute, precision_recall_fscore_support(y, pred, average="binary", zero_division=0)[2])
    assert rec["pa_f1"] == pytest.approx(brute, abs=1e-12)
    assert rec["oracle"] is True and rec["threshold_splits"] == "test"
    raw = precision_recall_fscore_support(y, test > rec["threshold"], average="binary", zero_division=0)[:3]
    assert (rec["precision"], rec["recall"], rec["f1"]) == pytest.approx(raw, abs=1e-12)


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_every_protocol_gives_a_flat_json_record_with_stable_keys(name):
    train, test, y = _data(seed=3)
    kwargs = dict(train_scores=train, val_scores=train[-500:], anomaly_ratio=1.5)
    a = evaluate(test, y, name, **kwargs)
    b = evaluate(test * 2 + 1, y, name, **kwargs)
    assert KEYS <= set(a) and set(a) == set(b)
    assert a["protocol"] == name and a["oracle"] == PROTOCOLS[name].uses_test_labels
    assert all(isinstance(v, (str, bool, int, float)) for v in a.values())
    assert all(np.isfinite(v) for v in a.values() if isinstance(v, float))
    json.loads(json.dumps(a, allow_nan=False))


def test_percentile_protocols_read_their_split():
    train, test, y = _data(seed=4)
    val = train[-300:]
    assert evaluate(test, y, "train-percentile", train_scores=train, anomaly_ratio=2)["threshold"] == np.percentile(train, 98)
    assert evaluate(test, y, "val-percentile", val_scores=val, anomaly_ratio=2)["threshold"] == np.percentile(val, 98)
    assert evaluate(test, y, "test-percentile", anomaly_ratio=2)["threshold"] == np.percentile(test, 98)


def test_pot_train_matches_the_gpd_maximum_likelihood():
    rng = np.random.default_rng(5)
    train = rng.pareto(4.0, 50_000)
    fit = pot_threshold(train, q=1e-3, level=0.98)
    init = np.sort(train)[int(0.98 * train.size)]
    assert fit.initial_threshold == init
    peaks = train[train > init] - init
    gamma, _, sigma = genpareto.fit(peaks, floc=0)
    assert fit.gamma == pytest.approx(gamma, abs=2e-3)
    assert fit.sigma == pytest.approx(sigma, rel=2e-3)
    expected = init + sigma / gamma * ((train.size * 1e-3 / peaks.size) ** (-gamma) - 1)
    assert fit.threshold == pytest.approx(expected, rel=1e-3)
    rec = evaluate(rng.pareto(4.0, 1000), np.r_[np.ones(10), np.zeros(990)], "pot-train", train_scores=train,
                   pot_q=1e-3, pot_level=0.98)
    assert rec["threshold"] == fit.threshold and rec["pot_level"] == 0.98 and rec["threshold_splits"] == "train"


def test_perfect_prediction_scores_one():
    y = np.zeros(1000, dtype=int)
    y[100:150] = y[700:720] = 1
    s = y.astype(float)
    for name in ("best-f1", "test-percentile"):
        rec = evaluate(s, y, name, anomaly_ratio=7.0)
        assert rec["f1"] == rec["pa_f1"] == rec["precision"] == rec["recall"] == 1.0
    assert threshold_free_metrics(s, y) == {"roc_auc": 1.0, "pr_auc": 1.0} | {
        k: v for k, v in threshold_free_metrics(s, y).items() if k not in ("roc_auc", "pr_auc")}


def test_refusals_name_the_problem():
    train, test, y = _data()
    with pytest.raises(EvaluationInputError, match="known protocols: at-compat, best-f1"):
        evaluate(test, y, "nope")
    with pytest.raises(EvaluationInputError, match="needs train scores; pass train_scores"):
        evaluate(test, y, "at-compat")
    with pytest.raises(EvaluationInputError, match="val scores"):
        evaluate(test, y, "val-percentile", train_scores=train)
    with pytest.raises(EvaluationInputError, match="never truncate|Nothing is truncated"):
        evaluate(test[:-1], y, "best-f1")
    with pytest.raises(EvaluationInputError, match="train_scores contains 1 NaN"):
        evaluate(test, y, "at-compat", train_scores=np.r_[train, np.nan])
    with pytest.raises(EvaluationInputError, match="percentage"):
        evaluate(test, y, "test-percentile", anomaly_ratio=150)
    with pytest.raises(EvaluationInputError, match="no anomaly"):
        evaluate(test, np.zeros_like(y), "test-percentile")


def test_a_protocol_sees_only_the_data_it_declares():
    from tsadbench.evaluation import ThresholdProtocol
    from tsadbench.evaluation.thresholds import ProtocolInputs, ThresholdChoice

    seen = []
    spy = ThresholdProtocol("spy", ("train",), False, "test double",
                            lambda inputs: seen.append(inputs) or ThresholdChoice(0.5, {}))
    train, test, y = _data()
    spy.threshold(ProtocolInputs(test, y.astype(bool), train, train[:10], 1.0, 1e-3, 0.99))
    assert seen[0].train_scores is train
    assert seen[0].test_scores is None and seen[0].labels is None and seen[0].val_scores is None
