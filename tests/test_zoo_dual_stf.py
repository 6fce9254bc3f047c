"""Dual-STF: learns, beats random, scores deterministically, builds nothing in forward, τ and α are real."""
import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from sklearn.metrics import roc_auc_score

from tests.zoo_series import sines_with_anomalies
from tsadbench.zoo import get_model
from tsadbench.zoo.base import ModelConfigError
from tsadbench.zoo.dual_stf import DualSTF, DualSTFConfig, sinusoid_prototypes

TINY = dict(win_size=20, d_model=16, patch_sizes=[5, 10], kernel_sizes=[3], batch_size=32)
SPACE = Path(__file__).parents[1] / "search_spaces" / "dual_stf.yaml"


def synthetic(seed: int = 0, **sizes):
    """Spikes and a level shift shorter than a window (scores are z-standardised within each
    window, so a shift filling whole windows is invisible)."""
    return sines_with_anomalies(seed, shift=(405, 413), **sizes)


def tiny(seed: int = 0, **changes) -> DualSTF:
    return DualSTF(3, DualSTFConfig.from_dict({**TINY, **changes}), seed=seed)


def test_trains_loss_falls_and_beats_random_with_the_default_score():
    train, test, labels = synthetic()
    model, untrained = tiny(), tiny()
    held_out = train[-200:]
    before = model.validation_loss(held_out)
    for _ in range(4):
        model.train_epoch(train[:-200])
    assert model.validation_loss(held_out) < 0.5 * before
    scores = model.score(test)
    assert model.config.score_method == "learnable_norm_weight"
    auc = roc_auc_score(labels, scores)
    assert auc > 0.8
    # Kim et al.'s untrained copy, same scoring: deterministic, higher objective, lower ROC-AUC.
    untrained_scores = untrained.score(test)
    np.testing.assert_array_equal(untrained_scores, untrained.score(test))
    assert untrained.validation_loss(held_out) > model.validation_loss(held_out)
    assert roc_auc_score(labels, untrained_scores) < auc


def test_same_seed_same_training_same_scores():
    train, test, _ = synthetic(n_train=300, n_test=100)
    runs = []
    for _ in range(2):
        model = tiny(seed=3)
        model.train_epoch(train, max_windows=64)
        runs.append(model.score(test))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_scoring_is_deterministic_and_forward_builds_no_layer():
    model = tiny()
    before = {name: id(p) for name, p in model.network.named_parameters()}
    n_modules = len(list(model.network.modules()))
    series = np.random.default_rng(0).standard_normal((95, 3)).astype(np.float32)
    first = model.score(series)
    model.network.train()
    model.network(torch.randn(4, 20, 3))
    np.testing.assert_array_equal(first, model.score(series))
    assert {name: id(p) for name, p in model.network.named_parameters()} == before
    assert len(list(model.network.modules())) == n_modules
    optimised = {id(p) for group in model.optimizer.param_groups for p in group["params"]}
    assert set(before.values()) == optimised


def test_temperature_changes_the_relational_deviation_and_small_tau_is_top1():
    model = tiny()
    x = torch.randn(2, 20, 3)
    model.network.eval()
    with torch.no_grad():
        _, temporal_semantics = model.network.temporal(x)
        queries, context = model.network.structural(x, temporal_semantics)
        results = {}
        for tau in (1e-4, 0.1, 10.0):
            model.network.temperature = tau
            results[tau] = model.network.relational_deviation(queries, context)
    assert not torch.allclose(results[0.1], results[10.0])
    prototypes = sinusoid_prototypes(10, 16)
    nearest = ((queries + context.mean(1, keepdim=True)) @ prototypes.T).argmax(-1)
    top1 = (queries - prototypes[nearest]).square().sum(-1)
    torch.testing.assert_close(results[1e-4], top1)


def test_learnable_norm_weight_is_learned():
    train, _, _ = synthetic(n_train=300, n_test=100)
    model = tiny()
    assert model.network.alpha_logit.item() == 0.0
    stats = model.train_epoch(train, max_windows=128)
    assert model.network.alpha_logit.item() != 0.0
    assert stats["alpha"] == pytest.approx(torch.sigmoid(model.network.alpha_logit).item(), abs=0.01)


def test_state_dict_round_trip_reproduces_scores_and_training():
    train, test, _ = synthetic(n_train=300, n_test=100)
    model = tiny()
    model.train_epoch(train, max_windows=64)
    state = model.state_dict()
    restored = tiny(seed=99)
    restored.load_state_dict(copy.deepcopy(state))  # a stored checkpoint: loading aliases optimizer tensors
    np.testing.assert_array_equal(restored.score(test), model.score(test))
    continued = restored.train_epoch(train, max_windows=32)
    model.load_state_dict(copy.deepcopy(state))
    assert model.train_epoch(train, max_windows=32) == continued


def test_every_score_method_is_finite_and_config_errors_name_the_key():
    model = tiny()
    series = np.random.default_rng(1).standard_normal((60, 3)).astype(np.float32)
    for method in ("product", "maximum", "weighted_sum", "norm_sum", "learnable_weight", "learnable_norm_weight"):
        model.config = dataclasses.replace(model.config, score_method=method)
        assert np.isfinite(model.score(series)).all()
    assert get_model("dual_stf") is DualSTF
    assert isinstance(DualSTFConfig.from_dict(TINY).patch_sizes, tuple)
    for bad, key in (({"score_method": "sum"}, "score_method"), ({"temperature": 0.0}, "temperature"),
                     ({"patch_sizes": [30]}, "patch_sizes"), ({"kernel_sizes": [4]}, "kernel_sizes")):
        with pytest.raises(ModelConfigError, match=key):
            DualSTFConfig.from_dict({**TINY, **bad})


def test_search_space_first_point_is_the_readme_command_and_smoke_builds():
    space = yaml.safe_load(SPACE.read_text())
    first = space["first_points"]["*"]
    assert (first["win_size"], first["d_model"], first["temperature"], first["anomaly_ratio"]) == (100, 128, 0.1, 0.2)
    run_keys = {"epochs", "anomaly_ratio"}
    config = DualSTFConfig.from_dict({**{k: v for k, v in first.items() if k not in run_keys}, **space["fixed"]})
    assert config == DualSTFConfig(dropout=first["dropout"])
    smoke = DualSTF(3, DualSTFConfig.from_dict({**space["fixed"], **space["smoke"]}))
    assert smoke.score(np.zeros((120, 3), dtype=np.float32)).shape == (120,)
