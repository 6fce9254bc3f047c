"""The window utility: every point covered, tail kept, means exact, bad sizes refused."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsadbench.datasets.windows import (WindowTooLongError, points_from_window_values, sliding_windows,
                                        window_starts)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 300), win=st.integers(1, 60), stride=st.integers(1, 70))
def test_window_starts_cover_every_point_and_end_on_the_last(n, win, stride):
    if win > n:
        with pytest.raises(WindowTooLongError):
            window_starts(n, win, stride)
        return
    starts = window_starts(n, win, stride)
    covered = np.zeros(n, bool)
    for start in starts:
        covered[start:start + win] = True
    if stride <= win:
        assert covered.all()
    assert starts[0] == 0 and starts[-1] == n - win
    assert np.all(np.diff(starts)[:-1] == stride) and np.all(np.diff(starts) <= stride)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(2, 120), win=st.integers(1, 30), stride=st.integers(1, 40), seed=st.integers(0, 10**6))
def test_points_from_window_values_is_the_mean_over_covering_windows(n, win, stride, seed):
    win = min(win, n)
    stride = min(stride, win)
    series = np.random.default_rng(seed).normal(size=(n, 2))
    windows, starts = sliding_windows(series, win, stride)
    values = np.random.default_rng(seed + 1).normal(size=(starts.size, win))
    expected = np.zeros(n)
    for point in range(n):
        covering = [values[i, point - s] for i, s in enumerate(starts) if s <= point < s + win]
        expected[point] = np.mean(covering)
    np.testing.assert_allclose(points_from_window_values(values, starts, n), expected, rtol=1e-12)
    for i, start in enumerate(starts):
        np.testing.assert_array_equal(windows[i], series[start:start + win])


def test_identity_round_trip_keeps_the_tail():
    series = np.arange(23, dtype=float)[:, None]
    windows, starts = sliding_windows(series, 5, 5)
    assert list(starts) == [0, 5, 10, 15, 18]
    np.testing.assert_array_equal(points_from_window_values(windows[:][..., 0], starts, 23), series[:, 0])


def test_window_longer_than_series_names_the_fix():
    with pytest.raises(WindowTooLongError, match=r"win_size=50 is longer than the series \(10 points\).*<= 10"):
        window_starts(10, 50, 1)


def test_uncovered_points_are_an_error_not_a_silent_gap():
    _, starts = sliding_windows(np.zeros((10, 1)), 2, 4)
    with pytest.raises(ValueError, match="covered by no window"):
        points_from_window_values(np.ones((starts.size, 2)), starts, 10)
    with pytest.raises(ValueError, match="covered by no window"):
        points_from_window_values(np.ones((2, 3)), np.array([0, 3]), 8)
    with pytest.raises(ValueError, match="do not fit"):
        points_from_window_values(np.ones((1, 3)), np.array([6]), 8)


def test_windows_of_a_long_series_cost_no_memory_until_indexed():
    series = np.zeros((2_000_000, 38), dtype=np.float32)
    windows, starts = sliding_windows(series, 100, 1)
    assert windows.shape == (1_999_901, 100, 38) and len(windows) == starts.size
    assert np.shares_memory(windows._every_window, series)
    assert windows[np.array([5, 7])].shape == (2, 100, 38) and windows[3:6].shape == (3, 100, 38)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 200), win=st.integers(1, 40), stride=st.integers(1, 50), seed=st.integers(0, 10**6))
def test_tensor_windows_are_the_numpy_windows_tail_included(n, win, stride, seed):
    torch = pytest.importorskip("torch")
    from tsadbench.datasets.windows import sliding_tensor_windows

    win = min(win, n)
    series = np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)
    windows, starts = sliding_windows(series, win, stride)
    on_tensor, tensor_starts = sliding_tensor_windows(torch.from_numpy(series), win, stride)
    np.testing.assert_array_equal(tensor_starts, starts)
    assert on_tensor.shape == windows.shape and len(on_tensor) == len(windows)
    everything = on_tensor[:]
    assert everything.is_contiguous() and everything.shape == windows.shape
    np.testing.assert_array_equal(everything.numpy(), windows[:])
    tail, before = on_tensor[-1], series.copy()
    np.testing.assert_array_equal(tail.numpy(), series[n - win:])  # the tail window, a copy:
    tail += 1  # writing to a batch never writes to the series
    np.testing.assert_array_equal(series, before)
    picked = np.random.default_rng(seed).permutation(starts.size)[:5]
    np.testing.assert_array_equal(on_tensor[torch.from_numpy(picked)].numpy(), windows[picked])
    np.testing.assert_array_equal(on_tensor[picked].numpy(), windows[picked])
    np.testing.assert_array_equal(on_tensor[1:4].numpy(), windows[1:4])


def test_tensor_windows_view_the_series_until_indexed():
    torch = pytest.importorskip("torch")
    from tsadbench.datasets.windows import sliding_tensor_windows

    series = torch.zeros((200_000, 38))
    windows, _ = sliding_tensor_windows(series, 100, 1)
    assert windows._every_window.data_ptr() == series.data_ptr() and windows.shape == (199_901, 100, 38)
    column_view = torch.arange(60.0).reshape(20, 3)[:, 1:]  # a non-contiguous series is windowed as it is
    np.testing.assert_array_equal(sliding_tensor_windows(column_view, 4, 4)[0][:].numpy(),
                                  sliding_windows(column_view.numpy(), 4, 4)[0][:])
