"""Segments (events): maximal runs of 1s, as half-open index intervals ``[start, end)``."""

from __future__ import annotations

import numpy as np


def segment_bounds(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) ends of the maximal runs of True in a 1-D bool array."""
    padded = np.concatenate(([False], np.asarray(mask, dtype=bool), [False]))
    change = np.flatnonzero(padded[1:] != padded[:-1])
    return change[0::2], change[1::2]


def segment_reduce(values: np.ndarray, starts: np.ndarray, ends: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
    """``ufunc.reduce`` of ``values`` over each non-empty, disjoint, sorted interval ``[start, end)``."""
    if starts.size == 0:
        return np.empty(0, dtype=values.dtype)
    idx = np.empty(2 * starts.size, dtype=np.intp)
    idx[0::2] = starts
    idx[1::2] = ends
    if idx[-1] == values.shape[0]:
        return ufunc.reduceat(values, idx[:-1])[0::2]
    return ufunc.reduceat(values, idx)[0::2]


def segment_max(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Maximum of ``values`` over each segment."""
    return segment_reduce(values, starts, ends, np.maximum)


def segment_sum(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over each segment."""
    return segment_reduce(values, starts, ends, np.add)


def segment_ids(mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per point: the index of the segment of ``mask`` it belongs to, or -1 where ``mask`` is False."""
    mask = np.asarray(mask, dtype=bool)
    first = np.zeros(mask.shape[0], dtype=np.intp)
    first[starts] = 1
    return np.where(mask, np.cumsum(first) - 1, -1)
