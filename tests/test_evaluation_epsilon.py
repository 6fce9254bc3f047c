"""The telemanom epsilon threshold and the MSL/SMAP entity score post-processing, against literal
loop transcriptions of the MTAD-GAT/SLMR procedures and hand-computed cases."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsadbench.evaluation import (PROTOCOLS, EvaluationInputError, entity_minmax, epsilon_threshold, evaluate,
                                  postprocess_scores)


def find_epsilon_loop(errors, reg_level):
    """Step-by-step transcription of telemanom's pruning criterion (sets of buffered indices)."""
    mean, sd = np.mean(errors), np.std(errors)
    best, best_score = None, -10000000
    for z in np.arange(2.5, 12, 0.5):
        epsilon = mean + sd * z
        pruned = errors[errors < epsilon]
        flagged = set()
        for i in np.flatnonzero(errors >= epsilon):
            for j in range(i - 49, i + 50):
                if 0 <= j < len(errors):
                    flagged.add(j)
        if flagged:
            denom = {0: 1, 1: len(flagged), 2: len(flagged) ** 2}[reg_level]
            score = ((mean - np.mean(pruned)) / mean + (sd - np.std(pruned)) / sd) / denom
            if score >= best_score and len(flagged) < len(errors) * 0.5:
                best_score, best = score, epsilon
    return np.max(errors) if best is None else best


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.01, 100.0), min_size=5, max_size=400), st.sampled_from([0, 1, 2]))
def test_epsilon_matches_the_loop_transcription(values, reg_level):
    errors = np.array(values)
    if np.std(errors) == 0:
        return
    assert epsilon_threshold(errors, reg_level).threshold == pytest.approx(find_epsilon_loop(errors, reg_level))


def test_epsilon_on_a_spiky_series_picks_the_gap_above_normal_scores():
    rng = np.random.default_rng(0)
    errors = rng.uniform(0.9, 1.1, 5000)
    errors[[700, 2500, 4100]] = 50.0
    fit = epsilon_threshold(errors, reg_level=0)
    assert 1.1 < fit.threshold < 50.0
    assert fit.flagged_with_buffer == 3 * 99
    assert fit.threshold == pytest.approx(errors.mean() + fit.z * errors.std())


def test_epsilon_without_a_qualifying_candidate_is_the_largest_score():
    errors = np.r_[np.zeros(99), 1.0]  # the spike's buffered flags cover 50 of 100 points: not < 50 %
    fit = epsilon_threshold(errors, reg_level=1)
    assert fit.threshold == 1.0 and fit.threshold == pytest.approx(errors.mean() + fit.z * errors.std())
    assert epsilon_threshold(np.ones(10)).threshold == 1.0


def test_epsilon_protocol_is_label_free_on_train_scores():
    protocol = PROTOCOLS["epsilon-train"]
    assert protocol.splits == ("train",) and not protocol.oracle
    rng = np.random.default_rng(1)
    train = rng.uniform(0, 1, 3000)
    train[1500] = 9.0
    test = rng.uniform(0, 1, 1000)
    test[400:410] = 5.0
    labels = np.zeros(1000, dtype=int)
    labels[395:420] = 1
    record = evaluate(test, labels, "epsilon-train", train_scores=train, epsilon_reg_level=0)
    assert record["threshold"] == epsilon_threshold(train, 0).threshold
    assert record["epsilon_reg_level"] == 0 and record["pa_f1"] == pytest.approx(1.0)
    with pytest.raises(EvaluationInputError, match="epsilon_reg_level"):
        evaluate(test, labels, "epsilon-train", train_scores=train, epsilon_reg_level=3)


def test_entity_minmax_by_hand():
    scores = np.arange(1.0, 61.0)
    out = entity_minmax(scores, [20, 40], margin=2)
    assert np.all(out[18:23] == 0.0)  # seam at index 20, 2 points either side
    np.testing.assert_allclose(out[:18], scores[:18] / 18)  # entity 1: zeros at its end, max 18
    np.testing.assert_allclose(out[23:], scores[23:] / 60)  # entity 2: zeros at its start, max 60


def test_entity_minmax_with_the_release_margin_and_a_constant_entity():
    scores = np.r_[np.linspace(1, 5, 100), np.full(100, 3.0)]
    out = entity_minmax(scores, [100, 100])
    assert np.all(out[81:120] == 0.0) and np.all(out[120:] == 1.0)
    np.testing.assert_allclose(out[:81], scores[:81] / scores[80])
    np.testing.assert_array_equal(entity_minmax(np.full(50, 3.0), [50]), np.zeros(50))


def test_postprocessing_refuses_lengths_that_do_not_add_up_and_unknown_names():
    with pytest.raises(EvaluationInputError, match="do not add up to the 10 scores"):
        entity_minmax(np.ones(10), [4, 5])
    with pytest.raises(EvaluationInputError, match="unknown score post-processing 'zscore'"):
        postprocess_scores("zscore", np.ones(3), [3])
    np.testing.assert_array_equal(postprocess_scores("none", np.arange(3.0), [3]), np.arange(3.0))
