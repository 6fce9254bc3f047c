"""Compare TransMamba's two Mamba paths: mamba-ssm's CUDA kernels and our pure-PyTorch scan.

Needs a CUDA device and an importable `mamba_ssm`; elsewhere it says so and exits 0. It loads one
state dict into `mamba_ssm.Mamba(64)` and into `tsadbench.zoo.selective_scan.Mamba(64)` and reports
the max abs difference of outputs and parameter gradients and the forward+backward throughput of
each, at TransMamba's sequence lengths (46 frequency bins for W = 90, 121 for W = 240); then it
loads one TransMamba checkpoint into a model of each backend and compares the anomaly scores.

    .venv/bin/python benchmarks/compare_mamba_paths.py [--batch 128] [--repeats 20]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from tsadbench.zoo.selective_scan import Mamba, mamba_ssm_available
from tsadbench.zoo.transmamba import TransMamba


def timed(block: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Sequences per second of forward + backward."""
    for _ in range(3):
        block(x).square().mean().backward()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        block(x).square().mean().backward()
    torch.cuda.synchronize()
    return repeats * x.shape[0] / (time.perf_counter() - start)


def compare_blocks(batch: int, length: int, repeats: int) -> None:
    from mamba_ssm import Mamba as CudaMamba

    torch.manual_seed(0)
    ours = Mamba(64).cuda()
    theirs = CudaMamba(d_model=64, d_state=16, d_conv=4, expand=2).cuda()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(batch, length, 64, device="cuda")
    outputs = []
    for block in (ours, theirs):
        block.zero_grad()
        y = block(x)
        y.square().mean().backward()
        outputs.append((y.detach(), {n: p.grad.detach().clone() for n, p in block.named_parameters()}))
    output_diff = (outputs[0][0] - outputs[1][0]).abs().max().item()
    grad_diff = max((outputs[0][1][n] - outputs[1][1][n]).abs().max().item() for n in outputs[0][1])
    print(f"L={length:4d} B={batch}: max|y_torch - y_cuda| = {output_diff:.2e}, "
          f"max|grad diff| = {grad_diff:.2e}, fwd+bwd seq/s: torch {timed(ours, x, repeats):,.0f}, "
          f"mamba_ssm {timed(theirs, x, repeats):,.0f}")


def compare_models() -> None:
    rng = np.random.default_rng(0)
    series = rng.standard_normal((2000, 25)).astype(np.float32)
    scores = {}
    state = None
    for backend in ("mamba_ssm", "torch"):
        model = TransMamba(25, TransMamba.Config(mamba_backend=backend), seed=0, device="cuda")
        if state is None:
            model.train_epoch(series, max_windows=512)
            state = model.state_dict()
        else:
            model.load_state_dict(state)
        scores[backend] = model.score(series)
    print(f"TransMamba PSM config, one checkpoint in both backends: max |score diff| = "
          f"{np.abs(scores['mamba_ssm'] - scores['torch']).max():.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    if not torch.cuda.is_available() or not mamba_ssm_available():
        print("skipped: needs a CUDA device and an importable mamba_ssm "
              f"(cuda: {torch.cuda.is_available()}, mamba_ssm: {mamba_ssm_available()})")
        return
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    for length in (46, 121):
        compare_blocks(args.batch, length, args.repeats)
    compare_models()


if __name__ == "__main__":
    main()
