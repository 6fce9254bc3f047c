"""Anomaly Transformer (Xu et al., ICLR 2022, arXiv 2110.02642; code thuml/Anomaly-Transformer).

The common ancestor of TransMamba and STformer; the shared pieces live in `at_family.py`.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from .at_family import (ATFamilyConfig, ATFamilyDetector, AnomalyAttention, TokenEmbedding, TrainingRecipe,
                        check_choice, check_heads, scores_from_discrepancies,
                        stop_gradient_discrepancies, symmetric_discrepancies, window_loss1)
from .base import HEADLINE_SCORE, ModelConfigError
from .official import OfficialKeyMap
from .registry import register

ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu}


@dataclasses.dataclass(frozen=True)
class AnomalyTransformerConfig(ATFamilyConfig):
    """Hyperparameters; the defaults are the repository's (`solver.py`, `main.py`, `scripts/*.sh`)."""

    win_size: int = 100
    lr: float = 1e-4
    batch_size: int = 256
    d_model: int = 512
    n_heads: int = 8
    e_layers: int = 3
    d_ff: int = 512
    dropout: float = 0.0
    activation: str = "gelu"
    k: float = 3.0
    paper_scoring: bool = False

    def validate(self) -> None:
        super().validate()
        check_heads(self.d_model, self.n_heads)
        check_choice("activation", self.activation, tuple(ACTIVATIONS))
        if self.e_layers < 1 or self.d_ff < 1:
            raise ModelConfigError(f"e_layers and d_ff must be >= 1, got {self.e_layers} and {self.d_ff}")
        if not 0.0 <= self.dropout < 1.0:
            raise ModelConfigError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.k < 0:
            raise ModelConfigError(f"k (the minimax weight) must be >= 0, got {self.k}: the repository uses 3")


