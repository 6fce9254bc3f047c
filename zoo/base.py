"""The model interface: train epoch by epoch, score any series with one score per time point.

A detector knows nothing of Ray, thresholds or metrics. The public methods are final and validate
their inputs and outputs; a model writes only the private hooks (`_train_epoch`, `_score`, ...).
Windowed PyTorch models derive from `TorchWindowDetector`, which owns batching, seeding, device
placement, checkpoint state and the mapping of window scores back to points (through
`datasets.windows`, the one window utility).
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import typing
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Mapping

import numpy as np
import torch

from ..datasets.windows import (TensorWindows, Windows, points_from_window_values, sliding_tensor_windows,
                                sliding_windows)
from .device_series import DeviceSeries
from .official import OfficialKeyMap, load_official
from .optim import Adam, Optimizer


#: The key of the headline score in `AnomalyDetector.score_set`.
HEADLINE_SCORE = "score"
#: Numeric precisions of the forward passes: fp32, or bf16 autocast (`TorchWindowDetector.set_precision`).
PRECISIONS = ("fp32", "bf16")


class ModelConfigError(ValueError):
    """A model was given a hyperparameter it does not have, or a value it cannot use."""


@dataclasses.dataclass(frozen=True)
class DetectorConfig:
    """Hyperparameters every detector has; models extend this dataclass with their own."""

    win_size: int = 100

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "DetectorConfig":
        """Build from a mapping, refusing keys the model does not know."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ModelConfigError(
                f"{cls.__qualname__} has no hyperparameter(s) {unknown}; known: {sorted(known)}"
            )
        for key, value in values.items():
            _check_scalar_type(cls, key, value)
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ModelConfigError for values the model cannot use."""
        if self.win_size < 1:
            raise ModelConfigError(f"win_size must be >= 1, got {self.win_size}")


@dataclasses.dataclass(frozen=True)
class TrainingRecipe:
    """The parts of a repository's training recipe that the orchestrator, not the model, applies.

    `patience` and `min_delta` are the repository's early stopping on the validation loss (an epoch
    improves when its loss is at most best - min_delta, as the releases' EarlyStopping classes);
    `validation_split` names, per dataset ("*" for the rest), the split the repository validates
    on: "test" (label-free but transductive) or "val" (held-out training data); `monitors` and
    `validation` say it in words. `epochs`, `batch_size` and `train_stride` are per dataset from its
    scripts.
    """

    optimiser: str
    patience: int
    min_delta: float
    monitors: str
    validation: str
    validation_split: Mapping[str, str]
    epochs: Mapping[str, int]
    batch_size: Mapping[str, int]
    train_stride: Mapping[str, int]
    source: str

    def monitored_split(self, dataset: str) -> str:
        """The split the repository validates on for `dataset` ("SMD/machine-1-1" counts as SMD)."""
        name = dataset.split("/", 1)[0]
        return self.validation_split.get(name, self.validation_split.get("*", "val"))


def _check_scalar_type(cls: type, key: str, value: Any) -> None:
    """Raise ModelConfigError unless `value` suits the field `key` of `cls` when that field is an
    int, float, bool or str (ints are accepted for floats; numbers must be finite)."""
    expected = typing.get_type_hints(cls).get(key)
    if expected not in (int, float, bool, str):
        return
    if expected is bool:
        ok = isinstance(value, bool)
    elif expected is str:
        ok = isinstance(value, str)
    else:
        allowed = (int,) if expected is int else (int, float)
        ok = isinstance(value, allowed) and not isinstance(value, bool) and math.isfinite(value)
    if not ok:
        raise ModelConfigError(f"{key} must be a finite {expected.__name__}, got {value!r} "
                               f"({type(value).__name__}) for {cls.__qualname__}")


class AnomalyDetector(ABC):
    """A multivariate anomaly detector trained on (assumed normal) training data."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    Config: ClassVar[type[DetectorConfig]] = DetectorConfig
    #: False for detectors that learn nothing (their untrained copy would be themselves).
    learns: ClassVar[bool] = True
    #: The repository's training recipe, where the model follows one (early stopping, epochs).
    recipe: ClassVar[TrainingRecipe | None] = None
    #: Names of the extra per-point scores the model reports beside its headline (`score_set`).
    extra_scores: ClassVar[tuple[str, ...]] = ()
    #: The `PRECISIONS` the detector can run in (`set_precision`); fp32 alone unless it says more.
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)

    def __init__(self, n_channels: int, config: DetectorConfig, *, seed: int = 0, device: str = "cpu"):
        if n_channels < 1:
            raise ModelConfigError(f"n_channels must be >= 1, got {n_channels}")
        self.n_channels = n_channels
        self.config = config
        self.seed = seed
        self.device = torch.device(device)
        self.precision = "fp32"
        self.epochs_trained = 0

    def train_epoch(self, train: np.ndarray, *, max_windows: int | None = None) -> dict[str, float]:
        """Train one epoch on a normalised [T, C] series; returns training statistics."""
        self._check_series(train, "training series")
        stats = self._train_epoch(train, max_windows)
        self.epochs_trained += 1
        return stats

    def validation_loss(self, series: np.ndarray) -> float:
        """The training objective on held-out normal data (lower is better, label-free)."""
        self._check_series(series, "validation series")
        return float(self._validation_loss(series))

    def score(self, series: np.ndarray) -> np.ndarray:
        """One finite anomaly score per time point of a [T, C] series (higher = more anomalous)."""
        self._check_series(series, "series to score")
        return self._checked_scores(self._score(series), series.shape[0], "scores")

    def score_set(self, series: np.ndarray) -> dict[str, np.ndarray]:
        """The headline score (key `HEADLINE_SCORE`) and each of `extra_scores`, one per time point,
        from one scoring pass where the model allows. Extra scores are reported beside the headline,
        never instead of it."""
        self._check_series(series, "series to score")
        return {name: self._checked_scores(values, series.shape[0], f"{name} scores")
                for name, values in self._score_set(series).items()}

    def score_set_and_loss(self, series: np.ndarray) -> tuple[dict[str, np.ndarray], float]:
        """`score_set(series)` and `validation_loss(series)` together, the same numbers as the two
        calls, from one pass over the series where the model allows (a split that is both scored
        and validated on is read once)."""
        self._check_series(series, "series to score")
        scores, loss = self._score_set_and_loss(series)
        return ({name: self._checked_scores(values, series.shape[0], f"{name} scores") for name, values in scores.items()},
                float(loss))

    def _checked_scores(self, values: Any, n_points: int, what: str) -> np.ndarray:
        scores = np.asarray(values, dtype=np.float64)
        if scores.shape != (n_points,):
            raise RuntimeError(f"{self.name} returned {what} of shape {scores.shape} for {n_points} points")
        if not np.all(np.isfinite(scores)):
            raise FloatingPointError(f"{self.name} produced non-finite anomaly {what}")
        return scores

    def set_precision(self, precision: str) -> None:
        """Run forward passes in `precision` (one of `precisions`); fp32 is what every detector runs."""
        if precision not in self.precisions:
            raise ModelConfigError(f"{self.name} runs in {', '.join(self.precisions)} only, not {precision!r}: "
                                   "use --precision fp32 for it")
        self.precision = precision

    @property
    def min_points(self) -> int:
        """The shortest series this detector trains on or scores: its window, unless a model needs
        more (a forecaster needs the point after the window)."""
        return self.config.win_size

    def _score_set(self, series: np.ndarray) -> dict[str, np.ndarray]:
        """Model hook for models with `extra_scores`: every score of every point."""
        return {HEADLINE_SCORE: self._score(series)}

    def _score_set_and_loss(self, series: np.ndarray) -> tuple[dict[str, np.ndarray], float]:
        """Model hook: `_score_set` and `_validation_loss` of one series. The default calls the two
        hooks; a model whose scores and loss come from the same forward pass overrides it. An
        override must return exactly what the two hooks return, and scoring and validation must
        not draw from the global random generators (use a generator of the model's own), so that
        the trial may share the pass without changing any number."""
        return self._score_set(series), self._validation_loss(series)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training or scoring after a restart."""
        return {"epochs_trained": self.epochs_trained}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
        self.epochs_trained = state["epochs_trained"]

    def _check_series(self, series: np.ndarray, what: str) -> None:
        if not isinstance(series, np.ndarray) or series.ndim != 2:
            raise ValueError(f"{what} must be a [time, channels] numpy array, got {type(series).__name__}")
        if series.shape[1] != self.n_channels:
            raise ValueError(
                f"{what} has {series.shape[1]} channels; {self.name} was built for {self.n_channels}"
            )
        if series.shape[0] < self.min_points:
            extra = self.min_points - self.config.win_size
            beyond = f" plus {extra} ({self.name} needs at least {self.min_points} points)" if extra else ""
            raise ValueError(
                f"{what} has {series.shape[0]} points, shorter than win_size={self.config.win_size}{beyond}: "
                f"choose win_size <= {series.shape[0] - extra}"
            )
        if not np.all(np.isfinite(series)):
            raise ValueError(f"{what} contains NaN or infinite values: clean or fill them first")

    @abstractmethod
    def _train_epoch(self, train: np.ndarray, max_windows: int | None) -> dict[str, float]:
        """Model hook: one epoch of training."""

    @abstractmethod
    def _validation_loss(self, series: np.ndarray) -> float:
        """Model hook: the training objective on held-out data."""

    @abstractmethod
    def _score(self, series: np.ndarray) -> np.ndarray:
        """Model hook: one score per time point."""


@dataclasses.dataclass(frozen=True)
class TorchWindowConfig(DetectorConfig):
    """Hyperparameters of windowed PyTorch models."""

    lr: float = 1e-3
    batch_size: int = 64
    train_stride: int = 1
    score_stride: int = 0  # 0 means non-overlapping windows (stride = win_size), the AT convention

    def validate(self) -> None:
        super().validate()
        if self.win_size < 2:
            raise ModelConfigError(f"win_size must be >= 2 for a windowed model, got {self.win_size}")
        if self.lr <= 0 or self.batch_size < 1 or self.train_stride < 1 or self.score_stride < 0:
            raise ModelConfigError(
                f"need lr > 0, batch_size >= 1, train_stride >= 1 and score_stride >= 0, got {self}"
            )


class TorchWindowDetector(AnomalyDetector):
    """Base of windowed PyTorch detectors: a model writes `_build_network`, `_training_step`,
    `_window_losses` (per-window training objective) and `_window_point_scores`.

    Data path: each series is moved to the device once (`_series_on_device`, kept across epochs
    while the same array is passed) and cut into windows there (`datasets.windows.TensorWindows`,
    a strided view); training batches are gathered on the device by index, validation and scoring
    batches are consecutive windows. No batch is copied from the host. With `set_precision("bf16")`
    the forward passes of training, validation and scoring run under `torch.autocast` in bfloat16
    (`_autocast`; a model that writes its own loop wraps it the same way); scores come back float64.
    """

    Config: ClassVar[type[DetectorConfig]] = TorchWindowConfig
    precisions: ClassVar[tuple[str, ...]] = PRECISIONS
    #: The release's state-dict names, for models that follow an official implementation.
    official_keys: ClassVar[OfficialKeyMap | None] = None

    def __init__(self, n_channels: int, config: TorchWindowConfig, *, seed: int = 0, device: str = "cpu"):
        super().__init__(n_channels, config, seed=seed, device=device)
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.dtype = torch.float32
        self._series_on_device = DeviceSeries(self.device, self.dtype)
        self.network = self._build_network().to(self.device)
        self.optimizer = self._build_optimizer()

    def set_dtype(self, dtype: torch.dtype) -> None:
        """Run the network and every batch in `dtype` (float64 for equivalence checks)."""
        self.dtype = dtype
        self.network.to(dtype)
        self._series_on_device.clear(dtype)

    def _autocast(self) -> contextlib.AbstractContextManager:
        """The context of every forward pass: bf16 autocast under `set_precision("bf16")`, else none."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def load_official_state_dict(self, source: Any) -> None:
        """Load a checkpoint saved by the official code (a state dict, or the path of one saved with
        `torch.save(model.state_dict(), path)`) through the model's documented `official_keys`."""
        if self.official_keys is None:
            raise ModelConfigError(f"{self.name} follows no official release: there is no official checkpoint to load")
        load_official(self.network, source, self.official_keys)

    @abstractmethod
    def _build_network(self) -> torch.nn.Module:
        """Model hook: the nn.Module, built entirely here (never inside forward)."""

    def _build_optimizer(self) -> Optimizer:
        return Adam(self.network.parameters(), lr=self.config.lr)

    @abstractmethod
    def _training_step(self, batch: torch.Tensor) -> dict[str, float]:
        """Model hook: one optimisation step on a batch [B, W, C]; returns loss values."""

    @abstractmethod
    def _window_losses(self, batch: torch.Tensor) -> torch.Tensor:
        """Model hook: the training objective of each window of a batch, shape [B]."""

    @abstractmethod
    def _window_point_scores(self, batch: torch.Tensor) -> torch.Tensor:
        """Model hook: anomaly scores of every point of every window, shape [B, W]."""

    def _on_epoch_end(self) -> None:
        """Model hook: learning-rate schedules and the like, after every epoch."""

    def _training_windows(self, train: np.ndarray) -> Windows:
        """Model hook: the windows an epoch samples from (a forecaster adds its target point). They
        are cut again from the series' device copy (`_on_device`), at the same starts."""
        return sliding_windows(train, self.config.win_size, self.config.train_stride)[0]

    def _device_windows(self, series: np.ndarray, win_size: int, stride: int) -> tuple[TensorWindows, np.ndarray]:
        """`sliding_windows` of the series' device copy: the same windows, cut on the device."""
        return sliding_tensor_windows(self._series_on_device(series), win_size, stride)

    def _on_device(self, windows: Windows | TensorWindows) -> Windows | TensorWindows:
        """Numpy `Windows` -> the same windows of their series' device copy; others as they are."""
        if isinstance(windows, Windows):
            return TensorWindows(self._series_on_device(windows.series), windows.shape[1], windows.starts)
        return windows

    def _training_batches(self, windows: Windows | TensorWindows, order: np.ndarray):
        """Batches of `batch_size` windows in `order`, each batch in window order. On the device the
        order moves there once per epoch and each batch is gathered there."""
        size = self.config.batch_size
        if isinstance(windows, TensorWindows):
            order_on_device = torch.from_numpy(order).to(self.device)
            for first in range(0, order.size, size):
                yield windows[torch.sort(order_on_device[first:first + size]).values]
        else:
            for first in range(0, order.size, size):
                yield self._to_tensor(windows[np.sort(order[first:first + size])])

    def _train_epoch(self, train: np.ndarray, max_windows: int | None) -> dict[str, float]:
        windows = self._on_device(self._training_windows(train))
        order = self.rng.permutation(windows.shape[0])
        if max_windows is not None:
            order = order[:max_windows]
        self.network.train()
        totals: dict[str, float] = {}
        n_batches = 0
        for batch in self._training_batches(windows, order):
            with self._autocast():
                stats = self._training_step(batch)
            for key, value in stats.items():
                if not np.isfinite(value):
                    raise FloatingPointError(f"{self.name}: {key} became {value} during training")
                totals[key] = totals.get(key, 0.0) + value
            n_batches += 1
        self._on_epoch_end()
        return {key: total / n_batches for key, total in totals.items()}

    @torch.no_grad()
    def _validation_loss(self, series: np.ndarray) -> float:
        self.network.eval()
        windows, _ = self._device_windows(series, self.config.win_size, self.config.win_size)
        with self._autocast():
            losses = [self._window_losses(self._to_tensor(batch)) for batch in self._batches(windows)]
        return float(widen_half(torch.cat(losses)).mean())

    def _window_score_set(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Model hook for models with `extra_scores`: each score of every point of every window
        ([B, W] each, `HEADLINE_SCORE` included) from one forward pass."""
        return {HEADLINE_SCORE: self._window_point_scores(batch)}

    def _window_scores_and_losses(self, batch: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Model hook: `_window_score_set(batch)` and `_window_losses(batch)` of one batch. The default
        calls the two hooks; a model whose scores and loss come from one network output overrides it
        to run the forward pass once (returning exactly what the two hooks return)."""
        scores = self._window_score_set(batch) if self.extra_scores else {HEADLINE_SCORE: self._window_point_scores(batch)}
        return scores, self._window_losses(batch)

    def _score(self, series: np.ndarray) -> np.ndarray:
        return self._windowed_scores(series, lambda batch: {HEADLINE_SCORE: self._window_point_scores(batch)})[HEADLINE_SCORE]

    def _score_set_and_loss(self, series: np.ndarray) -> tuple[dict[str, np.ndarray], float]:
        """One pass over the non-overlapping windows when they are both the scoring and the
        validation windows (`score_stride` 0 or `win_size`) and the model keeps this class's
        scoring and validation; otherwise the two hooks in turn."""
        own = type(self)
        keeps_pipeline = all(getattr(own, hook) is getattr(TorchWindowDetector, hook)
                             for hook in ("_score", "_score_set", "_validation_loss", "_windowed_scores"))
        if not keeps_pipeline or (self.config.score_stride or self.config.win_size) != self.config.win_size:
            return super()._score_set_and_loss(series)
        return self._shared_pass(series)

    @torch.no_grad()
    def _shared_pass(self, series: np.ndarray) -> tuple[dict[str, np.ndarray], float]:
        """Scores and validation loss from the same batches of non-overlapping windows."""
        self.network.eval()
        windows, starts = self._device_windows(series, self.config.win_size, self.config.win_size)
        parts, losses = [], []
        with self._autocast():
            for batch in self._batches(windows):
                scores, loss = self._window_scores_and_losses(self._to_tensor(batch))
                parts.append(scores)
                losses.append(loss)
        return self._points_from_parts(parts, starts, series.shape[0]), float(widen_half(torch.cat(losses)).mean())

    def _score_set(self, series: np.ndarray) -> dict[str, np.ndarray]:
        if not self.extra_scores:
            return super()._score_set(series)
        return self._windowed_scores(series, self._window_score_set)

    @torch.no_grad()
    def _windowed_scores(self, series: np.ndarray, window_scores: Any) -> dict[str, np.ndarray]:
        """Per-point scores from `window_scores(batch) -> {name: [B, W]}` over the scoring windows."""
        self.network.eval()
        stride = self.config.score_stride or self.config.win_size
        windows, starts = self._device_windows(series, self.config.win_size, stride)
        with self._autocast():
            parts = [window_scores(self._to_tensor(batch)) for batch in self._batches(windows)]
        return self._points_from_parts(parts, starts, series.shape[0])

    @staticmethod
    def _points_from_parts(parts: list[dict[str, torch.Tensor]], starts: np.ndarray, n_points: int) -> dict[str, np.ndarray]:
        """Per-point scores from the batches' window scores ({name: [B, W]} per batch)."""
        return {name: points_from_window_values(host_array(torch.cat([part[name] for part in parts])), starts, n_points)
                for name in parts[0]}

    def _batches(self, windows: Windows | TensorWindows):
        """Consecutive windows, `batch_size` at a time (validation and scoring)."""
        for first in range(0, windows.shape[0], self.config.batch_size):
            yield windows[first:first + self.config.batch_size]

    def _to_tensor(self, windows: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Windows (or any values) as a tensor on the device in the detector's dtype; a tensor
        already there is returned as it is."""
        if isinstance(windows, torch.Tensor):
            return windows.to(device=self.device, dtype=self.dtype)
        return torch.as_tensor(np.ascontiguousarray(windows), dtype=self.dtype, device=self.device)

    def _backward(self, loss: torch.Tensor) -> None:
        """`loss.backward()` outside autocast (backward ops follow their forward ops' dtypes)."""
        with torch.autocast(self.device.type, enabled=False):
            loss.backward()

    def _optimise(self, loss: torch.Tensor) -> None:
        """One plain optimisation step on `loss`."""
        self.optimizer.zero_grad(set_to_none=True)
        self._backward(loss)
        self.optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        """A snapshot (copies, not live references) of the network, optimiser and generators."""
        return copy.deepcopy({
            **super().state_dict(),
            "network": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        })

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])


def widen_half(values: torch.Tensor) -> torch.Tensor:
    """Half-precision values (from autocast) as float32; other dtypes as they are."""
    return values.float() if values.dtype in (torch.bfloat16, torch.float16) else values


def host_array(values: torch.Tensor) -> np.ndarray:
    """Device values as a numpy array (one copy to the host), half precision widened to float32."""
    return widen_half(values).cpu().numpy()
