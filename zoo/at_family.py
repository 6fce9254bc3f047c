"""Machinery shared by the Anomaly-Transformer family: Anomaly Transformer, TransMamba, STformer.

Source: Xu et al., "Anomaly Transformer: Time Series Anomaly Detection with Association
Discrepancy", ICLR 2022 (arXiv 2110.02642), code thuml/Anomaly-Transformer (`solver.py`,
`model/attn.py`, `model/embed.py`). TransMamba (mash0926/TransMamba @ b4d76ac) and STformer
(ZhengyuLee/STformer @ a32f934) reuse its solver; the per-model specs are in
`../shared/specs/models/`.

What lives here:
* the association discrepancy: the row-wise KL with 1e-4 inside both logarithms, averaged over heads;
* the minimax terms with their stop-gradients (`stop_gradient_discrepancies`);
* the score `softmax_t(-temperature * sum_layers [KL_t(a||b) + KL_t(b||a)])`, computed over the
  positions of each window (as every AT repository does), temperature 50 by default;
* AT's circular-conv token embedding with sinusoidal positions, and its anomaly attention;
* without a gradient on the CPU (validation losses and scores), the prior and the discrepancies
  computed block by block of windows (`cache_blocks.py`): the same floats, in a fifth less time
  for Anomaly Transformer's evaluation pass at its repository config;
* precision under bf16 autocast (`--precision bf16`): attention softmaxes, the Gaussian prior and
  the association KL (hence the discrepancy, its stop-gradient terms and the score's softmax) run in
  float32; the projections, convolutions and feed-forward layers run in bfloat16;
* `ATFamilyDetector`: the common solver (one optimiser step per batch on the model's objective,
  the learning rate halved after every epoch, the two parameter counts) with its `TrainingRecipe`
  (`base.py`), the parts of each repository's recipe that belong to the orchestrator (patience, epochs).
"""
from __future__ import annotations

import dataclasses
import math
from abc import abstractmethod
from typing import Any, Callable, ClassVar, Sequence

import numpy as np
import torch
from torch import nn

from .base import HEADLINE_SCORE, ModelConfigError, TorchWindowConfig, TorchWindowDetector, TrainingRecipe, widen_half
from .cache_blocks import evaluates_in_blocks, underflow_skipping_exp, window_blocks
from .optim import Adam, Optimizer

KL_EPSILON = 1e-4  # added inside both logarithms (AT solver.py `my_kl_loss`)
DEFAULT_TEMPERATURE = 50.0  # hard-coded at test time in all three repositories


def row_kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(p||q) of every row of [B, H, L, L] association maps, averaged over heads: [B, L]; in at
    least float32 under bf16 autocast (bf16 cannot hold 1 - 1e-4 apart from 1)."""
    p, q = widen_half(p), widen_half(q)
    return (p * (torch.log(p + KL_EPSILON) - torch.log(q + KL_EPSILON))).sum(dim=-1).mean(dim=1)


def normalise_rows(maps: torch.Tensor) -> torch.Tensor:
    """Rescale the last axis to sum to 1 (AT's prior and TransMamba's low maps).

    A row of zeros stays zeros instead of becoming NaN as in the repositories (TransMamba: dropout
    can zero a whole attention row, which survives the channel mean when there are few channels).
    """
    totals = maps.sum(dim=-1, keepdim=True)
    return maps / torch.where(totals > 0, totals, torch.ones_like(totals))


def stop_gradient_discrepancies(a_maps: Sequence[torch.Tensor],
                                b_maps: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The minimax terms of paired association maps, per window ([B] each), averaged over pairs.

    a_term = mean_u [KL(a_u || sg b_u) + KL(sg b_u || a_u)]: its gradient reaches only the a maps;
    b_term = mean_u [KL(b_u || sg a_u) + KL(sg a_u || b_u)]: its gradient reaches only the b maps.
    AT/STformer: a = series, b = prior (loss1 = rec - k a_term, loss2 = rec + k b_term); TransMamba:
    a = high, b = low (L_T = b_term - a_term). Rows are averaged, as the repositories' `torch.mean`.
    """
    if len(a_maps) != len(b_maps) or not a_maps:
        raise ValueError(f"need equally many maps on both sides, got {len(a_maps)} and {len(b_maps)}")
    a_terms, b_terms = [], []
    for a, b in zip(a_maps, b_maps):
        a_fixed, b_fixed = a.detach(), b.detach()
        a_terms.append((row_kl(a, b_fixed) + row_kl(b_fixed, a)).mean(dim=-1))
        b_terms.append((row_kl(b, a_fixed) + row_kl(a_fixed, b)).mean(dim=-1))
    return torch.stack(a_terms).mean(dim=0), torch.stack(b_terms).mean(dim=0)


