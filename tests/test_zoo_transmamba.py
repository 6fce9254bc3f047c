"""TransMamba (zoo/transmamba.py) and its Mamba block (zoo/selective_scan.py)."""
import numpy as np
import pytest
import torch
from mambapy.mamba import MambaBlock, MambaConfig

from tsadbench.zoo.base import ModelConfigError
from tsadbench.zoo.selective_scan import Mamba, build_mamba, selective_scan, selective_scan_reference
from tsadbench.zoo.transmamba import TransMamba, coarse_view, fine_view, nt_xent, revin_normalise

# The repository's scripts (scripts/TransMamba/*.sh) and the spec's counts (transmamba.md §6).
PUBLISHED = {
    "PSM": (25, 90, ((1, 3), (2, 6)), 111_282, 82_034),
    "MSL": (55, 90, ((2, 3, 5), (6, 9, 15)), 123_758, 79_022),
    "SMAP": (25, 240, ((3, 5), (6, 10)), 113_586, 84_338),
    "SMD": (38, 240, ((3, 5), (5, 15)), 119_436, 87_692),
    "SWaT": (51, 90, ((3, 5), (6, 10)), 102_246, 68_006),
}
# mamba_ssm.Mamba(d_model=64) with d_state 16, d_conv 4, expand 2, dt_rank 4.
MAMBA_SSM_SHAPES = {
    "A_log": (128, 16), "D": (128,), "in_proj.weight": (256, 64), "conv1d.weight": (128, 1, 4),
    "conv1d.bias": (128,), "x_proj.weight": (36, 128), "dt_proj.weight": (128, 4), "dt_proj.bias": (128,),
    "out_proj.weight": (64, 128),
}


def tiny(**overrides) -> TransMamba:
    config = {"win_size": 30, "d_model": 16, "batch_size": 16, "patch_sizes": [[1, 3], [2, 6]], **overrides}
    return TransMamba(3, TransMamba.Config.from_dict(config), seed=0)


def scan_inputs(seed=0, b=2, d=6, n=4, length=37):
    g = torch.Generator().manual_seed(seed)
    return dict(u=torch.randn(b, d, length, generator=g), delta=torch.randn(b, d, length, generator=g),
                A=-torch.rand(d, n, generator=g) * 2, B=torch.randn(b, n, length, generator=g),
                C=torch.randn(b, n, length, generator=g), D=torch.randn(d, generator=g),
                z=torch.randn(b, d, length, generator=g), delta_bias=torch.randn(d, generator=g),
                delta_softplus=True)


# --- the Mamba block --------------------------------------------------------------------------

@pytest.mark.parametrize("length", [1, 37, 64])
def test_selective_scan_equals_the_step_by_step_reference(length):
    inputs = scan_inputs(length=length)
    leaves = {k: v.requires_grad_() for k, v in inputs.items() if isinstance(v, torch.Tensor)}
    fast = selective_scan(**inputs)
    slow = selective_scan_reference(**inputs)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    weights = torch.randn_like(fast)
    fast_grads = torch.autograd.grad((fast * weights).sum(), list(leaves.values()))
    slow_grads = torch.autograd.grad((slow * weights).sum(), list(leaves.values()))
    for name, fast_grad, slow_grad in zip(leaves, fast_grads, slow_grads):
        torch.testing.assert_close(fast_grad, slow_grad, atol=1e-4, rtol=1e-4, msg=name)


def test_mamba_block_has_mamba_ssm_parameter_names_and_shapes():
    block = build_mamba(64, "auto", torch.device("cpu"))
    assert isinstance(block, Mamba)
    assert {k: tuple(v.shape) for k, v in block.state_dict().items()} == MAMBA_SSM_SHAPES
    assert sum(p.numel() for p in block.parameters()) == 32_640
    torch.testing.assert_close(-torch.exp(block.A_log[0]), -torch.arange(1.0, 17.0))
    step = torch.nn.functional.softplus(block.dt_proj.bias)
    assert step.min() >= 1e-4 and step.max() <= 0.1 + 1e-6


def test_mamba_state_dict_loads_into_an_independent_implementation_with_equal_outputs():
    torch.manual_seed(0)
    ours = Mamba(16)
    theirs = MambaBlock(MambaConfig(d_model=16, n_layers=1, d_state=16, expand_factor=2, d_conv=4, pscan=False))
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(3, 21, 16)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)


