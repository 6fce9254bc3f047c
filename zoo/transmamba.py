"""TransMamba: time-domain patch-attention discrepancy + frequency-domain Mamba reconstruction.

Source: mash0926/TransMamba @ b4d76ac ("TransMamba: Time-Frequency Discriminative Feature Learning
for Multivariate Time Series Anomaly Detection", submitted to ICDE 2026); spec
`../shared/specs/models/transmamba.md`. The paper text was not available, so every default follows
the code, and the flags below give the evident intent where the code has a slip.
"""
from __future__ import annotations

import dataclasses
import re
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .at_family import (ATFamilyConfig, ATFamilyDetector, TokenEmbedding, TrainingRecipe, association_scores,
                        check_choice, check_heads, normalise_rows, stop_gradient_discrepancies)
from .base import HEADLINE_SCORE, ModelConfigError, widen_half
from .official import OfficialKeyMap
from .optim import Adam, Optimizer
from .registry import register
from .selective_scan import MAMBA_BACKENDS, build_mamba, resolve_mamba_backend

REVIN_EPSILON = 1e-5
# `dropout` lands in DataEmbedding's `embed_type` slot, so the patch embeddings keep its default 0.1.
EMBEDDING_DROPOUT = 0.1
MIN_SWAP_START = 7  # utils.seg_ano draws the swap start in [7, W)
SWAP_AXES = ("channel", "time")
UPSAMPLING = ("tile", "block")
# Hour, weekday, day and month tables of the never-used TemporalEmbedding (model/embed.py).
UNUSED_TIME_TABLE_SIZES = (24, 7, 32, 13)


def _as_tuple(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuple(item) for item in value)
    return value


@dataclasses.dataclass(frozen=True)
class TransMambaConfig(ATFamilyConfig):
    """Hyperparameters; defaults are the repository's PSM script and `run_TransMamba.py`.

    lr is the time-domain optimiser's; the frequency optimiser runs at lr * frequency_lr_scale
    (the code's lr / 2). patch_sizes = (high list, low list), paired element-wise; each p cuts the
    window into p patches of win_size / p points. mamba_backend: "auto" (mamba-ssm on CUDA when it
    imports, else PyTorch), "mamba_ssm" or "torch". The three flags after it are the code's choices
    by default; see the class docstring.
    """

    win_size: int = 90
    lr: float = 1e-4
    batch_size: int = 128
    frequency_lr_scale: float = 0.5
    d_model: int = 64
    n_heads: int = 1
    e_layers: int = 1
    dropout: float = 0.1
    patch_sizes: tuple[tuple[int, ...], tuple[int, ...]] = ((1, 3), (2, 6))
    aug_rate: float = 0.1
    contrastive_temperature: float = 0.5
    revin: bool = True
    mamba_backend: str = "auto"
    swap_axis: str = "channel"
    normalise_high: bool = False
    upsampling: str = "tile"

    def __post_init__(self) -> None:
        object.__setattr__(self, "patch_sizes", _as_tuple(self.patch_sizes))

    def validate(self) -> None:
        super().validate()
        check_heads(self.d_model, self.n_heads)
        check_choice("mamba_backend", self.mamba_backend, MAMBA_BACKENDS)
        check_choice("swap_axis", self.swap_axis, SWAP_AXES)
        check_choice("upsampling", self.upsampling, UPSAMPLING)
        sizes = self.patch_sizes
        if (len(sizes) != 2 or not sizes[0] or len(sizes[0]) != len(sizes[1])
                or not all(isinstance(p, int) and p >= 1 for p in (*sizes[0], *sizes[1]))):
            raise ModelConfigError(
                f"patch_sizes must be (high list, low list) of equally many positive ints, got {sizes!r}: "
                "e.g. [[1, 3], [2, 6]]"
            )
        bad = sorted({p for p in (*sizes[0], *sizes[1]) if self.win_size % p})
        if bad:
            raise ModelConfigError(
                f"win_size={self.win_size} is not divisible by patch size(s) {bad} of patch_sizes={sizes}: "
                "choose a win_size that every patch size divides (e.g. a multiple of 90 or 30)"
            )
        if self.win_size <= MIN_SWAP_START:
            raise ModelConfigError(f"win_size must be > {MIN_SWAP_START} (segment-swap start), got {self.win_size}")
        if self.e_layers < 1 or not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.aug_rate < 1.0:
            raise ModelConfigError(
                f"need e_layers >= 1, dropout and aug_rate in [0, 1); "
                f"got {self.e_layers}, {self.dropout}, {self.aug_rate}"
            )
        if self.frequency_lr_scale <= 0 or self.contrastive_temperature <= 0:
            raise ModelConfigError("frequency_lr_scale and contrastive_temperature must be > 0 "
                                   f"(repository: 0.5 and 0.5), got {self.frequency_lr_scale} and "
                                   f"{self.contrastive_temperature}")