def symmetric_discrepancies(a_maps: Sequence[torch.Tensor], b_maps: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """KL_t(a||b) + KL_t(b||a) of every pair of maps, [B, L] each: what both the score and (in
    value) the minimax terms are made of, so an evaluation pass computes it once.

    Bit for bit `row_kl(a, b) + row_kl(b, a)` at half its cost: each logarithm is taken once, and
    KL(b||a) is the negated sum of b * (log a - log b) (IEEE negation is exact, so the terms are
    the same floats); in at least float32 under bf16 autocast, as `row_kl`. Without a gradient on
    the CPU, block by block of windows (`cache_blocks.py`; the same floats, a quarter of the time)."""
    pairs = []
    for a, b in zip(a_maps, b_maps):
        a, b = widen_half(a), widen_half(b)
        if not evaluates_in_blocks(a, b):
            pairs.append(_symmetric_kl(a, b))
            continue
        pair = a.new_empty(a.shape[0], a.shape[2])
        for block in window_blocks(a.shape[0], a[0].numel() * a.element_size()):
            pair[block] = _symmetric_kl(a[block], b[block])
        pairs.append(pair)
    return pairs


def _symmetric_kl(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    log_ratio = torch.log(a + KL_EPSILON) - torch.log(b + KL_EPSILON)
    return (a * log_ratio).sum(dim=-1).mean(dim=1) - (b * log_ratio).sum(dim=-1).mean(dim=1)


def discrepancy_term(discrepancies: Sequence[torch.Tensor]) -> torch.Tensor:
    """The value of either minimax term of `stop_gradient_discrepancies` ([B]: rows averaged, then
    pairs) from `symmetric_discrepancies`; no gradient routing, for evaluation."""
    return torch.stack([pair.mean(dim=-1) for pair in discrepancies]).mean(dim=0)


def window_loss1(batch: torch.Tensor, reconstruction: torch.Tensor, discrepancies: Sequence[torch.Tensor],
                 k: float) -> torch.Tensor:
    """AT's loss1 = reconstruction MSE - k * series term of each window ([B]), the series term's value
    taken from `symmetric_discrepancies` (`discrepancy_term`); for evaluation, no gradient routing."""
    return (reconstruction - batch).pow(2).mean(dim=(1, 2)) - k * discrepancy_term(discrepancies)


def association_scores(a_maps: Sequence[torch.Tensor], b_maps: Sequence[torch.Tensor],
                       temperature: float, layer_reduction: str = "sum") -> torch.Tensor:
    """softmax over window positions of -temperature * AssDis, where AssDis_t is
    sum (or mean) over the pairs of KL_t(a||b) + KL_t(b||a): [B, L], each row sums to 1.

    The repositories sum over layers and use temperature 50; the AT paper (eq. 6) averages over
    layers with no temperature, i.e. layer_reduction="mean", temperature=1.
    """
    return scores_from_discrepancies(symmetric_discrepancies(a_maps, b_maps), temperature, layer_reduction)


def scores_from_discrepancies(discrepancies: Sequence[torch.Tensor], temperature: float,
                              layer_reduction: str = "sum") -> torch.Tensor:
    """`association_scores` from the pairs' `symmetric_discrepancies`."""
    discrepancy = sum(discrepancies)
    if layer_reduction == "mean":
        discrepancy = discrepancy / len(discrepancies)
    elif layer_reduction != "sum":
        raise ValueError(f"layer_reduction must be 'sum' or 'mean', got {layer_reduction!r}")
    return torch.softmax(-temperature * discrepancy, dim=-1)


def halved_learning_rate(initial_lr: float, epochs_completed: int) -> float:
    """AT's schedule (`adjust_learning_rate(optimizer, epoch + 1, lr)` after every epoch):
    lr = lr0 * 0.5 ** (epochs_completed - 1), so epochs 1 and 2 run at lr0, epoch 3 at lr0 / 2."""
    return initial_lr * 0.5 ** max(epochs_completed - 1, 0)


def sinusoidal_positions(length: int, d_model: int) -> torch.Tensor:
    """The Transformer's fixed position table [length, d_model] (sin on even, cos on odd columns)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * -(math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: d_model // 2])
    return table


def gaussian_density(distances: torch.Tensor, sigma: torch.Tensor,
                     exp: Callable[[torch.Tensor], torch.Tensor] = torch.exp) -> torch.Tensor:
    """N(distance; 0, sigma) for every row's sigma [..., L, 1] and the distances [L, L], in the
    release's order of operations."""
    return exp(-distances ** 2 / 2 / sigma ** 2) / (math.sqrt(2 * math.pi) * sigma)


def normalised_prior(distances: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """The row-normalised Gaussian prior [B, H, L, L]. Without a gradient on the CPU it is computed
    block by block of windows with `underflow_skipping_exp` (`cache_blocks.py`): the same floats in
    less than half the time."""
    if not evaluates_in_blocks(sigma):
        return normalise_rows(gaussian_density(distances, sigma))
    batch, heads, length, _ = sigma.shape
    prior = sigma.new_empty(batch, heads, length, distances.shape[-1])
    for block in window_blocks(batch, prior[0].numel() * prior.element_size()):
        prior[block] = normalise_rows(gaussian_density(distances, sigma[block], exp=underflow_skipping_exp))
    return prior


class TokenEmbedding(nn.Module):
    """AT's `DataEmbedding`: circular Conv1d(k=3, no bias, Kaiming-normal fan_in/leaky_relu) over
    the token axis, plus fixed sinusoidal positions, then dropout. [N, L, c_in] -> [N, L, d_model]."""

    def __init__(self, c_in: int, d_model: int, max_length: int, dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(c_in, d_model, kernel_size=3, padding=1, padding_mode="circular", bias=False)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_in", nonlinearity="leaky_relu")
        self.register_buffer("positions", sinusoidal_positions(max_length, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        embedded = self.conv(tokens.transpose(1, 2)).transpose(1, 2)
        return self.dropout(embedded + self.positions[: tokens.shape[1]])


class AnomalyAttention(nn.Module):
    """AT's anomaly attention over a window of `win_size` tokens (`model/attn.py`).

    series = dropout(softmax(Q K^T / sqrt(E))); prior_ij = N(|i - j|; 0, sigma_i) with
    sigma = 3 ** (sigmoid(5 s) + 1e-5) - 1, s = Linear(d -> H)(x), then rows rescaled to sum to 1
    (the repositories rescale in the loss; the result is the same). `forward` also returns the
    attention output (AT); `associations` returns only the two maps (STformer discards the output).
    `with_values` builds the value/output projections; `unused_norm` builds the LayerNorm that the
    released AttentionLayer creates and never applies (kept only for the published parameter count).
    """

    def __init__(self, d_model: int, n_heads: int, win_size: int, dropout: float, *,
                 with_values: bool = True, unused_norm: bool = False):
        super().__init__()
        self.n_heads = n_heads
        head_dim = d_model // n_heads
        self.query_projection = nn.Linear(d_model, head_dim * n_heads)
        self.key_projection = nn.Linear(d_model, head_dim * n_heads)
        if with_values:
            self.value_projection = nn.Linear(d_model, head_dim * n_heads)
        self.sigma_projection = nn.Linear(d_model, n_heads)
        if with_values:
            self.out_projection = nn.Linear(head_dim * n_heads, d_model)
        if unused_norm:
            self.unused_norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        index = torch.arange(win_size, dtype=torch.float32)
        self.register_buffer("distances", (index[:, None] - index[None, :]).abs(), persistent=False)

    def associations(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(series, row-normalised prior), each [B, H, L, L]."""
        batch, length, _ = x.shape
        queries = self.query_projection(x).view(batch, length, self.n_heads, -1)
        keys = self.key_projection(x).view(batch, length, self.n_heads, -1)
        scores = torch.einsum("blhe,bshe->bhls", queries, keys) / math.sqrt(queries.shape[-1])
        series = self.dropout(torch.softmax(widen_half(scores), dim=-1))
        return series, normalised_prior(self.distances, self.sigma(x))

    def sigma(self, x: torch.Tensor) -> torch.Tensor:
        """The prior's scale of every head and position, [B, H, L, 1]."""
        sigma = torch.sigmoid(5 * widen_half(self.sigma_projection(x)).transpose(1, 2)) + 1e-5
        return (torch.pow(3, sigma) - 1).unsqueeze(-1)

    def gaussian_prior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(sigma [B, H, L, 1], the prior before row normalisation [B, H, L, L]), as the release
        returns them from its forward."""
        sigma = self.sigma(x)
        return sigma, gaussian_density(self.distances, sigma)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(output [B, L, d_model], series, prior)."""
        series, prior = self.associations(x)
        batch, length, _ = x.shape
        values = self.value_projection(x).view(batch, length, self.n_heads, -1)
        output = torch.einsum("bhls,bshd->blhd", series, values).reshape(batch, length, -1)
        return self.out_projection(output), series, prior


@dataclasses.dataclass(frozen=True)
class ATFamilyConfig(TorchWindowConfig):
    """Hyperparameters every AT-family model has.

    temperature: the scoring constant of softmax(-temperature * AssDis) (hard-coded 50 in the code).
    build_unused_parameters: also create the tensors the released code creates but never uses, so
    the count of every tensor matches the published style (they get no gradient and change nothing).
    """

    temperature: float = DEFAULT_TEMPERATURE
    build_unused_parameters: bool = True

    def validate(self) -> None:
        super().validate()
        if not self.temperature > 0:
            raise ModelConfigError(f"temperature must be > 0, got {self.temperature}: the repositories use 50")


def check_choice(key: str, value: Any, allowed: Sequence[Any]) -> None:
    """Raise ModelConfigError unless `value` is one of `allowed`."""
    if value not in allowed:
        raise ModelConfigError(f"{key} must be one of {list(allowed)}, got {value!r}")


def check_heads(d_model: int, n_heads: int) -> None:
    """Raise ModelConfigError unless heads split d_model evenly."""
    if d_model < 2 or n_heads < 1 or d_model % n_heads:
        raise ModelConfigError(
            f"d_model ({d_model}) must be a multiple of n_heads ({n_heads}): change d_model or n_heads"
        )


class ATFamilyDetector(TorchWindowDetector):
    """The common AT solver: each batch, one backward pass of the model's whole objective and one
    Adam step; after every epoch the learning rate of every parameter group is halved (AT schedule).

    The repositories call `backward` once per loss term (retain_graph) before one step; gradients
    accumulate, so a single backward of their sum gives the same gradients (the stop-gradients are
    in the graph, see `stop_gradient_discrepancies`).
    """

    recipe: ClassVar[TrainingRecipe | None]
    #: Beside the release's association-weighted score, the reconstruction error alone, per point
    #: (the model's own squared-error reduction over channels): an extra record, never the headline.
    extra_scores = ("reconstruction",)

    @abstractmethod
    def _window_score_set(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Model hook: {HEADLINE_SCORE: the release's score, "reconstruction": the error alone}, [B, W] each."""

    def _window_point_scores(self, batch: torch.Tensor) -> torch.Tensor:
        return self._window_score_set(batch)[HEADLINE_SCORE]

    @abstractmethod
    def _objective(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Model hook: the scalar to backpropagate for a batch, and the loss values to report."""

    def _build_optimizer(self) -> Optimizer:
        return Adam([{"params": list(self.network.parameters()), "lr": self.config.lr,
                                  "initial_lr": self.config.lr}])

    def _training_step(self, batch: torch.Tensor) -> dict[str, float]:
        objective, stats = self._objective(batch)
        self._optimise(objective)
        return {key: float(value) for key, value in stats.items()}

    def _on_epoch_end(self) -> None:
        # Runs before the base class counts the epoch, so this epoch is number epochs_trained + 1.
        for group in self.optimizer.param_groups:
            group["lr"] = halved_learning_rate(group["initial_lr"], self.epochs_trained + 1)

    def parameter_counts(self) -> dict[str, int]:
        """{"all": elements of every parameter tensor (the published style),
        "used": elements of the tensors the training objective sends a gradient to}."""
        parameters = list(self.network.parameters())
        probe = torch.as_tensor(np.random.default_rng(0).standard_normal((2, self.config.win_size, self.n_channels)),
                                dtype=torch.float32, device=self.device)
        was_training = self.network.training
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            self.network.train()
            try:
                objective, _ = self._objective(probe)
            finally:
                self.network.train(was_training)
        gradients = torch.autograd.grad(objective, parameters, allow_unused=True)
        return {"all": sum(p.numel() for p in parameters),
                "used": sum(p.numel() for p, g in zip(parameters, gradients) if g is not None)}
