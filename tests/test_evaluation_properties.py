"""Hypothesis property tests: the vectorised metrics against straightforward brute-force versions."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tsadbench.evaluation import (
    best_f1,
    f1_at_thresholds,
    pak_f1_curve,
    point_adjust,
    point_adjust_k,
    precision_recall_f1,
)

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


def runs(labels):
    out, start = [], None
    for i, v in enumerate(list(labels) + [0]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i))
            start = None
    return out


def brute_pa(pred, labels):
    out = list(pred)
    for a, b in runs(labels):
        if any(pred[a:b]):
            out[a:b] = [1] * (b - a)
    return np.array(out, dtype=bool)


def brute_at_loop(pred, labels):
    """The Anomaly-Transformer / OmniAnomaly loop: the backward fill stops at index 1."""
    out = list(pred)
    state = False
    for i in range(len(labels)):
        if labels[i] and out[i] and not state:
            state = True
            j = i
            while j > 0 and labels[j]:
                out[j] = True
                j -= 1
        elif not labels[i]:
            state = False
        if state:
            out[i] = True
    return np.array(out, dtype=bool)


def brute_pak(pred, labels, k):
    out = np.array(pred, dtype=bool)
    for a, b in runs(labels):
        if np.sum(pred[a:b]) > k / 100 * (b - a):
            out[a:b] = True
    return out


def brute_f1(pred, labels):
    tp = sum(1 for p, y in zip(pred, labels) if p and y)
    fp = sum(1 for p, y in zip(pred, labels) if p and not y)
    fn = sum(1 for p, y in zip(pred, labels) if not p and y)
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


labels_st = st.lists(st.integers(0, 1), min_size=1, max_size=60)


@st.composite
def scored(draw, min_pos=1):
    y = draw(labels_st)
    if sum(y) < min_pos:
        y[draw(st.integers(0, len(y) - 1))] = 1
    # few distinct values so that ties are frequent
    s = draw(st.lists(st.integers(0, 8), min_size=len(y), max_size=len(y)))
    return np.array(s, dtype=float) / 8, np.array(y)


@SETTINGS
@given(scored(), st.floats(0, 1))
def test_point_adjust_matches_brute_force(data, q):
    s, y = data
    pred = s > q
    assert np.array_equal(point_adjust(pred, y), brute_pa(pred, y))
    assert np.array_equal(point_adjust(pred, y, at_compat=True), brute_at_loop(pred, y))


@SETTINGS
@given(scored(), st.floats(0, 1), st.integers(0, 100))
def test_pak_matches_tadpak_rule(data, q, k):
    s, y = data
    pred = s > q
    assert np.array_equal(point_adjust_k(pred, y, k), brute_pak(pred, y, k))
    assert pak_f1_curve(pred, y, [k])[0] == brute_f1(brute_pak(pred, y, k), y)
    assert np.array_equal(point_adjust_k(pred, y, 0), point_adjust(pred, y))
    assert np.array_equal(point_adjust_k(pred, y, 100), pred)


@SETTINGS
@given(scored(), st.booleans())
def test_best_f1_is_the_maximum_over_every_threshold(data, adjust):
    s, y = data
    candidates = np.concatenate((np.unique(s), [s.min() - 1]))
    scores = [brute_f1(brute_pa(s > t, y) if adjust else s > t, y) for t in candidates]
    best = best_f1(s, y, adjust=adjust)
    assert abs(best.f1 - max(scores)) < 1e-12
    pred = s > best.threshold
    assert abs(precision_recall_f1(brute_pa(pred, y) if adjust else pred, y).f1 - best.f1) < 1e-12


@SETTINGS
@given(scored(), st.lists(st.floats(-0.5, 1.5), min_size=1, max_size=10), st.booleans())
def test_f1_at_thresholds_matches_brute_force(data, thresholds, at_compat):
    s, y = data
    f1 = f1_at_thresholds(s, y, thresholds, at_compat=at_compat)[2]
    for t, got in zip(thresholds, f1):
        pred = point_adjust(s > t, y, at_compat=at_compat)
        assert abs(got - brute_f1(pred, y)) < 1e-12


def brute_range_score(ref, other, alpha, bias, cardinality):
    def delta(i, length):
        return {"flat": 1, "front": length - i + 1, "back": i,
                "middle": i if i <= length / 2 else length - i + 1}[bias]

    ref_ranges = [(a, b - 1) for a, b in runs(ref)]
    other_ranges = [(a, b - 1) for a, b in runs(other)]
    if not ref_ranges:
        return 0.0
    total = 0.0
    for a, b in ref_ranges:
        length = b - a + 1
        overlapping = [(c, d) for c, d in other_ranges if c <= b and d >= a]
        existence = 1.0 if overlapping else 0.0
        omega = 0.0
        for c, d in overlapping:
            omega += sum(delta(t - a + 1, length) for t in range(max(a, c), min(b, d) + 1))
        omega /= sum(delta(i, length) for i in range(1, length + 1))
        gamma = 1.0 if len(overlapping) <= 1 or cardinality == "one" else 1.0 / len(overlapping)
        total += alpha * existence + (1 - alpha) * gamma * omega
    return total / len(ref_ranges)


@SETTINGS
@given(scored(), st.floats(0, 1), st.sampled_from([0.0, 0.2, 0.5, 1.0]),
       st.sampled_from(["flat", "front", "back", "middle"]), st.sampled_from(["one", "reciprocal"]))
def test_range_precision_recall_match_brute_force(data, q, alpha, bias, cardinality):
    from tsadbench.evaluation import range_prf

    s, y = data
    pred = (s > q).astype(int)
    res = range_prf(pred, y, alpha=alpha, bias=bias, cardinality=cardinality)
    assert abs(res.recall - brute_range_score(y, pred, alpha, bias, cardinality)) < 1e-12
    assert abs(res.precision - brute_range_score(pred, y, 0.0, bias, cardinality)) < 1e-12


@SETTINGS
@given(scored(), st.floats(0, 1))
def test_event_f1_variants_match_brute_force(data, q):
    from tsadbench.evaluation import event_f1_composite, event_f1_overlap, event_f1_revised_pa

    s, y = data
    pred = (s > q).astype(int)
    gt_events, pred_events = runs(y), runs(pred)
    detected = sum(any(pred[a:b]) for a, b in gt_events)
    recall = detected / len(gt_events)
    n_pred = int(pred.sum())
    point_precision = int((pred & y).sum()) / n_pred if n_pred else 0.0
    composite = event_f1_composite(pred, y)
    assert abs(composite.recall - recall) < 1e-12 and abs(composite.precision - point_precision) < 1e-12
    fp_events = sum(not any(y[a:b]) for a, b in pred_events)
    overlap = event_f1_overlap(pred, y)
    assert abs(overlap.precision - (detected / (detected + fp_events) if detected + fp_events else 0.0)) < 1e-12
    assert abs(overlap.recall - recall) < 1e-12
    fp_points = int((pred & (1 - y)).sum())
    revised = event_f1_revised_pa(pred, y)
    assert abs(revised.precision - (detected / (detected + fp_points) if detected + fp_points else 0.0)) < 1e-12


def numeric_affiliation(pred, y, per_unit=400):
    """Affiliation probabilities by midpoint sampling of the integrals (independent of the closed forms)."""
    n = len(y)
    gt = [(a, b) for a, b in runs(y)]
    pr = [(a, b) for a, b in runs(pred)]
    cuts = [(gt[k][1] + gt[k + 1][0]) / 2 for k in range(len(gt) - 1)]
    lows, highs = [0.0] + cuts, cuts + [float(n)]
    xs = (np.arange(n * per_unit) + 0.5) / per_unit
    in_pred = np.zeros(xs.size, dtype=bool)
    for a, b in pr:
        in_pred |= (xs >= a) & (xs < b)
    precisions, recalls = [], []
    for (j0, j1), e0, e1 in zip(gt, lows, highs):
        zone = (xs >= e0) & (xs < e1)
        zx = xs[zone]
        dist_to_j = np.maximum(j0 - zx, 0) + np.maximum(zx - j1, 0)
        px = zone & in_pred
        if px.any():
            d = np.maximum(j0 - xs[px], 0) + np.maximum(xs[px] - j1, 0)
            sorted_d = np.sort(dist_to_j)
            survival = 1 - np.searchsorted(sorted_d, d, side="left") / sorted_d.size
            precisions.append(survival.mean())
        jy = xs[(xs >= j0) & (xs < j1)]
        pz = xs[px]
        if pz.size == 0:
            recalls.append(0.0)
            continue
        nearest = np.abs(jy[:, None] - pz[None, :]).min(axis=1)
        nearest[np.isin(np.floor(jy), np.floor(pz))] = 0.0
        surv = [(np.abs(zx - v) >= dv).mean() for v, dv in zip(jy, nearest)]
        recalls.append(float(np.mean(surv)))
    return (float(np.mean(precisions)) if precisions else 0.0), float(np.mean(recalls))


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 1), min_size=4, max_size=14), st.lists(st.integers(0, 1), min_size=4, max_size=14))
def test_affiliation_matches_numeric_integration(y, pred):
    from tsadbench.evaluation import affiliation

    n = min(len(y), len(pred))
    y, pred = np.array(y[:n]), np.array(pred[:n])
    y[n // 2] = 1
    res = affiliation(pred, y)
    precision, recall = numeric_affiliation(pred, y, per_unit=200)
    assert abs(res.precision - precision) < 5e-3
    assert abs(res.recall - recall) < 5e-3
