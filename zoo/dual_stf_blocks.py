"""Building blocks of Dual-STF (dingpengju/Dual-STF `23da14c`, `model/dualST_blocks.py` and
`model/Attn_module.py`), written afresh in a [batch, tokens, width] layout with every layer created in
`__init__`. The block equations follow `../shared/specs/models/dual_stf.md` §1.3.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import widen_half

LAYER_SCALE_INIT = 1e-6  # every residual branch starts almost closed (release: layer_scale_init_value)


def heads_for(width: int, most: int = 4) -> int:
    """The release's head rule: the largest divisor of `width` that is at most `most`."""
    return max(h for h in range(1, most + 1) if width % h == 0)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Multi-head scaled dot-product attention of q [B, N, D] over k, v [B, M, D]; no dropout."""
    def split(t: torch.Tensor) -> torch.Tensor:
        return t.reshape(t.shape[0], t.shape[1], heads, -1).transpose(1, 2)

    out = F.scaled_dot_product_attention(split(q), split(k), split(v))
    return out.transpose(1, 2).reshape(q.shape)


def layer_scale(width: int) -> nn.Parameter:
    return nn.Parameter(torch.full((width,), LAYER_SCALE_INIT))


class DropPath(nn.Module):
    """Stochastic depth: drop a whole residual branch per sample while training."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


class DepthwiseTokenConv(nn.Module):
    """Depthwise Conv1d (kernel 3) along the token axis of [B, N, D]."""

    def __init__(self, width: int):
        super().__init__()
        self.conv = nn.Conv1d(width, width, 3, padding=1, groups=width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.transpose(1, 2)).transpose(1, 2)


class ConvFFN(nn.Module):
    """PVTv2-style FFN: Linear(d->h) -> depthwise conv over tokens -> GELU -> Linear(h->d)."""

    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.dwconv = DepthwiseTokenConv(hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.dwconv(self.fc1(x))))