def revin_normalise(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """RevIN per window and channel: (x - mean) / sqrt(var + 1e-5), population variance.

    The released RevIN's affine weight and bias are fixed at 1 and 0 (not parameters), so they drop out.
    """
    mean = x.mean(dim=1, keepdim=True)
    std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + REVIN_EPSILON)
    return (x - mean) / std, mean, std


def coarse_view(x: torch.Tensor) -> torch.Tensor:
    """Moving average over time, kernel 3, stride 1, edges replicated (utils `moving_avg`)."""
    padded = torch.cat([x[:, :1], x, x[:, -1:]], dim=1)
    return F.avg_pool1d(padded.transpose(1, 2), kernel_size=3, stride=1).transpose(1, 2)


def fine_view(x: torch.Tensor, rate: float, swap_axis: str = "channel",
              generator: torch.Generator | None = None) -> torch.Tensor:
    """The fine augmentation of [B, W, C] windows (utils `fine_data_augmentation`), on a copy.

    1. zero a central block of floor(rate W) steps and the last floor(rate W) steps;
    2. add N(0, 1) noise at floor(rate W) random time indices shared by the batch;
    3. for floor(rate B) random pairs (i, j != i) copy item j into item i from a random start
       s in [7, W): on the channel axis (x[i, :, s:], the released code's slice) or the time axis.
    """
    batch, length, channels = x.shape
    out = x.clone()
    span = int(rate * length)
    if span:
        middle = (length - span) // 2
        out[:, middle:middle + span] = 0
        out[:, length - span:] = 0
        noise = torch.randn((batch, span, channels), generator=generator, device=x.device)
        index = torch.randint(0, length, (span,), generator=generator, device=x.device)
        out[:, index, :] = out[:, index, :] + noise
    pairs = int(rate * batch)
    if pairs:
        target = torch.randint(0, batch, (pairs,), generator=generator, device=x.device)
        source = (target + torch.randint(1, batch, (pairs,), generator=generator, device=x.device)) % batch
        starts = torch.randint(MIN_SWAP_START, length, (pairs,), generator=generator, device=x.device)
        for i, j, start in zip(target.tolist(), source.tolist(), starts.tolist()):
            if swap_axis == "channel":
                out[i, :, start:] = out[j, :, start:]
            else:
                out[i, start:] = out[j, start:]
    return out


def nt_xent(anchor: torch.Tensor, positive: torch.Tensor, temperature: float) -> torch.Tensor:
    """Per-anchor NT-Xent (TransMambaLayer `loss_NTXent`): [B].

    Each sample is flattened; positives are detached; S_ij = exp(cos(a_i, p_j) / T) and the loss is
    -log(S_ii / (sum_j S_ij - S_ii)). With one sample there is no negative: the term is 0.
    """
    batch = anchor.shape[0]
    if batch < 2:
        return anchor.new_zeros(batch)
    a = widen_half(anchor.reshape(batch, -1))
    p = widen_half(positive.reshape(batch, -1).detach())
    similarity = torch.exp((a @ p.T) / (a.norm(dim=1)[:, None] * p.norm(dim=1)[None, :]) / temperature)
    positive_similarity = similarity.diagonal()
    return -torch.log(positive_similarity / (similarity.sum(dim=1) - positive_similarity))


