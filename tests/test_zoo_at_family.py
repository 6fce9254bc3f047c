"""The AT-family machinery (zoo/at_family.py), Anomaly Transformer, and behaviour tests of all three
AT-family models (Anomaly Transformer, TransMamba, STformer) on a small synthetic series."""
import dataclasses

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from tsadbench.search_spaces import load_search_space
from tsadbench.zoo import get_model
from tsadbench.zoo.anomaly_transformer import AnomalyTransformer
from tsadbench.zoo.at_family import (AnomalyAttention, association_scores, halved_learning_rate, normalise_rows,
                                     row_kl, stop_gradient_discrepancies)
from tsadbench.zoo.base import ModelConfigError

# Tiny configurations. Anomaly Transformer and STformer use temperature 1: at the repositories'
# 50 the per-window softmax is near one-hot on the position of smallest discrepancy, which for a
# model this small and this briefly trained is not where the anomalies are (AUC about 0.5).
TINY = {
    "anomaly_transformer": dict(win_size=30, d_model=16, n_heads=2, e_layers=1, d_ff=16, batch_size=32,
                                lr=3e-3, temperature=1.0),
    "stformer": dict(win_size=24, d_model=16, d_ff=16, n_heads=2, e_layers=1, batch_size=32, lr=3e-3,
                     temperature=1.0),
    "transmamba": dict(win_size=60, d_model=16, batch_size=32, lr=3e-3, frequency_lr_scale=1.0,
                       patch_sizes=[[3, 5], [6, 10]]),
}
MODELS = sorted(TINY)