class DualAttention(nn.Module):
    """Sequence tokens and semantic (proxy) tokens exchange information (spec §1.3):
    the semantic tokens self-attend, read the sequence, pass an MLP; the sequence then reads only
    the semantic tokens."""

    def __init__(self, width: int, drop_path: float):
        super().__init__()
        self.heads = heads_for(width)
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * width)
        self.q_semantic = nn.Linear(width, width)
        self.kv_sequence = nn.Linear(width, 2 * width)
        self.qkv_semantic = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm_query_semantic = nn.LayerNorm(width)
        self.norm_mlp_semantic = nn.LayerNorm(width)
        self.norm_key_semantic = nn.LayerNorm(width)
        self.mlp_semantic = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.drop_path = DropPath(drop_path)
        self.gamma1, self.gamma2, self.gamma3 = layer_scale(width), layer_scale(width), layer_scale(width)

    def forward(self, x: torch.Tensor, semantics: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: normalised sequence tokens [B, N, D]; semantics [B, M, D] -> (x_att, semantics)."""
        q, k, v = self.qkv_semantic(semantics).chunk(3, dim=-1)
        semantics = semantics + self.drop_path(self.gamma1 * attend(q, k, v, self.heads))
        k_seq, v_seq = self.kv_sequence(x).chunk(2, dim=-1)
        read = attend(self.q_semantic(self.norm_query_semantic(semantics)), k_seq, v_seq, self.heads)
        semantics = semantics + self.drop_path(self.gamma2 * read)
        semantics = semantics + self.drop_path(self.gamma3 * self.mlp_semantic(self.norm_mlp_semantic(semantics)))
        k_sem, v_sem = self.kv(self.norm_key_semantic(semantics)).chunk(2, dim=-1)
        return self.proj(attend(self.q(x), k_sem, v_sem, self.heads)), semantics


class DualSTBlock(nn.Module):
    """Pre-norm block: x += DropPath(γ1·DualAttention(LN x, s)); x += DropPath(γ2·ConvFFN(LN x))."""

    def __init__(self, width: int, drop_path: float, mlp_ratio: int = 4):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.norm2 = nn.LayerNorm(width)
        self.attn = DualAttention(width, drop_path)
        self.ffn = ConvFFN(width, mlp_ratio * width)
        self.drop_path = DropPath(drop_path)
        self.gamma1, self.gamma2 = layer_scale(width), layer_scale(width)

    def forward(self, x: torch.Tensor, semantics: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_att, semantics = self.attn(self.norm1(x), semantics)
        x = x + self.drop_path(self.gamma1 * x_att)
        x = x + self.drop_path(self.gamma2 * self.ffn(self.norm2(x)))
        return x, semantics


class FrequencyDualST(nn.Module):
    """A DualSTBlock applied in the frequency domain of a [B, L, D] series (`inner_tf` / `in_tf`).

    rFFT along time; the real and imaginary parts pass separately through one shared block with
    learnable, zero-initialised semantic tokens; inverse rFFT back to L steps. With
    `tokens_are_bins` the F = L//2+1 bins are the tokens (width D, branch 1); otherwise the D
    channels are the tokens (width F, branch 2). Returns the series and the mean semantic tokens.
    """

    def __init__(self, win_size: int, width: int, n_semantic: int, drop_path: float, tokens_are_bins: bool):
        super().__init__()
        self.win_size = win_size
        self.tokens_are_bins = tokens_are_bins
        block_width = width if tokens_are_bins else win_size // 2 + 1
        self.semantics = nn.Parameter(torch.zeros(n_semantic, block_width))
        self.block = DualSTBlock(block_width, drop_path)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spectrum = torch.fft.rfft(widen_half(h), dim=1)
        if not self.tokens_are_bins:
            spectrum = spectrum.transpose(1, 2)
        start = self.semantics.expand(h.shape[0], -1, -1)
        real, semantics_real = self.block(spectrum.real.contiguous(), start)
        imag, semantics_imag = self.block(spectrum.imag.contiguous(), start)
        spectrum = torch.complex(widen_half(real), widen_half(imag))
        if not self.tokens_are_bins:
            spectrum = spectrum.transpose(1, 2)
        return torch.fft.irfft(spectrum, n=self.win_size, dim=1), (semantics_real + semantics_imag) / 2


class MergeBlock(nn.Module):
    """Joint self-attention over [sequence ; semantic] tokens, then a split FFN: the first
    `n_sequence` tokens through the conv FFN, the semantic tokens through an MLP d->2d->d."""

    def __init__(self, width: int):
        super().__init__()
        self.heads = heads_for(width)
        self.norm1 = nn.LayerNorm(width)
        self.norm2 = nn.LayerNorm(width)
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * width)
        self.proj = nn.Linear(width, width)
        self.ffn_sequence = ConvFFN(width, 4 * width)
        self.ffn_semantic = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))
        self.gamma1, self.gamma2 = layer_scale(width), layer_scale(width)

    def forward(self, z: torch.Tensor, n_sequence: int) -> torch.Tensor:
        normed = self.norm1(z)
        k, v = self.kv(normed).chunk(2, dim=-1)
        z = z + self.gamma1 * self.proj(attend(self.q(normed), k, v, self.heads))
        normed = self.norm2(z)
        ffn = torch.cat([self.ffn_sequence(normed[:, :n_sequence]), self.ffn_semantic(normed[:, n_sequence:])], dim=1)
        return z + self.gamma2 * ffn


class SemanticPatchAttention(nn.Module):
    """Semantic-gated multi-scale patch attention (`Initial_Att`, our clean reading, spec §8.4).

    Gate: g = σ(W_g LN(W_x x + W_s s↑)), x <- x⊙g + s↑⊙(1-g), s↑ the semantic tokens linearly
    interpolated to L steps. Then, per patch size p, each of the D channels is cut into patches of
    p steps (zero-padded at the end to a multiple of p); single-head attention (scale p^-1/2) runs
    over the patches, its output goes through Linear(p->p), and the patches are stitched back.
    The scales are averaged and added to the gated input (the residual is ours: the release
    discards the attention output and has no residual).
    """

    def __init__(self, width: int, patch_sizes: tuple[int, ...]):
        super().__init__()
        self.patch_sizes = patch_sizes
        self.gate_x = nn.Linear(width, width)
        self.gate_s = nn.Linear(width, width)
        self.gate_norm = nn.LayerNorm(width)
        self.gate_out = nn.Linear(width, width)
        self.qkv = nn.ModuleList(nn.Linear(p, 3 * p) for p in patch_sizes)
        self.out = nn.ModuleList(nn.Linear(p, p) for p in patch_sizes)

    def forward(self, x: torch.Tensor, semantics: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        lifted = interpolate_tokens(semantics, length)
        gate = torch.sigmoid(self.gate_out(self.gate_norm(self.gate_x(x) + self.gate_s(lifted))))
        x = x * gate + lifted * (1.0 - gate)
        channels = x.transpose(1, 2)
        scales = []
        for p, qkv, out in zip(self.patch_sizes, self.qkv, self.out):
            padded = F.pad(channels, (0, -length % p))
            patches = padded.reshape(batch * width, -1, p)
            q, k, v = qkv(patches).chunk(3, dim=-1)
            mixed = out(F.scaled_dot_product_attention(q, k, v))
            scales.append(mixed.reshape(batch, width, -1)[..., :length])
        return x + torch.stack(scales).mean(0).transpose(1, 2)


def interpolate_tokens(tokens: torch.Tensor, length: int) -> torch.Tensor:
    """Linearly resample [B, M, D] tokens to [B, length, D] along the token axis."""
    return F.interpolate(tokens.transpose(1, 2), size=length, mode="linear", align_corners=False).transpose(1, 2)
