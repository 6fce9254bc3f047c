"""TWavefussion's wavelet and diffusion parts, written afresh: the one-level Haar DWT of a latent,
the linear-β DDPM noise schedule, antithetic timestep sampling, a deterministic DDIM reverse chain
from a partial noise level, and the kernel-1 1-D U-Net denoiser (`models/diffusion.py:Model2` of
Hibbert133/Twavefussion `190528e`, itself the DDPM U-Net of Ho et al. 2020 made 1-D).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

SQRT_HALF = math.sqrt(0.5)
GROUPS = 4  # GroupNorm(4, eps 1e-6) everywhere in the release's `Normalize`


def haar_dwt(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One-level Haar (db1) DWT along the last axis (even length): (cA, cD), each half as long.

    cA_k = (x_2k + x_2k+1)/√2 and cD_k = (x_2k - x_2k+1)/√2: equal to `pywt.dwt(x, 'db1')` (any mode,
    since even-length Haar needs no padding) and to pytorch_wavelets' DWT1DForward(J=1, 'db1', 'zero')
    that the release uses.
    """
    if x.shape[-1] % 2:
        raise ValueError(f"the Haar step needs an even length, got {x.shape[-1]}")
    even, odd = x[..., 0::2], x[..., 1::2]
    return (even + odd) * SQRT_HALF, (even - odd) * SQRT_HALF


def haar_idwt(approximation: torch.Tensor, detail: torch.Tensor) -> torch.Tensor:
    """Inverse of `haar_dwt` (equal to `pywt.idwt(cA, cD, 'db1')`)."""
    even = (approximation + detail) * SQRT_HALF
    odd = (approximation - detail) * SQRT_HALF
    return torch.stack([even, odd], dim=-1).flatten(-2)


def linear_alphas_bar(steps: int, beta_start: float, beta_end: float) -> torch.Tensor:
    """ᾱ_t = Π_{s<=t} (1 - β_s) for the linear schedule β_t from beta_start to beta_end, t = 0..steps-1."""
    betas = torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
    return torch.cumprod(1.0 - betas, dim=0)