class _EncoderLayer(nn.Module):
    """Anomaly attention, residual + LayerNorm, pointwise-conv feed-forward, residual + LayerNorm."""

    def __init__(self, config: AnomalyTransformerConfig):
        super().__init__()
        self.attention = AnomalyAttention(config.d_model, config.n_heads, config.win_size, config.dropout,
                                          unused_norm=config.build_unused_parameters)
        self.conv1 = nn.Conv1d(config.d_model, config.d_ff, kernel_size=1)
        self.conv2 = nn.Conv1d(config.d_ff, config.d_model, kernel_size=1)
        self.norm1 = nn.LayerNorm(config.d_model)
        self.norm2 = nn.LayerNorm(config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.activation = ACTIVATIONS[config.activation]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        attended, series, prior = self.attention(x)
        x = self.norm1(x + self.dropout(attended))
        y = self.dropout(self.activation(self.conv1(x.transpose(1, 2))))
        y = self.dropout(self.conv2(y).transpose(1, 2))
        return self.norm2(x + y), series, prior


class _AnomalyTransformerNetwork(nn.Module):
    def __init__(self, n_channels: int, config: AnomalyTransformerConfig):
        super().__init__()
        self.embedding = TokenEmbedding(n_channels, config.d_model, config.win_size, config.dropout)
        self.layers = nn.ModuleList(_EncoderLayer(config) for _ in range(config.e_layers))
        self.norm = nn.LayerNorm(config.d_model)
        self.projection = nn.Linear(config.d_model, n_channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """Reconstruction [B, W, C], and per layer the series and normalised prior maps [B, H, W, W]."""
        hidden = self.embedding(x)
        series_maps, prior_maps = [], []
        for layer in self.layers:
            hidden, series, prior = layer(hidden)
            series_maps.append(series)
            prior_maps.append(prior)
        return self.projection(self.norm(hidden)), series_maps, prior_maps


@register
class AnomalyTransformer(ATFamilyDetector):
    """Anomaly Transformer: reconstruction by a Transformer whose attention also yields a learnable
    Gaussian "prior" association; the discrepancy between prior and series associations, trained
    by minimax, weights the reconstruction error.

    Losses (AT `solver.py`): series = mean_layers [KL(S||sg P) + KL(sg P||S)], prior = the same with
    the stop-gradient on S; loss1 = rec - k series, loss2 = rec + k prior, k = 3; both are
    backpropagated before one Adam step (here one backward of loss1 + loss2, the same gradients).
    Score: softmax_t(-temperature * sum_layers [KL_t(S||P) + KL_t(P||S)]) * mean_c (x - x_hat)^2,
    the softmax running over the positions of each window (as in the repository); windows are
    non-overlapping at scoring (`score_stride` 0), the tail covered by the base class.

    Choices where the code departs from the paper (default = code):
    * scoring: the code multiplies the discrepancy by a hard-coded 50 and sums it over layers, and
      averages the squared error over channels; the paper's eq. 6 has no temperature, averages
      over layers and uses the squared L2 norm over channels. `paper_scoring=True` averages over
      layers and sums over channels; set `temperature=1` as well for the paper's formula.
    * rec enters both loss1 and loss2, so its gradient counts twice (kept).
    Ambiguities decided:
    * the AttentionLayer's LayerNorm `norm` is created and never applied: built only when
      `build_unused_parameters` (the count of every tensor), it never gets a gradient;
    * validation loss per window = loss1 = rec - k series, what the repository reports as
      "Vali Loss"; its early stopping also watches loss2 = rec + k prior (an "either fails" rule
      that a single scalar cannot express: numerically loss2 = 2 rec - loss1 in eval mode);
    * learning rate lr0 * 0.5 ** (e - 1) after epoch e (epochs 1 and 2 at lr0), as `adjust_learning_rate`.
    Precision choice (`--precision bf16`, not in the release, which runs fp32): under bf16 autocast
    the attention softmax, the Gaussian prior (from its sigma on) and the association KL are
    computed in float32 (`at_family`): in bfloat16, sigma = 3 ** (sigmoid(5 s) + 1e-5) - 1 rounds to
    0 for strongly negative s and the prior becomes 0 / 0 (loss1 turned NaN in the tiny GPU check),
    and p + 1e-4 inside the KL's logarithms cannot be told apart from p near 1.
    """

    name = "anomaly_transformer"
    display_name = "Anomaly Transformer"
    Config = AnomalyTransformerConfig
    recipe = TrainingRecipe(
        optimiser="Adam(lr=1e-4), lr halved after every epoch from the second on",
        patience=3, min_delta=0.0,
        monitors="stop when either vali loss1 (rec - k*series) or loss2 (rec + k*prior) fails to improve",
        validation="the test split (solver.py calls vali(self.test_loader))",
        validation_split={"*": "test"},
        epochs={"SMD": 10, "MSL": 3, "SMAP": 3, "PSM": 3},
        batch_size={"SMD": 256, "MSL": 256, "SMAP": 256, "PSM": 256},
        train_stride={"SMD": 100, "MSL": 1, "SMAP": 1, "PSM": 1},
        source="thuml/Anomaly-Transformer scripts/*.sh, solver.py, data_factory/data_loader.py",
    )

    #: thuml/Anomaly-Transformer's `AnomalyTransformer.state_dict()` names -> ours.
    official_keys = OfficialKeyMap(
        repository="thuml/Anomaly-Transformer",
        commit="b0ee470c8012bff857fb600462aec6209c4a18d9",
        rules=(
            (r"embedding\.value_embedding\.tokenConv\.weight", r"embedding.conv.weight"),
            (r"embedding\.position_embedding\.pe", r"embedding.positions"),
            (r"encoder\.attn_layers\.(\d+)\.attention\.norm\.(weight|bias)", r"layers.\1.attention.unused_norm.\2"),
            (r"encoder\.attn_layers\.(\d+)\.attention\.(\w+_projection)\.(weight|bias)", r"layers.\1.attention.\2.\3"),
            (r"encoder\.attn_layers\.(\d+)\.(conv1|conv2|norm1|norm2)\.(weight|bias)", r"layers.\1.\2.\3"),
            (r"encoder\.norm\.(weight|bias)", r"norm.\1"),
            (r"projection\.(weight|bias)", r"projection.\1"),
        ),
        unused=(r"encoder\.attn_layers\.\d+\.attention\.norm\..*",),
    )

    def _build_network(self) -> nn.Module:
        return _AnomalyTransformerNetwork(self.n_channels, self.config)

    def _terms(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        reconstruction, series, prior = self.network(batch)
        series_term, prior_term = stop_gradient_discrepancies(series, prior)
        return {"reconstruction": (reconstruction - batch).pow(2).mean(dim=(1, 2)),
                "series": series_term, "prior": prior_term}

    def losses(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """The repository's loss terms of a batch under its names (`solver.py`): rec_loss,
        series_loss, prior_loss, loss1 = rec - k series, loss2 = rec + k prior."""
        terms = {key: value.mean() for key, value in self._terms(batch).items()}
        return {"rec_loss": terms["reconstruction"], "series_loss": terms["series"], "prior_loss": terms["prior"],
                "loss1": terms["reconstruction"] - self.config.k * terms["series"],
                "loss2": terms["reconstruction"] + self.config.k * terms["prior"]}

    def _objective(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        losses = self.losses(batch)
        stats = {"loss1": losses["loss1"], "loss2": losses["loss2"], "reconstruction": losses["rec_loss"],
                 "discrepancy": losses["series_loss"]}
        return losses["loss1"] + losses["loss2"], {key: value.detach() for key, value in stats.items()}

    def _window_losses(self, batch: torch.Tensor) -> torch.Tensor:
        """loss1 of each window from the symmetric KLs: the series term's value, bit for bit, with
        half the logarithms of `_terms` (no gradient routing: validation only)."""
        reconstruction, series, prior = self.network(batch)
        return window_loss1(batch, reconstruction, symmetric_discrepancies(series, prior), self.config.k)

    def _window_score_set(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        reconstruction, series, prior = self.network(batch)
        return self._scores(batch, reconstruction, symmetric_discrepancies(series, prior))

    def _window_scores_and_losses(self, batch: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """One forward pass and one set of KL terms for the scores and loss1 (its series term is,
        in value, the layers' mean of the same symmetric KLs the score sums)."""
        reconstruction, series, prior = self.network(batch)
        discrepancies = symmetric_discrepancies(series, prior)
        loss = window_loss1(batch, reconstruction, discrepancies, self.config.k)
        return self._scores(batch, reconstruction, discrepancies), loss

    def _scores(self, batch: torch.Tensor, reconstruction: torch.Tensor,
                discrepancies: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        squared = (batch - reconstruction).pow(2)
        if self.config.paper_scoring:
            error = squared.sum(dim=-1)
            return {HEADLINE_SCORE: scores_from_discrepancies(discrepancies, self.config.temperature, "mean") * error,
                    "reconstruction": error}
        error = squared.mean(dim=-1)
        return {HEADLINE_SCORE: scores_from_discrepancies(discrepancies, self.config.temperature, "sum") * error,
                "reconstruction": error}
