"""Mamba block for TransMamba: mamba-ssm's CUDA kernels when present, a pure-PyTorch scan otherwise.

`Mamba` here has exactly the parameters of `mamba_ssm.Mamba` (Gu & Dao, "Mamba: Linear-Time
Sequence Modeling with Selective State Spaces", arXiv 2312.00752; state-spaces/mamba,
`mamba_ssm/modules/mamba_simple.py`): the same names, shapes and initialisation, so one state dict
loads into either. mambapy 1.2.0's `MambaBlock` uses the same names and shapes; we take only its
parallel (Blelloch) scan `mambapy.pscan.pscan`, which has its own backward pass, and write the
block around it. `selective_scan_reference` is the slow step-by-step loop the tests compare with.

Layouts follow `mamba_ssm.ops.selective_scan_interface.selective_scan_fn`: u, delta, z [b, d, l];
A [d, n]; B, C [b, n, l]; D [d].
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MAMBA_BACKENDS = ("auto", "mamba_ssm", "torch")


def _discretise(u: torch.Tensor, delta: torch.Tensor, delta_bias: torch.Tensor | None,
                delta_softplus: bool) -> torch.Tensor:
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    return F.softplus(delta) if delta_softplus else delta


def _pscan():
    """mambapy's parallel scan, imported when a scan runs: the package imports without mambapy
    (the GPU check's machine has only torch and numpy), TransMamba's PyTorch backend needs it."""
    try:
        from mambapy.pscan import pscan
    except ImportError:
        raise ModuleNotFoundError("TransMamba's PyTorch scan needs mambapy: pip install mambapy==1.2.0 (pure "
                                  "Python), or put a copy of its package folder on PYTHONPATH") from None
    return pscan


def selective_scan(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor,
                   C: torch.Tensor, D: torch.Tensor | None = None, z: torch.Tensor | None = None,
                   delta_bias: torch.Tensor | None = None, delta_softplus: bool = False) -> torch.Tensor:
    """The selective scan h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t, y_t = C_t·h_t + D u_t, gated by silu(z).

    Same arguments and result [b, d, l] as mamba-ssm's `selective_scan_fn`; the recurrence runs as
    one parallel scan over time (mambapy's `pscan`, O(log l) sequential steps).
    """
    delta = _discretise(u, delta, delta_bias, delta_softplus)
    decay = torch.exp(torch.einsum("bdl,dn->bldn", delta, A))
    drive = torch.einsum("bdl,bnl->bldn", delta * u, B)
    states = _pscan()(decay, drive)
    y = torch.einsum("bldn,bnl->bdl", states, C)
    if D is not None:
        y = y + u * D[:, None]
    if z is not None:
        y = y * F.silu(z)
    return y


def selective_scan_reference(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor,
                             C: torch.Tensor, D: torch.Tensor | None = None, z: torch.Tensor | None = None,
                             delta_bias: torch.Tensor | None = None,
                             delta_softplus: bool = False) -> torch.Tensor:
    """`selective_scan` as a plain loop over time steps (slow; the oracle of the tests)."""
    delta = _discretise(u, delta, delta_bias, delta_softplus)
    state = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    outputs = []
    for t in range(u.shape[2]):
        step = delta[:, :, t, None]
        state = torch.exp(step * A) * state + step * B[:, None, :, t] * u[:, :, t, None]
        outputs.append((state * C[:, None, :, t]).sum(-1))
    y = torch.stack(outputs, dim=-1)
    if D is not None:
        y = y + u * D[:, None]
    if z is not None:
        y = y * F.silu(z)
    return y


class Mamba(nn.Module):
    """One Mamba block in PyTorch with `mamba_ssm.Mamba`'s parameters and default initialisation.

    in_proj (no bias) -> x, z; x -> causal depthwise conv (d_conv, bias) -> silu -> x_proj -> (dt, B, C);
    dt -> dt_proj weight; selective scan with dt_proj bias and softplus, D skip, silu(z) gate;
    out_proj (no bias). dt_rank "auto" is ceil(d_model / 16), as in mamba-ssm.
    """

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2,
                 dt_rank: int | str = "auto", dt_min: float = 0.001, dt_max: float = 0.1,
                 dt_init_floor: float = 1e-4):
        super().__init__()
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=False)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner,
                                padding=d_conv - 1, bias=True)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        # mamba_simple.py: dt weights uniform in ±dt_rank^-0.5; the bias is softplus^-1 of a step
        # drawn log-uniformly in [dt_min, dt_max] and floored at dt_init_floor.
        bound = self.dt_rank ** -0.5
        nn.init.uniform_(self.dt_proj.weight, -bound, bound)
        step = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        step = step.clamp(min=dt_init_floor)
        with torch.no_grad():
            self.dt_proj.bias.copy_(step + torch.log(-torch.expm1(-step)))
        # S4D-real initialisation: A = -(1, ..., d_state) for every inner channel, stored as log.
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """[batch, length, d_model] -> [batch, length, d_model]."""
        length = hidden.shape[1]
        x, z = self.in_proj(hidden).transpose(1, 2).chunk(2, dim=1)
        x = F.silu(self.conv1d(x)[..., :length])
        dt, B, C = torch.split(self.x_proj(x.transpose(1, 2)), [self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = (dt @ self.dt_proj.weight.T).transpose(1, 2)
        y = selective_scan(x, dt, -torch.exp(self.A_log.float()), B.transpose(1, 2), C.transpose(1, 2),
                           self.D.float(), z=z, delta_bias=self.dt_proj.bias.float(), delta_softplus=True)
        return self.out_proj(y.transpose(1, 2))


def mamba_ssm_available() -> bool:
    """Whether `mamba_ssm` (and its CUDA extension) can be imported here."""
    try:
        import mamba_ssm  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def resolve_mamba_backend(backend: str, device: torch.device) -> str:
    """'auto' -> 'mamba_ssm' on a CUDA device where mamba_ssm imports, else 'torch'."""
    if backend not in MAMBA_BACKENDS:
        raise ValueError(f"mamba backend must be one of {MAMBA_BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "mamba_ssm" if device.type == "cuda" and mamba_ssm_available() else "torch"
    if backend == "mamba_ssm" and (device.type != "cuda" or not mamba_ssm_available()):
        raise RuntimeError("mamba_backend='mamba_ssm' needs a CUDA device and an importable mamba_ssm; "
                           "use 'auto' or 'torch'")
    return backend


def build_mamba(d_model: int, backend: str, device: torch.device) -> nn.Module:
    """A Mamba(d_model, d_state 16, d_conv 4, expand 2) block of the resolved backend."""
    if resolve_mamba_backend(backend, device) == "mamba_ssm":
        from mamba_ssm import Mamba as CudaMamba

        return CudaMamba(d_model=d_model, d_state=16, d_conv=4, expand=2)
    return Mamba(d_model, d_state=16, d_conv=4, expand=2)
