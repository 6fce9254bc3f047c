"""The one window utility: series -> windows, and window values -> one value per time point.

Every model and every scorer goes through these functions, so the mapping back to time points is
written once: each time point receives exactly one score, the tail shorter than a stride is never
dropped (the last window always ends on the last point), and nothing is silently truncated.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


class WindowTooLongError(ValueError):
    """A window does not fit in the series it should slide over."""


def window_starts(n_points: int, win_size: int, stride: int) -> np.ndarray:
    """Start indices of windows of `win_size` points over `n_points`, `stride` apart.

    The last window always ends on the last point, so the last start may be closer than `stride`
    to the one before it: the tail of the series is always covered. With `stride <= win_size`
    every point is covered; a larger stride (subsampling training windows) leaves gaps, which
    `points_from_window_values` refuses.
    """
    if win_size < 1 or stride < 1:
        raise ValueError(f"win_size ({win_size}) and stride ({stride}) must both be >= 1")
    if win_size > n_points:
        raise WindowTooLongError(
            f"win_size={win_size} is longer than the series ({n_points} points): "
            f"choose win_size <= {n_points}"
        )
    starts = np.arange(0, n_points - win_size + 1, stride, dtype=np.int64)
    if starts[-1] != n_points - win_size:
        starts = np.append(starts, n_points - win_size)
    return starts


class Windows:
    """Windows of a series at given starts, read through a zero-copy view of the series: only
    what is indexed (a batch) is ever materialised, so a long series' windows cost no memory."""

    def __init__(self, series: np.ndarray, win_size: int, starts: np.ndarray):
        self._every_window = np.lib.stride_tricks.sliding_window_view(series, win_size, axis=0)
        self.series = series
        self.starts = starts
        self.shape = (starts.size, win_size, series.shape[1])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        """Window(s) `key` (an index, a slice or an index array) as [..., win_size, channels]."""
        return np.swapaxes(self._every_window[self.starts[key]], -1, -2)


def sliding_windows(series: np.ndarray, win_size: int, stride: int) -> tuple[Windows, np.ndarray]:
    """Windows of a [T, C] series (indexable like an array [n_windows, win_size, C]) and their starts."""
    if series.ndim != 2:
        raise ValueError(f"expected a [time, channels] array, got shape {series.shape}")
    starts = window_starts(series.shape[0], win_size, stride)
    return Windows(series, win_size, starts), starts


class TensorWindows:
    """`Windows` of a [T, C] tensor, on the tensor's device: a strided view of the series holds
    every window ([T - W + 1, W, C], no copy), and indexing gathers a batch there as one contiguous
    [..., W, C] tensor. The starts are those of `window_starts`, so both classes give the same
    windows, tail window included."""

    def __init__(self, series: "torch.Tensor", win_size: int, starts: np.ndarray):
        import torch

        if series.ndim != 2:
            raise ValueError(f"expected a [time, channels] tensor, got shape {tuple(series.shape)}")
        time_stride, channel_stride = series.stride()
        self._every_window = series.as_strided((series.shape[0] - win_size + 1, win_size, series.shape[1]),
                                               (time_stride, time_stride, channel_stride), series.storage_offset())
        self.series = series
        self.starts = starts
        self._starts = torch.from_numpy(starts).to(series.device)
        self.shape = (starts.size, win_size, series.shape[1])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> "torch.Tensor":
        """Window(s) `key` (an index, a slice, or an integer index array or tensor) as
        [..., win_size, channels], always gathered into a new tensor (never a view that could write
        into the series)."""
        if isinstance(key, (int, slice, np.integer)):
            index = self._starts[key]
        else:
            key = self._as_index(key)
            index = self._starts.index_select(0, key.reshape(-1)).view(key.shape)
        # index_select, not advanced indexing (tensor[index]): on CPU the latter is far slower here,
        # on the overlapping view and even on the starts (measured: benchmarks/gpu_check.py, host vs device).
        return self._every_window.index_select(0, index.reshape(-1)).view(*index.shape, *self.shape[1:])

    def _as_index(self, key) -> "torch.Tensor":
        import torch

        if isinstance(key, torch.Tensor):
            return key.to(self._starts.device)
        return torch.as_tensor(key, device=self._starts.device)


def sliding_tensor_windows(series: "torch.Tensor", win_size: int, stride: int) -> tuple[TensorWindows, np.ndarray]:
    """`sliding_windows` for a [T, C] tensor: the same windows, cut on the tensor's device."""
    if series.ndim != 2:
        raise ValueError(f"expected a [time, channels] tensor, got shape {tuple(series.shape)}")
    starts = window_starts(series.shape[0], win_size, stride)
    return TensorWindows(series, win_size, starts), starts


def points_from_window_values(values: np.ndarray, starts: np.ndarray, n_points: int) -> np.ndarray:
    """Average per-window point values [n_windows, win_size] back onto the time axis.

    A point covered by several windows gets the mean of their values for it; every point must be
    covered by at least one window (use `window_starts`), otherwise this raises.
    """
    if values.ndim != 2 or values.shape[0] != starts.shape[0]:
        raise ValueError(
            f"values must be [n_windows, win_size] with n_windows = {starts.shape[0]}, got {values.shape}"
        )
    win_size = values.shape[1]
    if starts.size and (starts.min() < 0 or starts.max() + win_size > n_points):
        raise ValueError(f"windows of {win_size} points at these starts do not fit in {n_points} points")
    index = (starts[:, None] + np.arange(win_size)).ravel()
    totals = np.bincount(index, weights=values.astype(np.float64).ravel(), minlength=n_points)
    counts = np.bincount(index, minlength=n_points)
    uncovered = np.flatnonzero(counts == 0)
    if uncovered.size:
        raise ValueError(
            f"{uncovered.size} of {n_points} points are covered by no window (first: {uncovered[0]}); "
            "build the starts with window_starts()"
        )
    return totals / counts


def points_from_window_ends(values: np.ndarray, starts: np.ndarray, win_size: int, n_points: int) -> np.ndarray:
    """Place one value per window on the window's last point (next-step forecasters).

    Windows must end on consecutive points up to the last one (stride 1, as `window_starts(n, w, 1)`
    gives), so every point from the first window's end onwards gets exactly one value. The lead-in
    points before that end have no window of their own; they take the first window's value, so
    every point is scored and none is favoured or dropped. Gaps or a missing tail raise.
    """
    if values.ndim != 1 or values.shape[0] != starts.shape[0] or starts.size == 0:
        raise ValueError(f"need one value per window for {starts.shape[0]} windows, got shape {values.shape}")
    ends = starts + win_size - 1
    expected = np.arange(ends[0], n_points)
    if ends[0] < 0 or ends.shape != expected.shape or not np.array_equal(ends, expected):
        raise ValueError(
            f"windows of {win_size} points must end on every point from {ends[0]} to {n_points - 1} "
            "(stride 1, built with window_starts)"
        )
    return np.concatenate([np.full(ends[0], values[0], dtype=np.float64), values.astype(np.float64)])
