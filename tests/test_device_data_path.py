"""The device data path of `TorchWindowDetector` (issue 12, item 3): each series moves to the
device once and is cut into windows there, and every number stays bit-identical to the old path,
which cut numpy windows and copied every batch to the device.

The oracle is that old path, copied here (not imported from the code under test): numpy windows
from `sliding_windows`, batches gathered with numpy and turned into tensors one by one."""
import numpy as np
import pytest
import torch

from tsadbench.datasets.windows import sliding_windows
from tsadbench.search_spaces import load_search_space, search_space_folder
from tsadbench.zoo import MODELS, TorchWindowDetector
from tsadbench.zoo.base import HEADLINE_SCORE
from tsadbench.zoo.slmr import SLMR

from tests.zoo_series import sines_with_anomalies

TORCH_MODELS = sorted(name for name, cls in MODELS.items()
                      if issubclass(cls, TorchWindowDetector) and cls.__module__.startswith("tsadbench."))


def smoke_config(name: str, **extra):
    """The model's tiny configuration: the `smoke:` values of its search-space file."""
    cls = MODELS[name]
    smoke = load_search_space(name, search_space_folder(name)).smoke
    return cls.Config.from_dict({**smoke, **extra})


class OldNumpyPath:
    """The batching as it was before the device path: numpy windows, one tensor per batch."""

    def _old_window_length(self) -> int:
        return self.config.win_size

    def _old_tensor(self, windows) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(windows), dtype=self.dtype, device=self.device)

    def _old_batches(self, windows):
        for first in range(0, windows.shape[0], self.config.batch_size):
            yield windows[first:first + self.config.batch_size]

    def _train_epoch(self, train, max_windows):
        windows = sliding_windows(train, self._old_window_length(), self.config.train_stride)[0]
        order = self.rng.permutation(windows.shape[0])
        if max_windows is not None:
            order = order[:max_windows]
        self.network.train()
        totals, n_batches = {}, 0
        for first in range(0, order.size, self.config.batch_size):
            batch = self._old_tensor(windows[np.sort(order[first:first + self.config.batch_size])])
            for key, value in self._training_step(batch).items():
                totals[key] = totals.get(key, 0.0) + value
            n_batches += 1
        self._on_epoch_end()
        return {key: total / n_batches for key, total in totals.items()}

    @torch.no_grad()
    def _validation_loss(self, series):
        self.network.eval()
        windows, _ = sliding_windows(series, self.config.win_size, self.config.win_size)
        return float(torch.cat([self._window_losses(self._old_tensor(b)) for b in self._old_batches(windows)]).mean())

    @torch.no_grad()
    def _windowed_scores(self, series, window_scores):
        from tsadbench.datasets.windows import points_from_window_values

        self.network.eval()
        stride = self.config.score_stride or self.config.win_size
        windows, starts = sliding_windows(series, self.config.win_size, stride)
        parts = [window_scores(self._old_tensor(batch)) for batch in self._old_batches(windows)]
        return {name: points_from_window_values(torch.cat([p[name].cpu() for p in parts]).numpy(), starts,
                                                series.shape[0]) for name in parts[0]}


class OldSLMRPath(OldNumpyPath):
    """SLMR's own validation and scoring loops as they were (windows of W + 1 points)."""

    def _old_window_length(self) -> int:
        return self.config.win_size + 1

    @torch.no_grad()
    def _validation_loss(self, series):
        self.network.eval()
        windows, _ = sliding_windows(series, self.config.win_size + 1, 1)
        return float(torch.cat([self._window_losses(self._old_tensor(b)) for b in self._old_batches(windows)]).mean())

    @torch.no_grad()
    def _score(self, series):
        from tsadbench.datasets.windows import points_from_window_ends

        self.network.eval()
        win = self.config.win_size
        _, starts = sliding_windows(series, win + 1, 1)
        windows, _ = sliding_windows(series, win, 1)
        forecasts, last_steps = [], []
        for batch in self._old_batches(windows):
            forecast, reconstruction = self.network(self._old_tensor(batch))
            forecasts.append(forecast)
            last_steps.append(reconstruction[:, -1])
        observed = self._old_tensor(series[win:, self.targets])
        errors = self._point_errors(torch.cat(forecasts)[:-1], torch.cat(last_steps)[1:], observed).cpu().numpy()
        return points_from_window_ends(errors, starts, win + 1, series.shape[0])


