"""Series on the device: a detector's numpy series moved to its device once and kept.

A trial passes the same numpy arrays (train, validation, test) to its detector every epoch, so each
is copied to the device once (CUDA: through pinned host memory, without blocking the host; CPU: no
copy beyond a dtype conversion) and found again by the array itself. The key cannot be fooled by a
recycled `id()`: an entry holds a weak reference to its array and the array's shape, dtype,
strides and data address, and matches only that same live array. An array whose values change in
place between calls is not noticed: pass a new array instead (the trial loop never writes to its
splits, which the object store hands out read-only).
"""
from __future__ import annotations

import collections
import dataclasses
import warnings
import weakref

import numpy as np
import torch


@dataclasses.dataclass(frozen=True)
class _Entry:
    array: weakref.ref
    layout: tuple
    tensor: torch.Tensor


def _layout(series: np.ndarray) -> tuple:
    return series.shape, series.dtype.str, series.strides, series.__array_interface__["data"][0]


def to_device(series: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """One copy of `series` on `device` in `dtype`: pinned host memory and a non-blocking copy for
    CUDA; on the CPU the array's own memory where its dtype already fits."""
    with warnings.catch_warnings():
        # A read-only split (from the object store) is only ever read here: batches are gathered copies.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        host = torch.from_numpy(np.ascontiguousarray(series)).to(dtype)
    if device.type == "cpu":
        return host
    if device.type == "cuda":
        host = host.pin_memory()
    return host.to(device, non_blocking=True)


class DeviceSeries:
    """The device copies of the last `capacity` series asked for (least recently used leaves). On
    the CPU a copy may be the array's own memory, which then stays alive while its entry does."""

    def __init__(self, device: torch.device, dtype: torch.dtype, capacity: int = 4):
        self.device, self.dtype, self.capacity = device, dtype, capacity
        self._entries: collections.OrderedDict[int, _Entry] = collections.OrderedDict()

    def __call__(self, series: np.ndarray) -> torch.Tensor:
        """`series` on the device, copied there on the first call for this array."""
        self._drop_dead()
        key = id(series)
        entry = self._entries.get(key)
        if entry is not None and entry.array() is series and entry.layout == _layout(series):
            self._entries.move_to_end(key)
            return entry.tensor
        tensor = to_device(series, self.device, self.dtype)
        self._entries[key] = _Entry(weakref.ref(series), _layout(series), tensor)
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return tensor

    def __len__(self) -> int:
        self._drop_dead()
        return len(self._entries)

    def clear(self, dtype: torch.dtype | None = None) -> None:
        """Forget every copy (and use `dtype` from now on, where given)."""
        self._entries.clear()
        if dtype is not None:
            self.dtype = dtype

    def __getstate__(self) -> dict:
        """A copied or pickled detector starts with no device copies (they are a cache)."""
        return {**self.__dict__, "_entries": collections.OrderedDict()}

    def _drop_dead(self) -> None:
        for key in [key for key, entry in self._entries.items() if entry.array() is None]:
            del self._entries[key]
