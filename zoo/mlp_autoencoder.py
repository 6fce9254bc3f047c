"""MLP autoencoder on flattened windows: the small reconstruction baseline.

A window of W points and C channels is flattened to W*C values, squeezed through a `d_model`-wide
bottleneck and expanded back (the dense autoencoder that USAD, Audibert et al., KDD 2020, builds
its two decoders from). A point's anomaly score is its squared reconstruction error averaged over
channels; the training objective is that error averaged over the window. It learns in a few
hundred steps on a CPU, which is why it is the skeleton's trainable model.
"""
from __future__ import annotations

import dataclasses

import torch
from torch import nn

from .base import HEADLINE_SCORE, ModelConfigError, TorchWindowConfig, TorchWindowDetector
from .registry import register


@dataclasses.dataclass(frozen=True)
class MLPAutoencoderConfig(TorchWindowConfig):
    """Hyperparameters of the MLP autoencoder (`d_model` is the bottleneck width)."""

    win_size: int = 32
    d_model: int = 16
    hidden: int = 128
    lr: float = 3e-3

    def validate(self) -> None:
        super().validate()
        if self.d_model < 1 or self.hidden < 1:
            raise ModelConfigError(f"d_model and hidden must be >= 1, got {self.d_model} and {self.hidden}")


class _MLPAutoencoderNetwork(nn.Module):
    def __init__(self, n_inputs: int, hidden: int, bottleneck: int):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_inputs, hidden), nn.ReLU(), nn.Linear(hidden, bottleneck), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(bottleneck, hidden), nn.ReLU(), nn.Linear(hidden, n_inputs))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        flat = windows.flatten(start_dim=1)
        return self.decoder(self.encoder(flat)).view_as(windows)


@register
class MLPAutoencoder(TorchWindowDetector):
    """Reconstruction-error detector on sliding windows."""

    name = "mlp_autoencoder"
    display_name = "MLP autoencoder"
    Config = MLPAutoencoderConfig

    def _build_network(self) -> nn.Module:
        return _MLPAutoencoderNetwork(self.config.win_size * self.n_channels, self.config.hidden, self.config.d_model)

    def _point_errors(self, batch: torch.Tensor) -> torch.Tensor:
        return (self.network(batch) - batch).pow(2).mean(dim=-1)

    def _training_step(self, batch: torch.Tensor) -> dict[str, float]:
        loss = self._point_errors(batch).mean()
        self._optimise(loss)
        return {"train_loss": loss.item()}

    def _window_losses(self, batch: torch.Tensor) -> torch.Tensor:
        return self._point_errors(batch).mean(dim=1)

    def _window_point_scores(self, batch: torch.Tensor) -> torch.Tensor:
        return self._point_errors(batch)

    def _window_scores_and_losses(self, batch: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        errors = self._point_errors(batch)
        return {HEADLINE_SCORE: errors}, errors.mean(dim=1)
