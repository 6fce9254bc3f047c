"""STformer: an Anomaly-Transformer clone with a spatio-temporal (channel x patch) attention backbone.

Source: ZhengyuLee/STformer @ a32f934 (`model/STformer.py`, `model/Attentions.py`, `model/embed.py`,
`solver.py`, `Executable.sh`); spec `../shared/specs/models/stformer.md`. The paper text was not
available; its figure (`pics/key.png`) is the only paper-side source of the one flag that differs.
"""
from __future__ import annotations

import dataclasses
import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from .at_family import (ATFamilyConfig, ATFamilyDetector, AnomalyAttention, TokenEmbedding, TrainingRecipe,
                        check_choice, check_heads, scores_from_discrepancies, sinusoidal_positions,
                        stop_gradient_discrepancies, symmetric_discrepancies, window_loss1)
from .base import HEADLINE_SCORE, ModelConfigError, widen_half
from .official import OfficialKeyMap
from .registry import register

COMBINATIONS = ("matmul", "elementwise")
_LAYER = r"encoder\.encode_blocks\.(\d+)\.encode_layers\.0\."  # a layer in the release's state dict
HEAD_LAYOUTS = ("view", "permute")


@dataclasses.dataclass(frozen=True)
class STformerConfig(ATFamilyConfig):
    """Hyperparameters; defaults are `main.py`'s and the PSM line of `Executable.sh`.

    patch_len: the patch (segment) length, hard-coded 12 in the code. factor only sizes the
    never-used router. combination / head_layout: see the class docstring.
    """

    win_size: int = 100
    lr: float = 1e-4
    batch_size: int = 128
    d_model: int = 128
    d_ff: int = 128
    n_heads: int = 8
    e_layers: int = 3
    dropout: float = 0.1
    patch_len: int = 12
    factor: int = 1
    k: float = 3.0
    combination: str = "matmul"
    head_layout: str = "view"

    def validate(self) -> None:
        super().validate()
        check_heads(self.d_model, self.n_heads)
        check_choice("combination", self.combination, COMBINATIONS)
        check_choice("head_layout", self.head_layout, HEAD_LAYOUTS)
        if self.e_layers < 1 or self.d_ff < 1 or self.factor < 1 or not 1 <= self.patch_len <= self.win_size:
            raise ModelConfigError(
                f"need e_layers, d_ff, factor >= 1 and 1 <= patch_len <= win_size, got e_layers={self.e_layers}, "
                f"d_ff={self.d_ff}, factor={self.factor}, patch_len={self.patch_len}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ModelConfigError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.k < 0:
            raise ModelConfigError(f"k (the minimax weight) must be >= 0, got {self.k}: the repository uses 3")


def dependency_map(tokens: torch.Tensor) -> torch.Tensor:
    """The "CorFun" map M0 = c c^T of [B, N, d] tokens, without gradient: [B, N, N].

    mu and sigma are the mean and population std of the tokens per feature; c_n = sum_k Z_nk mu_k
    with Z = (T - mu) / sigma, i.e. each token's correlation with the mean token (numpy in the code).
    """
    tokens = tokens.detach()
    mean = tokens.mean(dim=1)
    standardised = (tokens - mean[:, None]) / tokens.std(dim=1, correction=0)[:, None]
    correlation = torch.einsum("bnk,bk->bn", standardised, mean)
    return correlation[:, :, None] * correlation[:, None, :]


class _SpatioTemporalAttention(nn.Module):
    """Full attention over the D x S tokens whose scores are combined with the gated map
    M_ijh = M0_ij * lambda_jh, lambda = Linear(d -> H)(tokens) (the only part of M with a gradient)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float, combination: str, head_layout: str):
        super().__init__()
        self.n_heads, self.combination, self.head_layout = n_heads, combination, head_layout
        self.query_projection = nn.Linear(d_model, d_model)
        self.key_projection = nn.Linear(d_model, d_model)
        self.value_projection = nn.Linear(d_model, d_model)
        self.out_projection = nn.Linear(d_model, d_model)
        self.lambda_projection = nn.Linear(d_model, n_heads)
        self.dropout = nn.Dropout(dropout)

    def gated_map(self, tokens: torch.Tensor) -> torch.Tensor:
        """M as [B, H, N, N] under the configured head layout."""
        batch, n_tokens, _ = tokens.shape
        gated = dependency_map(tokens)[..., None] * self.lambda_projection(tokens)[:, None]  # [B, N, N, H]
        if self.head_layout == "view":
            return gated.reshape(batch, self.n_heads, n_tokens, n_tokens)  # the code's `view`: memory reread
        return gated.permute(0, 3, 1, 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        batch, n_tokens, _ = tokens.shape
        queries = self.query_projection(tokens).view(batch, n_tokens, self.n_heads, -1)
        keys = self.key_projection(tokens).view(batch, n_tokens, self.n_heads, -1)
        values = self.value_projection(tokens).view(batch, n_tokens, self.n_heads, -1)
        scores = torch.einsum("blhe,bshe->bhls", queries, keys)
        gated = self.gated_map(tokens)
        scores = scores @ gated if self.combination == "matmul" else scores * gated
        attention = self.dropout(torch.softmax(widen_half(scores) / math.sqrt(queries.shape[-1]), dim=-1))
        output = torch.einsum("bhls,bshe->blhe", attention, values).reshape(batch, n_tokens, -1)
        return self.out_projection(output)


def _attention_projections(d_model: int) -> nn.ModuleDict:
    return nn.ModuleDict({name: nn.Linear(d_model, d_model) for name in ("query", "key", "value", "out")})


class _UnusedLayerParameters(nn.Module):
    """Tensors each released CrissCrossAttentionLayer creates and never uses: the time attention,
    the router stage (dim_sender, dim_receiver, router), MLP2, norm3, norm4 and Merge."""

    def __init__(self, d_model: int, d_ff: int, n_segments: int, factor: int, n_channels: int):
        super().__init__()
        self.time_attention = _attention_projections(d_model)
        self.dim_sender = _attention_projections(d_model)
        self.dim_receiver = _attention_projections(d_model)
        self.router = nn.Parameter(torch.randn(n_segments, factor, d_model))
        self.norm3 = nn.LayerNorm(d_model)
        self.norm4 = nn.LayerNorm(d_model)
        self.mlp2 = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        with warnings.catch_warnings():  # one channel gives Merge an empty weight, as in the release
            warnings.simplefilter("ignore", UserWarning)
            self.merge = nn.Linear(n_channels - 1, 1)


class _STLayer(nn.Module):
    def __init__(self, n_channels: int, n_segments: int, config: STformerConfig):
        super().__init__()
        d = config.d_model
        self.spatio_temporal = _SpatioTemporalAttention(d, config.n_heads, config.dropout, config.combination,
                                                        config.head_layout)
        self.anomaly_attention = AnomalyAttention(d, config.n_heads, config.win_size, config.dropout,
                                                  with_values=config.build_unused_parameters,
                                                  unused_norm=config.build_unused_parameters)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.feed_forward = nn.Sequential(nn.Linear(d, config.d_ff), nn.GELU(), nn.Linear(config.d_ff, d))
        self.dropout = nn.Dropout(config.dropout)
        if config.build_unused_parameters:
            self.unused = _UnusedLayerParameters(d, config.d_ff, n_segments, config.factor, n_channels)

    def forward(self, x: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, channels, segments, d = x.shape
        tokens = x.reshape(batch, channels * segments, d)
        attended = self.spatio_temporal(tokens)
        series, prior = self.anomaly_attention.associations(points)
        tokens = self.norm1(tokens + self.dropout(attended))
        tokens = self.norm2(tokens + self.dropout(self.feed_forward(tokens)))
        return tokens.reshape(batch, channels, segments, d), series, prior


class _STformerNetwork(nn.Module):
    def __init__(self, n_channels: int, config: STformerConfig):
        super().__init__()
        self.patch_len = config.patch_len
        self.n_segments = math.ceil(config.win_size / config.patch_len)
        self.padding = self.n_segments * config.patch_len - config.win_size
        d = config.d_model
        self.point_embedding = TokenEmbedding(n_channels, d, config.win_size, dropout=0.0)
        self.patch_embedding = nn.Linear(config.patch_len, d, bias=False)
        self.register_buffer("patch_positions", sinusoidal_positions(self.n_segments, d), persistent=False)
        self.position = nn.Parameter(torch.randn(1, n_channels, self.n_segments, d))
        self.pre_norm = nn.LayerNorm(d)
        self.layers = nn.ModuleList(_STLayer(n_channels, self.n_segments, config) for _ in range(config.e_layers))
        self.head = nn.Linear(d * self.n_segments, config.win_size)
        self.head_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        """Reconstruction [B, W, C], series and prior maps per layer, embedding loss per window [B]."""
        points = self.point_embedding(x)
        series = x.transpose(1, 2)
        if self.padding:
            series = F.pad(series, (0, self.padding), mode="replicate")
        patches = series.unfold(-1, self.patch_len, self.patch_len)  # [B, C, S, patch_len]
        first = self.pre_norm(self.patch_embedding(patches) + self.patch_positions + self.position)
        hidden, series_maps, prior_maps = first, [], []
        for layer in self.layers:
            hidden, series_map, prior_map = layer(hidden, points)
            series_maps.append(series_map)
            prior_maps.append(prior_map)
        embedding_loss = (first - hidden).pow(2).mean(dim=(1, 2, 3))
        flat = hidden.transpose(2, 3).flatten(start_dim=2)  # [B, C, d * S], d-major as the code's FlattenHead
        reconstruction = self.head_dropout(self.head(flat)).transpose(1, 2)
        return reconstruction, series_maps, prior_maps, embedding_loss


@register
class STformer(ATFamilyDetector):
    """STformer: tokens are the D channels x S patches of 12 points (replication-padded), a
    Linear(12 -> d) embedding + sinusoidal patch positions + a learnable [D, S, d] position, then
    LayerNorm. Each of 3 layers runs full attention over all D*S tokens with the score matrix
    combined with a no-grad token-correlation map gated per head, residual + LayerNorm + GELU MLP +
    LayerNorm; and AT's anomaly attention on the fixed point embedding (circular conv of the raw
    window), which yields the series and prior maps. A flatten head Linear(S d -> W), shared across
    channels, reconstructs the window.

    Losses (`solver.py`): AT's minimax (k = 3) plus loss_emb = MSE(first tokens, last tokens);
    loss_emb, loss1 and loss2 are each backpropagated before one Adam step (here one backward of
    their sum: the same gradients). Score: AT's, softmax_t(-temperature * AssDis) * mean_c err^2.

    Code choices kept by default:
    * the scores are post-multiplied by the map as a matrix product (S M); the README figure says
      element-wise: `combination="elementwise"` gives S * M;
    * the [B, N, N, H] gated map is re-read as [B, H, N, N] by `view`, mixing heads and positions:
      `head_layout="permute"` moves the head axis instead.
    Ambiguities decided:
    * the correlation map runs in torch (population std, as numpy's default) with no gradient;
    * the anomaly branch's value/output projections are computed and discarded by the code; here
      they are built (with `build_unused_parameters`, like the router stage, MLP2, norm3/4, Merge
      and the anomaly LayerNorm) but never run: 1,357,919 parameter elements for D = 25, of which
      559,508 are used; the zero-size decoder position table (pred_len 0) is not built;
    * validation loss per window = loss1 = rec - k series, as in `vali` (which leaves out loss_emb);
      the repository stops when either vali loss1 or loss2 fails to improve (patience 3);
    * the threshold sweep over ratios in [0, 3] % (the repository's oracle protocol) and the SMD
      stride-100 windows are the orchestrator's (`recipe`).
    Precision choice (`--precision bf16`; the release runs fp32): the attention softmaxes, the prior
    and the association KL stay float32 under bf16 autocast, as for Anomaly Transformer (`at_family`).
    """

    name = "stformer"
    display_name = "STformer"
    Config = STformerConfig
    recipe = TrainingRecipe(
        optimiser="Adam(lr=1e-4), lr halved after every epoch from the second on",
        patience=3, min_delta=0.0,
        monitors="stop when either vali loss1 (rec - k*series) or loss2 (rec + k*prior) fails to improve",
        validation="the test split (solver.py calls vali(self.test_loader))",
        validation_split={"*": "test"},
        epochs={"SMD": 10, "PSM": 3, "MSL": 3, "SMAP": 3},
        batch_size={"SMD": 96, "PSM": 128, "MSL": 64, "SMAP": 80},
        train_stride={"SMD": 100, "PSM": 1, "MSL": 1, "SMAP": 1},
        source="ZhengyuLee/STformer Executable.sh, solver.py, data_factory/data_loader.py (AT's loader)",
    )

    #: ZhengyuLee/STformer's `STformer.state_dict()` names -> ours (encode_blocks.i.encode_layers.0
    #: is our layers.i; the zero-size `dec_pos_embedding` of pred_len 0 is not built).
    official_keys = OfficialKeyMap(
        repository="ZhengyuLee/STformer",
        commit="a32f93401ea16f8857b86640496e60a4f9cf8128",
        rules=(
            (r"enc_pos_embedding", r"position"),
            (r"enc_value_embedding\.value_embedding\.weight", r"patch_embedding.weight"),
            (r"enc_value_embedding\.position_embedding\.pe", r"patch_positions"),
            (r"pre_norm\.(weight|bias)", r"pre_norm.\1"),
            (r"embedding\.value_embedding\.tokenConv\.weight", r"point_embedding.conv.weight"),
            (r"embedding\.position_embedding\.pe", r"point_embedding.positions"),
            (_LAYER + r"criss_attention\.(\w+_projection)\.(weight|bias)", r"layers.\1.spatio_temporal.\2.\3"),
            (_LAYER + r"lamda_projection\.(weight|bias)", r"layers.\1.spatio_temporal.lambda_projection.\2"),
            (_LAYER + r"anomaly_attention\.norm\.(weight|bias)", r"layers.\1.anomaly_attention.unused_norm.\2"),
            (_LAYER + r"anomaly_attention\.(\w+_projection)\.(weight|bias)", r"layers.\1.anomaly_attention.\2.\3"),
            (_LAYER + r"(norm1|norm2)\.(weight|bias)", r"layers.\1.\2.\3"),
            (_LAYER + r"MLP1\.(\d)\.(weight|bias)", r"layers.\1.feed_forward.\2.\3"),
            (_LAYER + r"(time_attention|dim_sender|dim_receiver)\.(\w+)_projection\.(weight|bias)",
             r"layers.\1.unused.\2.\3.\4"),
            (_LAYER + r"(router|norm3\.weight|norm3\.bias|norm4\.weight|norm4\.bias)", r"layers.\1.unused.\2"),
            (_LAYER + r"MLP2\.(\d)\.(weight|bias)", r"layers.\1.unused.mlp2.\2.\3"),
            (_LAYER + r"Merge\.(weight|bias)", r"layers.\1.unused.merge.\2"),
            (r"head\.linear\.(weight|bias)", r"head.\1"),
        ),
        unused=(_LAYER + r"(time_attention|dim_sender|dim_receiver|router|norm3|norm4|MLP2|Merge).*",
                _LAYER + r"anomaly_attention\.(norm|value_projection|out_projection)\..*"),
        not_built=(r"dec_pos_embedding",),
    )

    def _build_network(self) -> nn.Module:
        return _STformerNetwork(self.n_channels, self.config)

    def _terms(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        reconstruction, series, prior, embedding = self.network(batch)
        series_term, prior_term = stop_gradient_discrepancies(series, prior)
        return {"reconstruction": (reconstruction - batch).pow(2).mean(dim=(1, 2)),
                "series": series_term, "prior": prior_term, "embedding": embedding}

    def losses(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """The repository's loss terms of a batch under its names (`solver.py`): rec_loss,
        series_loss, prior_loss, loss_emb, loss1 = rec - k series, loss2 = rec + k prior."""
        terms = {key: value.mean() for key, value in self._terms(batch).items()}
        return {"rec_loss": terms["reconstruction"], "series_loss": terms["series"], "prior_loss": terms["prior"],
                "loss_emb": terms["embedding"],
                "loss1": terms["reconstruction"] - self.config.k * terms["series"],
                "loss2": terms["reconstruction"] + self.config.k * terms["prior"]}

    def _objective(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        losses = self.losses(batch)
        stats = {"loss1": losses["loss1"], "loss2": losses["loss2"], "reconstruction": losses["rec_loss"],
                 "discrepancy": losses["series_loss"], "embedding": losses["loss_emb"]}
        return (losses["loss_emb"] + losses["loss1"] + losses["loss2"],
                {key: value.detach() for key, value in stats.items()})

    def _window_losses(self, batch: torch.Tensor) -> torch.Tensor:
        """loss1 of each window from the symmetric KLs: the series term's value, bit for bit, with
        half the logarithms of `_terms` (no gradient routing: validation only)."""
        reconstruction, series, prior, _ = self.network(batch)
        return window_loss1(batch, reconstruction, symmetric_discrepancies(series, prior), self.config.k)

    def _window_score_set(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        reconstruction, series, prior, _ = self.network(batch)
        return self._scores(batch, reconstruction, symmetric_discrepancies(series, prior))

    def _window_scores_and_losses(self, batch: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """One forward pass and one set of KL terms for the scores and loss1 (as AT's)."""
        reconstruction, series, prior, _ = self.network(batch)
        discrepancies = symmetric_discrepancies(series, prior)
        loss = window_loss1(batch, reconstruction, discrepancies, self.config.k)
        return self._scores(batch, reconstruction, discrepancies), loss

    def _scores(self, batch: torch.Tensor, reconstruction: torch.Tensor,
                discrepancies: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        error = (batch - reconstruction).pow(2).mean(dim=-1)
        return {HEADLINE_SCORE: scores_from_discrepancies(discrepancies, self.config.temperature) * error,
                "reconstruction": error}