def test_mamba_is_causal():
    block = Mamba(16)
    x = torch.randn(2, 20, 16)
    changed = x.clone()
    changed[:, 12:] += torch.randn(2, 8, 16)
    torch.testing.assert_close(block(changed)[:, :12], block(x)[:, :12])
    assert not torch.allclose(block(changed)[:, 12:], block(x)[:, 12:])


def test_asking_for_mamba_ssm_where_it_cannot_run_is_a_config_error():
    with pytest.raises(ModelConfigError, match="mamba_backend"):
        tiny(mamba_backend="mamba_ssm")


# --- parameter counts -------------------------------------------------------------------------

@pytest.mark.parametrize("dataset", sorted(PUBLISHED))
def test_parameter_counts_match_the_published_style_and_the_used_count(dataset):
    channels, win_size, patch_sizes, total, used = PUBLISHED[dataset]
    model = TransMamba(channels, TransMamba.Config(win_size=win_size, patch_sizes=patch_sizes))
    assert model.parameter_counts() == {"all": total, "used": used}


def test_psm_published_count_is_111282_and_the_unused_tensors_can_be_left_out():
    psm = TransMamba(25, TransMamba.Config())
    assert sum(p.numel() for p in psm.network.parameters()) == 111_282
    lean = TransMamba(25, TransMamba.Config(build_unused_parameters=False))
    assert lean.parameter_counts() == {"all": 82_034, "used": 82_034}


# --- LVPM, GPRM and the losses ----------------------------------------------------------------

