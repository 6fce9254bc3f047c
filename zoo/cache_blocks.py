"""Evaluation passes over association maps, block by block of windows, on the CPU.

An Anomaly-Transformer layer makes [B, H, L, L] maps (at the repository config on SMD: 256 x 8 x
100 x 100 floats, 82 MB each), and its prior and discrepancy are chains of elementwise operations
over them: ten passes for the discrepancy of a pair, seven for the prior. Each pass over a map
that size streams it from memory. The same chain over a block of a few windows (about a core's L2
cache) keeps the intermediates in cache. Every operation in these chains is elementwise or reduces
within one window, so a window's floats do not depend on which block holds it. The tests compare
the blocked and whole-batch results with `torch.equal`.

Blocks are used only where no gradient is taken (validation losses and scores: the work an epoch
does outside training) and only on the CPU. On a GPU, one kernel per pass over the whole batch is
the better choice, and training keeps the whole-batch graph that autograd differentiates.

Measured at the repository config, one thread, one batch of 256 windows (`benchmarks/bench_epoch.py`
has the per-epoch figures): the discrepancies of three layers 0.87 s whole, 0.22 s in blocks of 3
windows; the prior of one layer 0.36 s whole, 0.16 s in blocks with `underflow_skipping_exp`.
"""
from __future__ import annotations

import math

import torch

CACHE_BLOCK_BYTES = 1 << 20  # about one core's L2 cache; 2 to 4 windows of 320 KB were fastest


def evaluates_in_blocks(*tensors: torch.Tensor) -> bool:
    """Whether maps like these are evaluated block by block: on the CPU and with no gradient."""
    return all(t.device.type == "cpu" and not t.requires_grad for t in tensors)


def window_blocks(batch: int, bytes_per_window: int) -> list[slice]:
    """Consecutive slices of the batch axis, each about `CACHE_BLOCK_BYTES` (at least one window)."""
    step = max(1, CACHE_BLOCK_BYTES // max(1, bytes_per_window))
    return [slice(start, min(start + step, batch)) for start in range(0, batch, step)]


def underflow_skipping_exp(arguments: torch.Tensor) -> torch.Tensor:
    """`torch.exp(arguments)`, the same floats, faster when many arguments underflow to 0.

    On x86 CPUs the exponential of an argument whose result is subnormal or 0 takes 8 to 19 times
    as long as that of an ordinary one (float32, 20 M elements, one thread: 0.04 s for arguments
    of -80, 0.30 s for -105, 0.69 s for -95). Most of a wide window's Gaussian prior underflows.
    Arguments below the point where every result is 0 (`zero_below`, six nats under the log of
    the smallest subnormal) are replaced by 0 before the exponential and their results by 0 after
    it. The arguments between that point and the normal range still take the slow path, so their
    subnormal results stay exact. Float16 and bfloat16 go straight to `torch.exp`. In place on its
    result, so not for autograd.
    """
    if arguments.dtype not in (torch.float32, torch.float64):
        return torch.exp(arguments)
    info = torch.finfo(arguments.dtype)
    zero_below = math.log(info.smallest_normal * info.eps) - 6.0
    underflows = arguments < zero_below
    return torch.exp(arguments.masked_fill(underflows, 0.0)).masked_fill_(underflows, 0.0)
