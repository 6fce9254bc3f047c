"""VUS / range-AUC against a plain-loop version of the TSB-AD definition, and the period window."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsadbench.evaluation import EvaluationInputError, period_window, range_auc, range_auc_by_window, threshold_free_metrics


def brute_range_auc(s, y, window, n_thresholds):
    n = len(s)
    segs = []
    for i in range(n):
        if y[i] and (i == 0 or not y[i - 1]):
            segs.append([i, i])
        if y[i]:
            segs[-1][1] = i
    half = window // 2
    soft = [float(v) for v in y]
    for a, e in segs:
        for d in range(1, half + 1):
            if e + d < n:
                soft[e + d] += math.sqrt(1 - d / window)
            if a - d >= 0:
                soft[a - d] += math.sqrt(1 - d / window)
    soft = [min(v, 1.0) for v in soft]
    regions = [[max(segs[0][0] - half, 0), segs[0][1] + half]]
    for (a, e) in segs[1:]:
        if regions[-1][1] < a - half:
            regions.append([a - half, e + half])
        else:
            regions[-1][1] = e + half
    regions[-1][1] = min(regions[-1][1], n - 1)
    ranked = sorted(s, reverse=True)
    tpr, fpr, prec = [0.0], [0.0], [1.0]
    for i in np.linspace(0, n - 1, n_thresholds).astype(int):
        pred = [v >= ranked[i] for v in s]
        tp = sum(soft[t] for t in range(n) if pred[t])
        n_labels = sum(1.0 if y[t] else soft[t] * pred[t] for t in range(n))
        exist = sum(any(pred[a : e + 1]) for a, e in regions) / len(regions)
        p_new = (sum(y) + n_labels) / 2
        tpr.append(min(tp / p_new, 1) * exist)
        fpr.append((sum(pred) - tp) / (n - p_new))
        prec.append(tp / sum(pred))
    tpr.append(1.0)
    fpr.append(1.0)
    roc = sum((fpr[k + 1] - fpr[k]) * (tpr[k + 1] + tpr[k]) / 2 for k in range(len(tpr) - 1))
    pr = sum((tpr[k] - tpr[k - 1]) * prec[k] for k in range(1, len(prec)))
    return roc, pr


@st.composite
def series(draw):
    y = draw(st.lists(st.integers(0, 1), min_size=3, max_size=60))
    one = draw(st.integers(0, len(y) - 1))
    y[one] = 1
    y[(one + draw(st.integers(1, len(y) - 1))) % len(y)] = 0
    s = draw(st.lists(st.integers(0, 6), min_size=len(y), max_size=len(y)))
    return np.array(s, dtype=float) / 6, np.array(y)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(series(), st.integers(0, 9), st.sampled_from([1, 5, 250]))
def test_range_auc_matches_plain_loops(data, window, n_thresholds):
    s, y = data
    curves = range_auc_by_window(s, y, window, n_thresholds)
    assert curves.roc[-1] == pytest.approx(brute_range_auc(s, y, window, n_thresholds)[0], abs=1e-9)
    assert curves.pr[-1] == pytest.approx(brute_range_auc(s, y, window, n_thresholds)[1], abs=1e-9)
    assert range_auc(s, y, window, n_thresholds) == pytest.approx((curves.roc[-1], curves.pr[-1]), abs=1e-12)


def test_threshold_free_keys_and_window_option():
    rng = np.random.default_rng(0)
    y = (rng.random(5000) < 0.02).astype(int)
    s = rng.random(5000)
    full = threshold_free_metrics(s, y)
    assert set(full) == {"roc_auc", "pr_auc", "vus_roc", "vus_pr", "r_auc_roc", "r_auc_pr", "vus_window"}
    assert full["vus_window"] == 100
    assert set(threshold_free_metrics(s, y, window=None)) == {"roc_auc", "pr_auc"}
    with pytest.raises(EvaluationInputError, match="non-negative integer"):
        threshold_free_metrics(s, y, window=-3)


def test_period_window():
    t = np.arange(30_000)
    assert period_window(np.sin(2 * np.pi * t / 48) + 0.1 * np.random.default_rng(0).standard_normal(t.size)) == 48
    assert period_window(np.stack([np.sin(2 * np.pi * t / 24), np.zeros(t.size)], axis=1)) == 24
    assert period_window(np.ones(1000)) == 125
    assert period_window(np.sin(2 * np.pi * t / 1000)) == 125  # period beyond 300 lags