class _PatchAttention(nn.Module):
    """Q/K-only attention over the p patch tokens of one channel (TemporalLayer + PatchAttention)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.query_projection = nn.Linear(d_model, d_model)
        self.key_projection = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """[B*C, p, d] -> attention [B*C, H, p, p]."""
        rows, n_tokens, _ = tokens.shape
        queries = self.query_projection(tokens).view(rows, n_tokens, self.n_heads, -1)
        keys = self.key_projection(tokens).view(rows, n_tokens, self.n_heads, -1)
        scores = torch.einsum("blhe,bshe->bhls", queries, keys) / queries.shape[-1] ** 0.5
        return self.dropout(torch.softmax(widen_half(scores), dim=-1))


class _UnusedReleaseParameters(nn.Module):
    """Tensors the released model creates and never uses (spec §6): the window-level DataEmbedding
    conv, the encoder's LayerNorm and, per DataEmbedding, the learnable hour/weekday/day/month tables
    (built as nn.Embedding because `dropout` lands in DataEmbedding's `embed_type` slot)."""

    def __init__(self, n_channels: int, d_model: int, n_data_embeddings: int):
        super().__init__()
        self.window_embedding = nn.Conv1d(n_channels, d_model, kernel_size=3, bias=False)
        self.encoder_norm = nn.LayerNorm(d_model)
        self.time_tables = nn.ModuleList(
            nn.ModuleList(nn.Embedding(size, d_model) for size in UNUSED_TIME_TABLE_SIZES)
            for _ in range(n_data_embeddings)
        )


class _TransMambaOutput(NamedTuple):
    high: list[torch.Tensor]
    low: list[torch.Tensor]
    reconstruction: torch.Tensor
    spectrum: torch.Tensor
    real: torch.Tensor
    imag: torch.Tensor
    contrastive: torch.Tensor | None


class _TransMambaNetwork(nn.Module):
    def __init__(self, n_channels: int, config: TransMambaConfig, device: torch.device):
        super().__init__()
        self.config = config
        high, low = config.patch_sizes
        win = config.win_size
        self.high_embeddings = nn.ModuleList(
            TokenEmbedding(win // p, config.d_model, p, EMBEDDING_DROPOUT) for p in high
        )
        self.low_embeddings = nn.ModuleList(
            TokenEmbedding(win // p, config.d_model, p, EMBEDDING_DROPOUT) for p in low
        )
        self.temporal_layers = nn.ModuleList(
            _PatchAttention(config.d_model, config.n_heads, config.dropout) for _ in range(config.e_layers)
        )
        self.frequency_embedding = nn.Linear(2 * n_channels, config.d_model)
        self.mamba = build_mamba(config.d_model, config.mamba_backend, device)
        self.real_head = nn.Linear(config.d_model, n_channels)
        self.imag_head = nn.Linear(config.d_model, n_channels)
        if config.build_unused_parameters:
            self.unused = _UnusedReleaseParameters(n_channels, config.d_model, len(high) + len(low) + 1)

    def frequency_parameters(self) -> list[nn.Parameter]:
        """Parameters of the frequency branch (GPRM), trained by L_F at the frequency learning rate."""
        modules = (self.frequency_embedding, self.mamba, self.real_head, self.imag_head)
        return [p for module in modules for p in module.parameters()]

    def _maps(self, series: torch.Tensor, sizes: tuple[int, ...], embeddings: nn.ModuleList) -> list[torch.Tensor]:
        batch, channels, length = series.shape
        maps = []
        for p, embedding in zip(sizes, embeddings):
            tokens = embedding(series.reshape(batch * channels, p, length // p))
            for layer in self.temporal_layers:
                # The channel mean commutes with the up-sampling, so it is taken on the p x p maps.
                attention = layer(tokens).reshape(batch, channels, self.config.n_heads, p, p).mean(dim=1)
                maps.append(self._upsample(attention, length // p))
        return maps

    def _upsample(self, attention: torch.Tensor, factor: int) -> torch.Tensor:
        if self.config.upsampling == "tile":
            return attention.repeat(1, 1, factor, factor)
        return attention.repeat_interleave(factor, dim=-1).repeat_interleave(factor, dim=-2)

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spectrum = torch.fft.rfft(x, dim=1)
        embedded = self.frequency_embedding(torch.cat([spectrum.real, spectrum.imag], dim=-1))
        return spectrum, self.mamba(embedded)

    def forward(self, x: torch.Tensor, contrastive: bool, generator: torch.Generator | None = None,
                fine: torch.Tensor | None = None) -> _TransMambaOutput:
        """All outputs for windows x [B, W, C]; `contrastive` adds the NT-Xent terms, whose fine view
        is drawn with `generator`, or is `fine` when given (replaying a recorded run)."""
        if self.config.revin:
            x, mean, std = revin_normalise(x)
        series = x.transpose(1, 2)
        high_sizes, low_sizes = self.config.patch_sizes
        high = self._maps(series, high_sizes, self.high_embeddings)
        low = [normalise_rows(m) for m in self._maps(series, low_sizes, self.low_embeddings)]
        if self.config.normalise_high:
            high = [normalise_rows(m) for m in high]
        spectrum, hidden = self._encode(x)
        real, imag = self.real_head(hidden), self.imag_head(hidden)
        reconstruction = torch.fft.irfft(torch.complex(widen_half(real), widen_half(imag)), n=x.shape[1], dim=1)
        if self.config.revin:
            reconstruction = reconstruction * std + mean
        contrastive_terms = None
        if contrastive:
            _, hidden_coarse = self._encode(coarse_view(x))
            if fine is None:
                fine = fine_view(x, self.config.aug_rate, self.config.swap_axis, generator)
            _, hidden_fine = self._encode(fine)
            temperature = self.config.contrastive_temperature
            contrastive_terms = (nt_xent(hidden, hidden_coarse, temperature)
                                 + nt_xent(hidden, hidden_fine, temperature))
        return _TransMambaOutput(high, low, reconstruction, spectrum, real, imag, contrastive_terms)


@register
class TransMamba(ATFamilyDetector):
    """TransMamba: LVPM (time domain) + GPRM (frequency domain), spec `transmamba.md`.

    LVPM: RevIN; for each patch size p of the high and low lists, the window of every channel is cut
    into p contiguous patches of W/p points, embedded by its own circular-conv token embedding
    (+ sinusoidal positions, dropout 0.1), and one Q/K-only attention (shared by every p) gives a
    p x p map, up-sampled to W x W and averaged over channels. GPRM: rFFT of the normalised window ->
    [Re, Im] -> Linear -> one Mamba(d, 16, 4, 2) over the frequency bins -> Re/Im heads -> irFFT ->
    RevIN inverse. Training adds the NT-Xent of the bins' states against a moving-average (coarse)
    and a masked/noised/swapped (fine) view. The Mamba block is mamba-ssm's `Mamba` on a CUDA device
    where mamba_ssm imports (`mamba_backend="auto"`), else `selective_scan.Mamba`: same state dict.

    Losses: high_loss = KL(H||sg L') + KL(sg L'||H), low_loss = KL(L'||sg H) + KL(sg H||L'),
    averaged over the pairs, L' the row-normalised low map; L_T = low_loss - high_loss;
    L_F = MSE(x, x_hat) + MSE(Re X, Re_hat) + MSE(Im X, Im_hat) + NT-Xent(coarse) + NT-Xent(fine).
    The code steps two Adam optimisers over all parameters (lr and lr / 2) on L_T and L_F in turn;
    L_T reaches only LVPM parameters and L_F only GPRM ones, so here one Adam with two parameter
    groups takes one step on L_T + L_F: the same update. Both learning rates halve after every epoch.
    Score: softmax_t(-temperature * sum_u [KL_t(H||L') + KL_t(L'||H)]) + softmax_t(mean_c (x - x_hat)^2),
    both softmaxes over the positions of each window (each window's scores sum to 2).

    Code choices kept by default (a flag gives the evident intent; the paper was not available):
    * up-sampling tiles the p x p map (A[i mod p, j mod p]) although patch i covers the points
      [i W/p, (i+1) W/p): `upsampling="block"` repeats each entry over its patch instead;
    * the high maps are not row-normalised (rows sum to W/p): `normalise_high=True` normalises them;
    * the segment swap slices the channel axis (x[i, :, s:]), a no-op when s >= C:
      `swap_axis="time"` swaps the time steps from s on.
    Ambiguities decided:
    * the never-used tensors (window DataEmbedding conv, encoder LayerNorm, 5 x 76 x d temporal
      tables) are built when `build_unused_parameters`, so the count of every tensor is the
      published 111,282 for PSM; `parameter_counts()["used"]` is 82,034. The window embedding's
      fixed position table is not built (never read; `official_keys` skips it when loading).
      With p = 1 the map is the constant 1, so that embedding receives an identically zero
      gradient (counted as used);
    * the repository drops the last incomplete batch (`drop_last`); here every window is trained
      and scored, and a batch of one window has no NT-Xent negatives, so its contrastive term is 0;
    * dropout can zero a whole row of a low map that survives the channel mean when there are few
      channels (often with one); the repository's normalisation then gives NaN, here the row stays 0;
    * validation loss per window = (low - high) + L_F as the repository's early stopping sums them
      (low - high is 0 in value); its contrastive views use a generator seeded with the model seed,
      so the validation loss is deterministic. At scoring the views are not computed (unused);
    * `dropout` sets the patch-attention dropout; the patch embeddings' dropout stays 0.1 whatever
      `dropout` is, because the code passes `dropout` into DataEmbedding's `embed_type` slot;
    * the early-stopping delta 0.001 and patience 5 are recorded in `recipe` (orchestrator's).
    Precision choice (`--precision bf16`; the release runs fp32): under bf16 autocast the patch
    attention softmax, the association KL, the NT-Xent similarities and the spectrum (complex
    numbers have no bfloat16 form: the heads' real and imaginary parts are widened before the
    inverse FFT) run in float32.
    """

    name = "transmamba"
    display_name = "TransMamba"
    Config = TransMambaConfig
    recipe = TrainingRecipe(
        optimiser="Adam(lr=1e-4) on L_T and Adam(lr=5e-5) on L_F, both halved after every epoch from the 2nd on",
        patience=5, min_delta=0.001,
        monitors="vali (low - high) + L_F; a bad epoch unless it improves by more than 0.001",
        validation="the test split for PSM, MSL, SMAP and SWaT; the last 20 % of train for SMD",
        validation_split={"*": "test", "SMD": "val"},
        epochs={"PSM": 100, "MSL": 100, "SMAP": 100, "SMD": 100, "SWaT": 100},
        batch_size={"PSM": 128, "MSL": 128, "SMAP": 128, "SMD": 128, "SWaT": 128},
        train_stride={"PSM": 1, "MSL": 1, "SMAP": 1, "SMD": 1, "SWaT": 1},
        source="mash0926/TransMamba run_TransMamba.py, scripts/TransMamba/*.sh, model/TransMamba_Solver.py",
    )

    def _build_network(self) -> nn.Module:
        try:
            resolve_mamba_backend(self.config.mamba_backend, self.device)
        except RuntimeError as error:
            raise ModelConfigError(f"mamba_backend: {error}") from None
        return _TransMambaNetwork(self.n_channels, self.config, self.device)

    def _build_optimizer(self) -> Optimizer:
        frequency = self.network.frequency_parameters()
        frequency_ids = {id(p) for p in frequency}
        time = [p for p in self.network.parameters() if id(p) not in frequency_ids]
        lr_time = self.config.lr
        lr_frequency = self.config.lr * self.config.frequency_lr_scale
        return Adam([{"params": time, "lr": lr_time, "initial_lr": lr_time},
                                 {"params": frequency, "lr": lr_frequency, "initial_lr": lr_frequency}])

    @property
    def official_keys(self) -> OfficialKeyMap:
        """mash0926/TransMamba's `TransMamba.state_dict()` names -> ours. The release's DataEmbeddings
        are numbered high patches, low patches, then the window embedding, as our unused time tables;
        the window embedding's position table is not built (it is never read)."""
        n_high, n_low = (len(sizes) for sizes in self.config.patch_sizes)
        tables = {name: index for index, name in enumerate(("hour", "weekday", "day", "month"))}

        def time_table(match: "re.Match[str]") -> str:
            kind, index, name = match.groups()
            if kind is None:  # the window embedding, numbered last
                number = n_high + n_low
            else:
                number = (0 if kind == "high" else n_high) + int(index)
            return f"unused.time_tables.{number}.{tables[name]}.weight"

        return OfficialKeyMap(
            repository="mash0926/TransMamba",
            commit="b4d76ac98fbf637e3f702c6727913e4138b6b533",
            rules=(
                (r"embedding_(high|low)_patch\.(\d+)\.value_embedding\.tokenConv\.weight", r"\1_embeddings.\2.conv.weight"),
                (r"embedding_(high|low)_patch\.(\d+)\.position_embedding\.pe", r"\1_embeddings.\2.positions"),
                (r"embedding_(?:(high|low)_patch\.(\d+)|window_size)\.temporal_embedding\.(\w+)_embed\.weight", time_table),
                (r"embedding_window_size\.value_embedding\.tokenConv\.weight", r"unused.window_embedding.weight"),
                (r"tem_encoder\.temporal_attn_layers\.(\d+)\.patch_(query|key)_projection\.(weight|bias)",
                 r"temporal_layers.\1.\2_projection.\3"),
                (r"tem_encoder\.layer_norm\.(weight|bias)", r"unused.encoder_norm.\1"),
                (r"fre_encoder\.fre_embed\.(weight|bias)", r"frequency_embedding.\1"),
                (r"fre_encoder\.encoder\.(.+)", r"mamba.\1"),
                (r"fre_encoder\.get_r\.(weight|bias)", r"real_head.\1"),
                (r"fre_encoder\.get_i\.(weight|bias)", r"imag_head.\1"),
            ),
            unused=(r"embedding_window_size\..*", r".*temporal_embedding\..*", r"tem_encoder\.layer_norm\..*"),
            not_built=(r"embedding_window_size\.position_embedding\.pe",),
        )

    def _terms(self, batch: torch.Tensor, generator: torch.Generator | None = None,
               fine: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return self._terms_of(batch, self.network(batch, contrastive=True, generator=generator, fine=fine))

    @staticmethod
    def _terms_of(batch: torch.Tensor, out: _TransMambaOutput) -> dict[str, torch.Tensor]:
        high_term, low_term = stop_gradient_discrepancies(out.high, out.low)
        spectrum_error = (out.spectrum.real - out.real).pow(2) + (out.spectrum.imag - out.imag).pow(2)
        return {
            "high": high_term,
            "low": low_term,
            "reconstruction": (batch - out.reconstruction).pow(2).mean(dim=(1, 2)),
            "spectrum": spectrum_error.mean(dim=(1, 2)),
            "contrastive": out.contrastive,
        }

    def losses(self, batch: torch.Tensor, fine: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The repository's loss terms of a batch under its names (`TransMamba_Solver.train`):
        high_loss, low_loss, recon_loss_t, recon_loss_f, loss_cl, loss_T = low - high and
        loss_F = recon_loss_t + recon_loss_f + loss_cl. `fine` replays a recorded fine view."""
        terms = {key: value.mean() for key, value in self._terms(batch, fine=fine).items()}
        return {"high_loss": terms["high"], "low_loss": terms["low"], "recon_loss_t": terms["reconstruction"],
                "recon_loss_f": terms["spectrum"], "loss_cl": terms["contrastive"],
                "loss_T": terms["low"] - terms["high"],
                "loss_F": terms["reconstruction"] + terms["spectrum"] + terms["contrastive"]}

    def _objective(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        losses = self.losses(batch)
        stats = {"loss_time": losses["loss_T"], "loss_frequency": losses["loss_F"],
                 "reconstruction": losses["recon_loss_t"], "spectrum": losses["recon_loss_f"],
                 "contrastive": losses["loss_cl"], "discrepancy": losses["high_loss"]}
        return losses["loss_T"] + losses["loss_F"], {key: value.detach() for key, value in stats.items()}

    def _window_losses(self, batch: torch.Tensor) -> torch.Tensor:
        return self._loss_of(self._terms(batch, self._validation_generator()))

    def _validation_generator(self) -> torch.Generator:
        """The contrastive views' generator of a validation batch, seeded with the model seed."""
        return torch.Generator(device=self.device).manual_seed(self.seed)

    @staticmethod
    def _loss_of(terms: dict[str, torch.Tensor]) -> torch.Tensor:
        return (terms["low"] - terms["high"] + terms["reconstruction"] + terms["spectrum"]
                + terms["contrastive"])

    def _window_score_set(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        return self._scores_of(batch, self.network(batch, contrastive=False))

    def _window_scores_and_losses(self, batch: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """One forward pass for both: the validation forward (with the contrastive views) computes
        the maps and the reconstruction the score reads, before and apart from the views."""
        out = self.network(batch, contrastive=True, generator=self._validation_generator())
        return self._scores_of(batch, out), self._loss_of(self._terms_of(batch, out))

    def _scores_of(self, batch: torch.Tensor, out: _TransMambaOutput) -> dict[str, torch.Tensor]:
        association = association_scores(out.high, out.low, self.config.temperature)
        error = (batch - out.reconstruction).pow(2).mean(dim=-1)
        return {HEADLINE_SCORE: association + torch.softmax(error, dim=-1), "reconstruction": error}