def antithetic_timesteps(n: int, steps: int) -> torch.Tensor:
    """The release's training draw: ⌊n/2⌋+1 uniform t, paired with steps-1-t, truncated to n."""
    t = torch.randint(0, steps, (n // 2 + 1,))
    return torch.cat([t, steps - 1 - t])[:n]


def add_noise(clean: torch.Tensor, t: torch.Tensor, alphas_bar: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """q(x_t | x_0): √ᾱ_t x_0 + √(1-ᾱ_t) ε, with one t per batch element."""
    a = alphas_bar.to(clean.device)[t].float().view(-1, *([1] * (clean.ndim - 1)))
    return a.sqrt() * clean + (1 - a).sqrt() * noise


def ddim_reverse(noisy: torch.Tensor, t_star: int, stride: int, alphas_bar: torch.Tensor,
                 predict_noise: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Deterministic DDIM (η = 0, Song et al. 2021) from level `t_star` down to a clean estimate.

    Visits t*, t*-stride, ..., ending with ᾱ = 1, so the chain starts at the level actually used for
    noising (the release always starts at t = 495). With the true noise as prediction it returns the
    clean input exactly. The x_0 estimate is not clamped: latents are not bounded to [-1, 1].
    """
    levels = list(range(t_star, -1, -stride))
    alphas = alphas_bar.to(noisy.device)
    x = noisy
    for current, following in zip(levels, levels[1:] + [-1]):
        a_now = alphas[current].float()
        a_next = alphas[following].float() if following >= 0 else torch.ones((), device=noisy.device)
        t = torch.full((x.shape[0],), current, device=x.device, dtype=torch.long)
        eps = predict_noise(x, t)
        clean = (x - (1 - a_now).sqrt() * eps) / a_now.sqrt()
        x = a_next.sqrt() * clean + (1 - a_next).sqrt() * eps
    return x


def timestep_embedding(t: torch.Tensor, width: int) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps (DDPM / tensor2tensor form), [B, width]."""
    half = width // 2
    frequencies = torch.exp(-math.log(10000) * torch.arange(half, device=t.device, dtype=torch.float32) / (half - 1))
    angles = t.float()[:, None] * frequencies[None, :]
    return F.pad(torch.cat([angles.sin(), angles.cos()], dim=1), (0, width % 2))


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(GROUPS, channels, eps=1e-6)


class ResBlock(nn.Module):
    """GN -> swish -> 1x1 conv, + time projection, GN -> swish -> dropout -> 1x1 conv, + shortcut."""

    def __init__(self, in_channels: int, out_channels: int, time_width: int, dropout: float):
        super().__init__()
        self.norm1 = _norm(in_channels)
        self.conv1 = nn.Conv1d(in_channels, out_channels, 1)
        self.time = nn.Linear(time_width, out_channels)
        self.norm2 = _norm(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv1d(out_channels, out_channels, 1)
        self.shortcut = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.time(F.silu(temb))[:, :, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.shortcut(x) + h


class AttnBlock(nn.Module):
    """Multi-head self-attention over positions, GN pre-norm, 1x1 q/k/v/proj, residual."""

    def __init__(self, channels: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm = _norm(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, length = x.shape
        q, k, v = (t.reshape(batch, self.heads, channels // self.heads, length).transpose(2, 3)
                   for t in self.qkv(self.norm(x)).chunk(3, dim=1))
        out = F.scaled_dot_product_attention(q, k, v).transpose(2, 3).reshape(batch, channels, length)
        return x + self.proj(out)


class Stage(nn.Module):
    """The res blocks (each optionally followed by attention) of one U-Net level."""

    def __init__(self, widths: list[tuple[int, int]], time_width: int, dropout: float, attention: bool, heads: int):
        super().__init__()
        self.blocks = nn.ModuleList(ResBlock(i, o, time_width, dropout) for i, o in widths)
        self.attentions = nn.ModuleList(AttnBlock(o, heads) if attention else nn.Identity() for _, o in widths)


class UNet1d(nn.Module):
    """The release's `Model2`: a DDPM U-Net over [B, channels, length] with only 1x1 convolutions.

    Temporal mixing happens only through attention (at the lengths in `attention_lengths`), the
    avg-pool(2) downsampling and the nearest x2 upsampling; the middle is Res -> Attn -> Res.
    The release also creates a 1x1 conv in every Downsample that it never calls; we do not build it.
    """

    def __init__(self, channels: int, base: int, multipliers: tuple[int, ...], n_res_blocks: int,
                 attention_lengths: tuple[int, ...], length: int, dropout: float, heads: int):
        super().__init__()
        self.base = base
        time_width = 4 * base
        self.time = nn.Sequential(nn.Linear(base, time_width), nn.SiLU(), nn.Linear(time_width, time_width))
        self.conv_in = nn.Conv1d(channels, base, 1)
        widths = [base * m for m in multipliers]
        skips = [base]
        current = base
        self.down = nn.ModuleList()
        for level, width in enumerate(widths):
            pairs = []
            for _ in range(n_res_blocks):
                pairs.append((current, width))
                current = width
                skips.append(current)
            self.down.append(Stage(pairs, time_width, dropout, length in attention_lengths, heads))
            if level != len(widths) - 1:
                skips.append(current)
                length //= 2
        self.mid_block1 = ResBlock(current, current, time_width, dropout)
        self.mid_attention = AttnBlock(current, heads)
        self.mid_block2 = ResBlock(current, current, time_width, dropout)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(len(widths))):
            pairs = []
            for _ in range(n_res_blocks + 1):
                pairs.append((current + skips.pop(), widths[level]))
                current = widths[level]
            self.up.append(Stage(pairs, time_width, dropout, length in attention_lengths, heads))
            if level != 0:
                self.upsample.append(nn.Conv1d(current, current, 1))
                length *= 2
        self.norm_out = _norm(current)
        self.conv_out = nn.Conv1d(current, channels, 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.time(timestep_embedding(t, self.base))
        hs = [self.conv_in(x)]
        for level, stage in enumerate(self.down):
            for block, attention in zip(stage.blocks, stage.attentions):
                hs.append(attention(block(hs[-1], temb)))
            if level != len(self.down) - 1:
                hs.append(F.avg_pool1d(hs[-1], 2))
        h = self.mid_block2(self.mid_attention(self.mid_block1(hs[-1], temb)), temb)
        for level, stage in enumerate(self.up):
            for block, attention in zip(stage.blocks, stage.attentions):
                h = attention(block(torch.cat([h, hs.pop()], dim=1), temb))
            if level != len(self.up) - 1:
                h = self.upsample[level](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))