def test_patch_maps_are_tiled_channel_means_and_only_low_maps_are_normalised():
    model = tiny(dropout=0.0)
    model.network.eval()
    x = torch.randn(2, 30, 3)
    with torch.no_grad():
        out = model.network(x, contrastive=False)
        torch.testing.assert_close(out.high[0], torch.ones(2, 1, 30, 30))  # p = 1: one token, map 1
        high3 = out.high[1]
        torch.testing.assert_close(high3.sum(-1), torch.full((2, 1, 30), 10.0))  # rows sum to W / p
        i = torch.arange(30)
        torch.testing.assert_close(high3[..., i[:, None], i[None, :]], high3[..., (i % 3)[:, None], (i % 3)[None, :]])
        torch.testing.assert_close(out.low[1].sum(-1), torch.ones(2, 1, 30))
        block = tiny(dropout=0.0, upsampling="block", normalise_high=True)
        block.network.load_state_dict(model.network.state_dict())
        block.network.eval()
        blocked = block.network(x, contrastive=False).high[1]
        torch.testing.assert_close(blocked * 10, high3[..., (i // 10)[:, None], (i // 10)[None, :]])


def test_time_and_frequency_losses_reach_disjoint_parameter_sets():
    model = tiny()
    terms = model._terms(torch.randn(12, 30, 3))
    frequency = {id(p) for p in model.network.frequency_parameters()}
    parameters = list(model.network.parameters())

    def reached(term):
        grads = torch.autograd.grad(term.mean(), parameters, retain_graph=True, allow_unused=True)
        return {id(p) for p, g in zip(parameters, grads) if g is not None}

    time_reached = reached(terms["low"] - terms["high"])
    frequency_reached = reached(terms["reconstruction"] + terms["spectrum"] + terms["contrastive"])
    assert time_reached and frequency_reached == frequency and not time_reached & frequency
    groups = model.optimizer.param_groups
    assert [g["lr"] for g in groups] == [1e-4, 5e-5] and {id(p) for p in groups[1]["params"]} == frequency


def test_reconstruction_follows_the_windows_scale_and_offset_through_revin():
    model = tiny()
    model.network.eval()
    x = torch.randn(2, 30, 3)
    with torch.no_grad():
        base = model.network(x, contrastive=False).reconstruction
        moved = model.network(3 * x + 5, contrastive=False).reconstruction
    torch.testing.assert_close(moved, 3 * base + 5, atol=1e-4, rtol=1e-4)
    normalised, mean, std = revin_normalise(x)
    torch.testing.assert_close(normalised.mean(1), torch.zeros(2, 3), atol=1e-6, rtol=0)


def test_coarse_view_is_a_three_point_moving_average_with_replicated_edges():
    x = torch.randn(2, 10, 3)
    padded = torch.cat([x[:, :1], x, x[:, -1:]], dim=1)
    torch.testing.assert_close(coarse_view(x), (padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]) / 3)


@pytest.mark.parametrize("axis", ["channel", "time"])
def test_fine_view_masks_noises_and_swaps_on_a_copy(axis):
    x = torch.arange(20 * 30 * 4, dtype=torch.float32).reshape(20, 30, 4) + 1.0  # every value distinct
    original = x.clone()
    view = fine_view(x, 0.1, axis, torch.Generator().manual_seed(0))
    assert torch.equal(x, original)
    assert torch.all(view[:, 13:16] == 0) and torch.all(view[:, 27:] == 0)  # floor(0.1 * 30) = 3 steps
    kept = torch.ones(30, dtype=torch.bool)
    kept[13:16] = kept[27:] = False
    differing_steps = {tuple(torch.nonzero((view[b, kept] != original[b, kept]).any(1)).flatten().tolist())
                       for b in range(20)}
    tails_shared = any(torch.equal(view[i, 26], view[j, 26]) for i in range(20) for j in range(20) if i != j)
    if axis == "channel":
        # a start s >= 7 on the 4-channel axis selects nothing: only the <= 3 noised steps differ,
        # the same ones in every item (the noise indices are shared by the batch)
        assert len(differing_steps) == 1 and len(next(iter(differing_steps))) <= 3
        assert not tails_shared
    else:
        assert tails_shared  # floor(0.1 * 20) = 2 items took another item's steps from s on


def test_nt_xent_matches_its_formula_and_detaches_the_positives():
    anchor = torch.randn(5, 4, 3, requires_grad=True)
    positive = torch.randn(5, 4, 3, requires_grad=True)
    loss = nt_xent(anchor, positive, 0.5)
    a, p = anchor.reshape(5, -1), positive.reshape(5, -1)
    similarity = torch.exp(torch.nn.functional.cosine_similarity(a[:, None], p[None], dim=-1) / 0.5)
    expected = -torch.log(similarity.diagonal() / (similarity.sum(1) - similarity.diagonal()))
    torch.testing.assert_close(loss, expected)
    grad_anchor, grad_positive = torch.autograd.grad(loss.sum(), [anchor, positive], allow_unused=True)
    assert grad_positive is None and grad_anchor.abs().sum() > 0
    assert torch.equal(nt_xent(anchor[:1], positive[:1], 0.5), torch.zeros(1))


def test_score_is_the_sum_of_two_window_softmaxes():
    model = tiny()
    model.network.eval()
    with torch.no_grad():
        scores = model._window_point_scores(torch.randn(4, 30, 3))
    torch.testing.assert_close(scores.sum(-1), torch.full((4,), 2.0))


def test_config_accepts_yaml_lists_and_rejects_patch_sizes_that_do_not_divide_the_window():
    config = TransMamba.Config.from_dict({"win_size": 90, "patch_sizes": [[2, 3, 5], [6, 9, 15]]})
    assert config.patch_sizes == ((2, 3, 5), (6, 9, 15))
    with pytest.raises(ModelConfigError, match="win_size=240.*9"):
        TransMamba.Config.from_dict({"win_size": 240, "patch_sizes": [[2, 3, 5], [6, 9, 15]]})
    with pytest.raises(ModelConfigError, match="patch_sizes"):
        TransMamba.Config.from_dict({"patch_sizes": [[1, 3], [2]]})
    with pytest.raises(ModelConfigError, match="swap_axis"):
        TransMamba.Config.from_dict({"swap_axis": "batch"})


def test_univariate_training_stays_finite_with_dropout_and_a_one_window_batch():
    # One channel: dropout zeroes whole low-map rows now and then (no channel mean to hide it), and
    # 187 windows in batches of 16 leave a last batch of one window (no NT-Xent negatives).
    model = TransMamba(1, TransMamba.Config(win_size=30, d_model=16, batch_size=16), seed=0)
    series = np.random.default_rng(0).standard_normal((216, 1)).astype(np.float32)
    stats = model.train_epoch(series)
    assert all(np.isfinite(v) for v in stats.values())
    assert np.all(np.isfinite(model.score(series)))