def old_path_class(cls):
    mixin = OldSLMRPath if issubclass(cls, SLMR) else OldNumpyPath
    return type(f"Old{cls.__name__}", (mixin, cls), {})


def run_recipe(model, train, val, test, epochs=3, max_windows=150):
    """Everything a trial computes from the data: per-epoch training statistics, then the
    validation loss and every score of every split."""
    record = {"train": [model.train_epoch(train, max_windows=max_windows) for _ in range(epochs)]}
    record["val_loss"] = model.validation_loss(val)
    for split, series in (("train", train), ("val", val), ("test", test)):
        record[f"scores_{split}"] = model.score_set(series)
    return record


CASES = [(name, {}) for name in TORCH_MODELS] + [("mlp_autoencoder", {"train_stride": 3, "score_stride": 7})]


@pytest.mark.parametrize("name,extra", CASES, ids=[f"{n}{'-strided' if e else ''}" for n, e in CASES])
def test_device_path_is_bit_identical_to_the_numpy_path_on_cpu(name, extra):
    train, test, _ = sines_with_anomalies(n_train=420, n_test=333)
    train, val = train[:300], train[300:]
    config = smoke_config(name, **extra)
    cls = MODELS[name]
    new = run_recipe(cls(3, config, seed=5), train, val, test)
    old = run_recipe(old_path_class(cls)(3, config, seed=5), train, val, test)
    assert new["train"] == old["train"]
    assert new["val_loss"] == old["val_loss"]
    for split in ("train", "val", "test"):
        assert new[f"scores_{split}"].keys() == old[f"scores_{split}"].keys()
        for key, values in new[f"scores_{split}"].items():
            assert values.dtype == np.float64
            np.testing.assert_array_equal(values, old[f"scores_{split}"][key], err_msg=f"{name} {split} {key}")
    assert np.isfinite(new["scores_test"][HEADLINE_SCORE]).all()


def test_each_series_moves_to_the_device_once_and_no_batch_comes_from_the_host(monkeypatch):
    from tsadbench.zoo import device_series

    moved = []
    original = device_series.to_device
    monkeypatch.setattr(device_series, "to_device", lambda series, *a: moved.append(series) or original(series, *a))
    host_batches = []

    class Spy(MODELS["slmr"]):
        def _to_tensor(self, windows):
            host_batches.append(not isinstance(windows, torch.Tensor))
            return super()._to_tensor(windows)

    train, test, _ = sines_with_anomalies(n_train=420, n_test=333)
    train, val = train[:300], train[300:]
    for cls in (MODELS["mlp_autoencoder"], Spy):
        moved.clear()
        model = cls(3, smoke_config(cls.name), seed=0)
        for _ in range(3):
            model.train_epoch(train, max_windows=100)
            model.validation_loss(val)
            for series in (train, val, test):
                model.score(series)
        assert [id(series) for series in moved] == [id(train), id(val), id(test)]
    assert not any(host_batches)


def test_the_device_copy_belongs_to_one_live_array_and_follows_the_dtype():
    from tsadbench.zoo.device_series import DeviceSeries

    cache = DeviceSeries(torch.device("cpu"), torch.float32, capacity=2)
    split = np.arange(12, dtype=np.float32).reshape(6, 2)
    split.setflags(write=False)  # as the object store hands splits out
    tensor = cache(split)
    assert tensor.data_ptr() == split.ctypes.data  # on the CPU, the array's own memory
    assert cache(split) is tensor
    assert cache(split[:3]) is not tensor  # a view at the same address is another array
    converted = np.arange(12, dtype=np.float64).reshape(6, 2)  # copied to float32: the entry keeps no reference
    cache(converted)
    assert len(cache) == 2  # at most `capacity` copies
    del converted
    assert len(cache) == 1  # the dead array's entry is gone, so a recycled id() finds nothing
    other = np.ones((6, 2), dtype=np.float64)
    np.testing.assert_array_equal(cache(other).numpy(), other)
    cache.clear(torch.float64)
    assert cache(other).dtype == torch.float64 and len(cache) == 1


def test_set_dtype_drops_the_device_copies():
    train, _, _ = sines_with_anomalies(n_train=300, n_test=10)
    model = MODELS["mlp_autoencoder"](3, smoke_config("mlp_autoencoder"), seed=0)
    model.score(train)
    model.set_dtype(torch.float64)
    assert model._series_on_device(train).dtype == torch.float64
    assert np.isfinite(model.score(train)).all()