def synthetic_series(seed: int = 0, n_train: int = 1200, n_test: int = 900):
    """Three noisy sines; the test part has six spikes and a 12-point level shift (labels 1)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_train + n_test)[:, None]
    series = np.sin(2 * np.pi * t / np.array([25.0, 40.0, 60.0]) + np.arange(3))
    series = series + 0.1 * rng.standard_normal((t.size, 3))
    train, test = series[:n_train], series[n_train:].copy()
    labels = np.zeros(n_test, dtype=int)
    for start in (95, 233, 371, 502, 648, 817):
        test[start, start % 3] += 4.0
        labels[start] = 1
    test[705:717, 1] += 2.5
    labels[705:717] = 1
    return train.astype(np.float32), test.astype(np.float32), labels


def build(name: str, seed: int = 0, **overrides):
    cls = get_model(name)
    return cls(3, cls.Config.from_dict({**TINY[name], **overrides}), seed=seed)


def random_maps(*shape, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(*shape, generator=generator), dim=-1)


# --- shared machinery -------------------------------------------------------------------------

def test_row_kl_is_the_repositories_kl_averaged_over_heads():
    p, q = random_maps(2, 3, 4, 4, seed=1), random_maps(2, 3, 4, 4, seed=2)
    p_np, q_np = p.numpy().astype(np.float64), q.numpy().astype(np.float64)
    expected = np.zeros((2, 4))
    for b in range(2):
        for row in range(4):
            per_head = [sum(p_np[b, h, row, j] * (np.log(p_np[b, h, row, j] + 1e-4) - np.log(q_np[b, h, row, j] + 1e-4))
                            for j in range(4)) for h in range(3)]
            expected[b, row] = np.mean(per_head)
    np.testing.assert_allclose(row_kl(p, q).numpy(), expected, rtol=1e-5)


def test_minimax_terms_send_gradients_only_to_their_own_side():
    a_logits = torch.randn(2, 1, 5, 5, requires_grad=True)
    b_logits = torch.randn(2, 1, 5, 5, requires_grad=True)
    a_term, b_term = stop_gradient_discrepancies([torch.softmax(a_logits, -1)], [torch.softmax(b_logits, -1)])
    assert a_term.shape == b_term.shape == (2,)
    torch.testing.assert_close(a_term, b_term)  # same value, different stop-gradients
    grad_a, grad_b = torch.autograd.grad(a_term.sum(), [a_logits, b_logits], allow_unused=True)
    assert grad_b is None and grad_a.abs().sum() > 0
    grad_a, grad_b = torch.autograd.grad(b_term.sum(), [a_logits, b_logits], allow_unused=True)
    assert grad_a is None and grad_b.abs().sum() > 0


def test_row_normalisation_keeps_an_all_zero_row_at_zero_with_finite_gradients():
    maps = torch.tensor([[1.0, 3.0], [0.0, 0.0]], requires_grad=True)
    normalised = normalise_rows(maps)
    torch.testing.assert_close(normalised, torch.tensor([[0.25, 0.75], [0.0, 0.0]]))
    (gradient,) = torch.autograd.grad((normalised * torch.tensor([[1.0, 2.0], [3.0, 4.0]])).sum(), [maps])
    assert torch.isfinite(gradient).all()


def test_association_scores_are_a_softmax_over_window_positions_sharpened_by_the_temperature():
    a = [random_maps(3, 2, 6, 6, seed=s) for s in (1, 2)]
    b = [random_maps(3, 2, 6, 6, seed=s) for s in (3, 4)]
    discrepancy = sum(row_kl(x, y) + row_kl(y, x) for x, y in zip(a, b))
    scores = association_scores(a, b, temperature=50.0)
    torch.testing.assert_close(scores.sum(dim=-1), torch.ones(3))
    assert torch.equal(scores.argmax(dim=-1), discrepancy.argmin(dim=-1))
    assert (association_scores(a, b, 5.0).max(dim=-1).values < scores.max(dim=-1).values).all()
    torch.testing.assert_close(association_scores(a, b, 1e-9), torch.full((3, 6), 1 / 6))
    torch.testing.assert_close(association_scores(a, b, 2.0, "mean"), association_scores(a, b, 1.0, "sum"))


def test_anomaly_attention_prior_is_a_row_normalised_gaussian_of_the_distance():
    attention = AnomalyAttention(d_model=8, n_heads=2, win_size=7, dropout=0.0)
    with torch.no_grad():
        attention.sigma_projection.weight.zero_()
        attention.sigma_projection.bias.fill_(0.2)
    series, prior = attention.associations(torch.randn(2, 7, 8))
    sigma = 3 ** (torch.sigmoid(torch.tensor(1.0)) + 1e-5) - 1
    distance = (torch.arange(7)[:, None] - torch.arange(7)[None, :]).float()
    gaussian = torch.exp(-distance ** 2 / (2 * sigma ** 2))
    torch.testing.assert_close(prior[0, 1], gaussian / gaussian.sum(-1, keepdim=True))
    torch.testing.assert_close(series.sum(-1), torch.ones(2, 2, 7))


def test_learning_rate_is_halved_after_every_epoch_from_the_second():
    assert [halved_learning_rate(1.0, e) for e in (1, 2, 3, 4)] == [1.0, 0.5, 0.25, 0.125]
    model = build("anomaly_transformer", lr=1e-3)
    train, _, _ = synthetic_series()
    rates = []
    for _ in range(3):
        model.train_epoch(train, max_windows=8)
        rates.append(model.optimizer.param_groups[0]["lr"])
    assert rates == [1e-3, 5e-4, 2.5e-4]


# --- behaviour of the three models ------------------------------------------------------------

@pytest.mark.parametrize("name", MODELS)
def test_trains_and_beats_a_random_score_on_synthetic_anomalies(name):
    train, test, labels = synthetic_series()
    model = build(name)
    reconstruction = [model.train_epoch(train, max_windows=600)["reconstruction"] for _ in range(3)]
    assert reconstruction[-1] < 0.5 * reconstruction[0]
    scores = model.score(test)
    assert scores.shape == (test.shape[0],) and np.all(np.isfinite(scores))
    assert roc_auc_score(labels, scores) > 0.7


@pytest.mark.parametrize("name", MODELS)
def test_state_dict_round_trip_restores_scores_and_training(name):
    train, test, _ = synthetic_series()
    model = build(name)
    model.train_epoch(train, max_windows=64)
    state = model.state_dict()
    expected_scores = model.score(test)
    expected_stats = model.train_epoch(train, max_windows=64)  # draws from the global torch RNG
    other = build(name, seed=7)
    other.load_state_dict(state)  # restores that RNG too
    np.testing.assert_array_equal(other.score(test), expected_scores)
    assert other.train_epoch(train, max_windows=64) == expected_stats
    assert [g["lr"] for g in other.optimizer.param_groups] == [g["lr"] for g in model.optimizer.param_groups]


@pytest.mark.parametrize("name", MODELS)
def test_scoring_and_validation_are_deterministic_in_eval_mode(name):
    train, test, _ = synthetic_series()
    model = build(name)
    model.train_epoch(train, max_windows=64)
    np.testing.assert_array_equal(model.score(test), model.score(test))
    assert model.validation_loss(test) == model.validation_loss(test)


@pytest.mark.parametrize("name", MODELS)
def test_config_errors_name_the_key(name):
    cls = get_model(name)
    assert cls.name == name and isinstance(cls.display_name, str)
    with pytest.raises(ModelConfigError, match="bogus"):
        cls.Config.from_dict({"bogus": 1})
    with pytest.raises(ModelConfigError, match="temperature"):
        cls.Config.from_dict({**TINY[name], "temperature": 0.0})
    with pytest.raises(ModelConfigError, match="n_heads"):
        cls.Config.from_dict({**TINY[name], "d_model": 15, "n_heads": 2})
    assert cls.Config().temperature == 50.0 and cls.recipe.patience in (3, 5)


@pytest.mark.parametrize("name", MODELS)
def test_search_space_first_points_are_the_repository_settings_and_valid_configs(name):
    cls = get_model(name)
    run_level = {"epochs", "anomaly_ratio"}
    space = load_search_space(name, allowed_keys={f.name for f in dataclasses.fields(cls.Config)} | run_level)
    assert "temperature" in space.params and space.first_points["*"]["temperature"] == 50.0
    for dataset, point in space.first_points.items():
        config = cls.Config.from_dict({k: v for k, v in {**space.fixed, **point}.items() if k not in run_level})
        if dataset in cls.recipe.epochs:
            assert point["epochs"] == cls.recipe.epochs[dataset]
            assert config.batch_size == cls.recipe.batch_size[dataset]
            assert config.train_stride == cls.recipe.train_stride.get(dataset, 1)


# --- Anomaly Transformer ----------------------------------------------------------------------

def test_anomaly_transformer_minimax_stop_gradients():
    model = build("anomaly_transformer")
    batch = torch.randn(4, 30, 3)
    terms = model._terms(batch)
    attention = model.network.layers[0].attention
    sigma = list(attention.sigma_projection.parameters())
    query_key = [*attention.query_projection.parameters(), *attention.key_projection.parameters()]

    def reaches(term, parameters):
        grads = torch.autograd.grad(term.mean(), parameters, retain_graph=True, allow_unused=True)
        return [g is not None and bool(g.abs().sum() > 0) for g in grads]

    assert not any(reaches(terms["series"], sigma))  # the prior is held fixed in the series term
    assert all(reaches(terms["series"], query_key))
    assert not any(reaches(terms["prior"], query_key))  # the series is held fixed in the prior term
    assert all(reaches(terms["prior"], sigma))
    assert not any(reaches(terms["reconstruction"], sigma))


def test_one_backward_of_the_objective_equals_the_repositorys_two():
    model = build("anomaly_transformer")
    batch = torch.randn(4, 30, 3)
    parameters = list(model.network.parameters())
    objective, _ = model._objective(batch)
    combined = torch.autograd.grad(objective, parameters, allow_unused=True)
    terms = {key: value.mean() for key, value in model._terms(batch).items()}
    loss1 = terms["reconstruction"] - 3 * terms["series"]
    loss2 = terms["reconstruction"] + 3 * terms["prior"]
    model.network.zero_grad()
    loss1.backward(retain_graph=True)
    loss2.backward()
    for parameter, gradient in zip(parameters, combined):
        if gradient is None:
            assert parameter.grad is None
        else:
            torch.testing.assert_close(parameter.grad, gradient)


def test_anomaly_transformer_parameter_counts():
    model = build("anomaly_transformer", e_layers=2)
    counts = model.parameter_counts()
    assert counts["all"] - counts["used"] == 2 * 2 * 16  # the never-applied LayerNorm of each layer
    lean = build("anomaly_transformer", e_layers=2, build_unused_parameters=False).parameter_counts()
    assert lean == {"all": counts["used"], "used": counts["used"]}
    default = AnomalyTransformer(25, AnomalyTransformer.Config())
    assert sum(p.numel() for p in default.network.parameters()) == 4_801_585


def test_anomaly_transformer_paper_scoring_flag():
    model = build("anomaly_transformer", paper_scoring=True, e_layers=2)
    model.network.eval()
    batch = torch.randn(3, 30, 3)
    with torch.no_grad():
        reconstruction, series, prior = model.network(batch)
        expected = association_scores(series, prior, 1.0, "mean") * (batch - reconstruction).pow(2).sum(-1)
        torch.testing.assert_close(model._window_point_scores(batch), expected)
        model.config = dataclasses.replace(model.config, paper_scoring=False)
        expected = association_scores(series, prior, 1.0, "sum") * (batch - reconstruction).pow(2).mean(-1)
        torch.testing.assert_close(model._window_point_scores(batch), expected)


@pytest.mark.parametrize("model", ["anomaly_transformer", "stformer"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_validation_loss_is_the_repositorys_loss1_bit_for_bit(model, dtype):
    """`_window_losses` takes the series term from the symmetric KLs (half the logarithms of the
    training terms); its floats must be loss1 of the stop-gradient terms the training uses."""
    from tsadbench.zoo.cli import check_values

    cls = get_model(model)
    detector = cls(3, cls.Config.from_dict(check_values(model)[0]), seed=0)
    detector.set_dtype(dtype)
    detector.network.eval()  # as validation runs: dropout off, so both passes see the same network
    batch = torch.randn(6, detector.config.win_size, 3, generator=torch.Generator().manual_seed(1), dtype=dtype)
    with torch.no_grad():
        terms = detector._terms(batch)
        loss1 = terms["reconstruction"] - detector.config.k * terms["series"]
        assert torch.equal(detector._window_losses(batch), loss1)
