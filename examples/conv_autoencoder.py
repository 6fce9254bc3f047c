"""An example plug-in: a small 1-D convolutional autoencoder, written against tsadbench's public API.

Check it:   python -m tsadbench.zoo check examples/conv_autoencoder.py
Run it:     python orchestrate.py --grid smoke --plugin examples/conv_autoencoder.py \
                --models conv_autoencoder,random --datasets synthetic --num-samples 1
Its search space is conv_autoencoder.yaml, beside this file.
"""
import dataclasses

import torch
from torch import nn

from tsadbench.zoo import ModelConfigError, TorchWindowConfig, TorchWindowDetector, register


@dataclasses.dataclass(frozen=True)
class ConvAutoencoderConfig(TorchWindowConfig):
    """Window size, learning rate and batching come from TorchWindowConfig; these are our own."""

    win_size: int = 32
    channels: int = 16
    kernel: int = 5

    def validate(self) -> None:
        super().validate()
        if self.channels < 1 or self.kernel < 1 or self.kernel % 2 == 0:
            raise ModelConfigError(f"need channels >= 1 and an odd kernel >= 1, got {self.channels}, {self.kernel}")


@register
class ConvAutoencoder(TorchWindowDetector):
    """Reconstructs each window through a narrow convolutional bottleneck; a point's score is its
    squared reconstruction error averaged over channels."""

    name = "conv_autoencoder"
    display_name = "Example conv autoencoder"
    Config = ConvAutoencoderConfig

    def _build_network(self) -> nn.Module:
        c, k = self.config.channels, self.config.kernel
        return nn.Sequential(nn.Conv1d(self.n_channels, c, k, padding=k // 2), nn.ReLU(),
                             nn.Conv1d(c, c // 2 or 1, k, padding=k // 2), nn.ReLU(),
                             nn.Conv1d(c // 2 or 1, self.n_channels, k, padding=k // 2))

    def _window_point_scores(self, batch: torch.Tensor) -> torch.Tensor:  # [B, W, C] -> [B, W]
        rebuilt = self.network(batch.transpose(1, 2)).transpose(1, 2)
        return (rebuilt - batch).pow(2).mean(dim=-1)

    def _window_losses(self, batch: torch.Tensor) -> torch.Tensor:  # [B, W, C] -> [B]
        return self._window_point_scores(batch).mean(dim=1)

    def _training_step(self, batch: torch.Tensor) -> dict[str, float]:
        loss = self._window_losses(batch).mean()
        self._optimise(loss)
        return {"train_loss": loss.item()}
