"""Evaluation block by block of windows (zoo/cache_blocks.py): the same floats as the whole-batch
computation, for the exponential, the prior, the discrepancies and whole models' scores and losses."""
import math

import pytest
import torch

from tsadbench.zoo import at_family, cache_blocks, get_model
from tsadbench.zoo.at_family import (_symmetric_kl, gaussian_density, normalise_rows, normalised_prior,
                                     symmetric_discrepancies)
from tsadbench.zoo.cache_blocks import evaluates_in_blocks, underflow_skipping_exp, window_blocks
from tsadbench.zoo.cli import check_values

BITS = {torch.float32: torch.int32, torch.float64: torch.int64}


def assert_same_floats(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Bit patterns equal: NaN matches NaN, and +0 does not match -0."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    assert torch.equal(actual.view(BITS[actual.dtype]), expected.view(BITS[expected.dtype]))


def every_float32_between(low: float, high: float) -> torch.Tensor:
    """All float32 values in [low, high] for negative low < high < 0, in order."""
    first, last = (torch.tensor(v, dtype=torch.float32).view(torch.int32).item() for v in (high, low))
    return torch.arange(first, last + 1, dtype=torch.int32).view(torch.float32).flip(0)


def test_the_underflow_skipping_exponential_is_torchs_for_every_float32_around_the_underflow():
    arguments = torch.cat([every_float32_between(-120.0, -80.0),
                           torch.tensor([-math.inf, math.inf, math.nan, 0.0, -0.0, 88.7, 89.0, -1e30, 1e-30])])
    assert arguments.numel() > 5_000_000
    assert_same_floats(underflow_skipping_exp(arguments), torch.exp(arguments))
    subnormal = torch.exp(arguments[:-9])
    assert ((subnormal > 0) & (subnormal < torch.finfo(torch.float32).tiny)).sum() > 100_000  # the slow range is covered


def test_the_underflow_skipping_exponential_is_torchs_in_float64_and_passes_half_precision_through():
    arguments = torch.cat([torch.linspace(-800.0, 20.0, 2_000_001, dtype=torch.float64),
                           torch.tensor([-math.inf, math.nan, 710.0], dtype=torch.float64)])
    assert_same_floats(underflow_skipping_exp(arguments), torch.exp(arguments))
    half = torch.linspace(-120.0, 5.0, 1001, dtype=torch.bfloat16)
    assert torch.equal(underflow_skipping_exp(half), torch.exp(half))


@pytest.mark.parametrize("batch,bytes_per_window", [(10, 400_000), (1, 10**9), (7, 1), (0, 5)])
def test_window_blocks_cover_the_batch_once_in_order(batch, bytes_per_window):
    blocks = window_blocks(batch, bytes_per_window)
    assert [i for block in blocks for i in range(batch)[block]] == list(range(batch))
    assert all(block.stop > block.start for block in blocks)
    if batch and bytes_per_window <= cache_blocks.CACHE_BLOCK_BYTES:
        assert max(block.stop - block.start for block in blocks) * bytes_per_window <= cache_blocks.CACHE_BLOCK_BYTES


def test_blocks_are_used_only_without_a_gradient():
    plain = torch.ones(2, 3)
    tracked = torch.ones(2, 3, requires_grad=True)
    assert evaluates_in_blocks(plain) and not evaluates_in_blocks(plain, tracked)
    with torch.no_grad():
        assert evaluates_in_blocks(tracked * 2)


def wide_sigma(batch: int, heads: int, length: int, dtype: torch.dtype) -> torch.Tensor:
    """The release's sigma = 3 ** (sigmoid(5 s) + 1e-5) - 1 over its whole range, down to 1e-5."""
    s = 3 * torch.randn(batch, heads, length, 1, generator=torch.Generator().manual_seed(batch), dtype=dtype)
    return torch.pow(3, torch.sigmoid(5 * s) + 1e-5) - 1


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("block_bytes", [1, 200_000, 1 << 20, 1 << 40])
@pytest.mark.parametrize("batch", [1, 7, 16])
def test_the_blocked_prior_is_the_whole_batchs(dtype, block_bytes, batch, monkeypatch):
    monkeypatch.setattr(cache_blocks, "CACHE_BLOCK_BYTES", block_bytes)
    length = 100
    index = torch.arange(length, dtype=torch.float32)
    distances = (index[:, None] - index[None, :]).abs()
    sigma = wide_sigma(batch, 4, length, dtype)
    whole = normalise_rows(gaussian_density(distances, sigma))
    if dtype == torch.float32:  # both the zeros and the subnormals of the slow path occur
        assert (whole == 0).any() and ((whole > 0) & (whole < torch.finfo(dtype).tiny)).any()
    assert_same_floats(normalised_prior(distances, sigma), whole)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("block_bytes", [1, 100_000, 1 << 40])
def test_the_blocked_discrepancies_are_the_whole_batchs(dtype, block_bytes, monkeypatch):
    monkeypatch.setattr(cache_blocks, "CACHE_BLOCK_BYTES", block_bytes)
    generator = torch.Generator().manual_seed(3)
    a_maps = [torch.softmax(4 * torch.randn(9, 3, 50, 50, generator=generator, dtype=dtype), dim=-1) for _ in range(2)]
    b_maps = [torch.softmax(4 * torch.randn(9, 3, 50, 50, generator=generator, dtype=dtype), dim=-1) for _ in range(2)]
    blocked = symmetric_discrepancies(a_maps, b_maps)
    for pair, a, b in zip(blocked, a_maps, b_maps):
        assert_same_floats(pair, _symmetric_kl(a, b))


def at_family_detector(model: str, dtype: torch.dtype, **overrides):
    cls = get_model(model)
    detector = cls(3, cls.Config.from_dict({**check_values(model)[0], **overrides}), seed=0)
    detector.set_dtype(dtype)
    detector.network.eval()
    return detector


@pytest.mark.parametrize("model,overrides", [("anomaly_transformer", {}), ("stformer", {}),
                                             ("anomaly_transformer", {"win_size": 100})])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_scores_and_losses_in_blocks_are_the_whole_batchs_and_the_training_forwards(model, overrides, dtype, threads,
                                                                                     monkeypatch):
    """What an evaluated epoch reports (scores and validation loss of each window) is unchanged by
    the blocks, and the evaluation forward equals the training forward (autograd on, no blocks)."""
    detector = at_family_detector(model, dtype, **overrides)
    batch = torch.randn(11, detector.config.win_size, 3, generator=torch.Generator().manual_seed(2), dtype=dtype)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            blocked_scores, blocked_loss = detector._window_scores_and_losses(batch)
            blocked_forward = detector.network(batch)
        with torch.enable_grad():
            tracked_forward = detector.network(batch)
        with monkeypatch.context() as patch, torch.no_grad():
            patch.setattr(at_family, "evaluates_in_blocks", lambda *tensors: False)
            whole_scores, whole_loss = detector._window_scores_and_losses(batch)
    finally:
        torch.set_num_threads(previous)
    assert_same_floats(blocked_loss, whole_loss)
    assert blocked_scores.keys() == whole_scores.keys()
    for key in whole_scores:
        assert_same_floats(blocked_scores[key], whole_scores[key])
    blocked_tensors, tracked_tensors = flatten(blocked_forward), flatten(tracked_forward)
    assert len(blocked_tensors) == len(tracked_tensors) >= 3
    for blocked_tensor, tracked_tensor in zip(blocked_tensors, tracked_tensors):
        assert_same_floats(blocked_tensor, tracked_tensor.detach())


def flatten(outputs) -> list[torch.Tensor]:
    """The tensors of a network's (nested) outputs, in order."""
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    return [tensor for item in outputs for tensor in flatten(item)]
