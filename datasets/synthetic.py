"""Seeded synthetic multivariate series with labelled anomalies: the embedded default dataset.

Normal behaviour per channel: a slow linear trend, one or two seasonal components and Gaussian
noise. The test part continues the same process and receives anomalies of the five NeurIPS-TS
kinds (Lai et al., "Revisiting Time Series Outlier Detection", NeurIPS 2021 Datasets track):
global point, contextual point, shapelet, seasonal and trend, in a random subset of channels,
with segment lengths from 1 point up to a few hundred.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .canonical import EntityArrays

ANOMALY_KINDS = ("global_point", "contextual_point", "shapelet", "seasonal", "trend")

# (min length, max length) of each kind's segment, in points.
_SEGMENT_LENGTHS = {
    "global_point": (1, 1),
    "contextual_point": (1, 3),
    "shapelet": (20, 100),
    "seasonal": (50, 250),
    "trend": (50, 250),
}


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
    """Size and seed of a synthetic dataset; `anomalies_per_kind` segments of each kind."""

    n_channels: int = 5
    train_length: int = 4000
    test_length: int = 5000
    anomalies_per_kind: int = 3
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class InjectedAnomaly:
    """One labelled anomaly: its kind, test rows [start, end) and the channels it touches."""

    kind: str
    start: int
    end: int
    channels: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class SyntheticDataset:
    """The arrays and the list of anomalies that were injected into the test part."""

    arrays: EntityArrays
    anomalies: tuple[InjectedAnomaly, ...]


@dataclasses.dataclass(frozen=True)
class _ChannelProcess:
    slope: float
    periods: np.ndarray
    amplitudes: np.ndarray
    phases: np.ndarray
    noise: float

    def seasonal(self, time: np.ndarray, period_factor: float = 1.0) -> np.ndarray:
        waves = self.amplitudes * np.sin(2 * np.pi * time[:, None] / (self.periods * period_factor) + self.phases)
        return waves.sum(axis=1)


def generate_synthetic(spec: SyntheticSpec = SyntheticSpec()) -> SyntheticDataset:
    """Build the dataset described by `spec` (identical for identical specs)."""
    total = spec.train_length + spec.test_length
    if spec.n_channels < 1 or spec.train_length < 1:
        raise ValueError(f"need at least one channel and one training row, got {spec}")
    rng = np.random.default_rng(spec.seed)
    processes = [_random_process(rng) for _ in range(spec.n_channels)]
    time = np.arange(total, dtype=np.float64)
    series = np.stack([p.slope * time + p.seasonal(time) + rng.normal(0, p.noise, total) for p in processes], axis=1)
    test = series[spec.train_length:].copy()
    labels = np.zeros(spec.test_length, dtype=np.uint8)
    anomalies = _place_anomalies(rng, spec)
    for anomaly in anomalies:
        rows = slice(anomaly.start, anomaly.end)
        for channel in anomaly.channels:
            test[rows, channel] = _distort(anomaly.kind, test[rows, channel], time[spec.train_length:][rows],
                                           processes[channel], series[:, channel], rng)
        labels[rows] = 1
    arrays = EntityArrays("synthetic", f"seed{spec.seed}", series[:spec.train_length].astype(np.float32),
                          test.astype(np.float32), labels)
    return SyntheticDataset(arrays, tuple(anomalies))


def _random_process(rng: np.random.Generator) -> _ChannelProcess:
    n_waves = rng.integers(1, 3)
    return _ChannelProcess(
        slope=rng.uniform(-2e-4, 2e-4),
        periods=rng.uniform(20, 120, n_waves),
        amplitudes=rng.uniform(0.5, 1.5, n_waves),
        phases=rng.uniform(0, 2 * np.pi, n_waves),
        noise=rng.uniform(0.05, 0.15),
    )


def _place_anomalies(rng: np.random.Generator, spec: SyntheticSpec) -> list[InjectedAnomaly]:
    """Non-overlapping segments, at least 20 normal rows apart, in random order of kinds."""
    kinds = [kind for kind in ANOMALY_KINDS for _ in range(spec.anomalies_per_kind)]
    rng.shuffle(kinds)
    lengths = [int(rng.integers(lo, hi + 1)) for lo, hi in (_SEGMENT_LENGTHS[k] for k in kinds)]
    gap = 20
    free = spec.test_length - sum(lengths) - gap * (len(kinds) + 1)
    if free < 0:
        raise ValueError(
            f"test_length={spec.test_length} is too short for {len(kinds)} anomalies; "
            "raise test_length or lower anomalies_per_kind"
        )
    extra_gaps = np.diff(np.sort(rng.integers(0, free + 1, len(kinds))), prepend=0)
    anomalies, position = [], gap
    for kind, length, extra in zip(kinds, lengths, extra_gaps):
        position += int(extra)
        n_touched = int(rng.integers(1, max(1, spec.n_channels // 2) + 1))
        channels = tuple(sorted(rng.choice(spec.n_channels, n_touched, replace=False).tolist()))
        anomalies.append(InjectedAnomaly(kind, position, position + length, channels))
        position += length + gap
    return anomalies


def _distort(kind: str, values: np.ndarray, time: np.ndarray, process: _ChannelProcess,
             whole_channel: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sign = rng.choice((-1.0, 1.0))
    spread = whole_channel.std()
    if kind == "global_point":
        return values + sign * rng.uniform(4, 6) * spread
    if kind == "contextual_point":
        # Within the channel's global range, far from its local context.
        return values + sign * rng.uniform(1.0, 1.5) * spread
    if kind == "shapelet":
        # The usual cycle is replaced by a flat plateau with noise at the segment's start level.
        return values[0] + rng.normal(0, process.noise, values.shape[0])
    if kind == "seasonal":
        factor = rng.choice((0.4, 2.5))
        return values - process.seasonal(time) + process.seasonal(time, factor)
    if kind == "trend":
        return values + sign * np.linspace(0, rng.uniform(1.5, 3.0) * spread, values.shape[0])
    raise ValueError(f"unknown anomaly kind '{kind}'; known kinds: {ANOMALY_KINDS}")
