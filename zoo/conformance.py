"""A conformance check any detector can run before cluster time is spent on it (after aeon's
`check_estimator`): build it on synthetic data, train, score, and check the promises the
orchestrator relies on. Pure model code: no Ray, no thresholds.

Checks, each reported pass/fail with a one-line reason:
  registered        a string `name` and `display_name`, found in the registry under that name
  config            the default and the given configurations validate; an unknown key and
                    win_size=0 are refused with ModelConfigError
  train one epoch   `train_epoch` returns finite float statistics; `validation_loss` is finite
  one finite score per point
                    for 1 and 3 channels and several lengths (the shortest it accepts, odd lengths, a tail
                    that no window stride fits), `_score` returns exactly one finite score per point
  same seed, same scores
                    two detectors built and trained with one seed score identically
  resume from state_dict
                    train 1 epoch, save `state_dict` (through torch.save), train a 2nd; a fresh
                    detector that loads the saved state and trains its 2nd epoch scores identically
  short series refused
                    a series shorter than `min_points` (the window, or more) is refused with a
                    ValueError naming win_size
"""
from __future__ import annotations

import dataclasses
import io
from typing import Any, Callable

import numpy as np
import torch

from .base import AnomalyDetector, DetectorConfig, ModelConfigError
from .registry import MODELS

CHANNEL_COUNTS = (1, 3)
MAX_WINDOWS = 64
SCORE_TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    check: str
    passed: bool
    detail: str

    def line(self, model: str) -> str:
        """'PASS  model  check: detail' (or FAIL), the line the command prints."""
        return f"{'PASS' if self.passed else 'FAIL'}  {model}  {self.check}: {self.detail}"


class CheckFailure(AssertionError):
    """A broken promise; the message is the line printed after FAIL."""


def synthetic_series(length: int, channels: int, seed: int = 0) -> np.ndarray:
    """Noisy sines of different periods, standardised like the pipeline's input, [length, channels]."""
    rng = np.random.default_rng([seed, length, channels])
    t = np.arange(length)[:, None]
    periods = 20.0 + 7.0 * np.arange(channels)[None, :]
    return (np.sin(2 * np.pi * t / periods) + 0.1 * rng.standard_normal((length, channels))).astype(np.float32)


def series_lengths(shortest: int, win_size: int) -> tuple[int, ...]:
    """The shortest series the detector accepts, a tail that half-fits a window, a longer odd length."""
    return tuple(dict.fromkeys((shortest, shortest + win_size + win_size // 2 + 1, shortest + 4 * win_size + 7)))


class _Context:
    """Builds and trains detectors of one class and configuration on synthetic data."""

    def __init__(self, cls: type[AnomalyDetector], values: dict[str, Any]):
        self.cls = cls
        self.values = values
        self.config = cls.Config.from_dict(values)
        self.train_length = max(8 * self.config.win_size, 256)
        self.min_points = cls(1, self.config, seed=0).min_points

    def trained(self, channels: int = 3, seed: int = 0, epochs: int = 1) -> AnomalyDetector:
        model = self.cls(channels, self.config, seed=seed)
        for _ in range(epochs):
            model.train_epoch(synthetic_series(self.train_length, channels), max_windows=MAX_WINDOWS)
        return model


def _check_registered(context: _Context) -> str:
    cls = context.cls
    for attribute in ("name", "display_name"):
        if not isinstance(getattr(cls, attribute, None), str):
            raise CheckFailure(f"{cls.__qualname__} has no string class attribute `{attribute}`")
    if MODELS.get(cls.name) is not cls:
        raise CheckFailure(f"{cls.__qualname__} is not registered as '{cls.name}': decorate it with @register")
    return f"'{cls.name}' ({cls.display_name})"


def _check_config(context: _Context) -> str:
    cls = context.cls
    if not (isinstance(cls.Config, type) and issubclass(cls.Config, DetectorConfig)):
        raise CheckFailure(f"{cls.__qualname__}.Config must be a dataclass derived from DetectorConfig")
    cls.Config.from_dict({})
    for bad, what in (({**context.values, "no_such_hyperparameter": 1}, "an unknown key"),
                      ({**context.values, "win_size": 0}, "win_size=0")):
        try:
            cls.Config.from_dict(bad)
        except ModelConfigError:
            continue
        raise CheckFailure(f"Config.from_dict accepted {what}; `validate` must raise ModelConfigError")
    return f"defaults and {context.values or 'the default values'} validate; bad values raise ModelConfigError"


def _check_training(context: _Context) -> str:
    model = context.cls(3, context.config, seed=0)
    stats = model.train_epoch(synthetic_series(context.train_length, 3), max_windows=MAX_WINDOWS)
    if not isinstance(stats, dict) or not all(isinstance(k, str) and np.isfinite(float(v)) for k, v in stats.items()):
        raise CheckFailure(f"_train_epoch must return a dict of finite floats, got {stats!r}")
    loss = model.validation_loss(synthetic_series(context.min_points + context.config.win_size + 1, 3, seed=1))
    if not np.isfinite(loss):
        raise CheckFailure(f"validation_loss is {loss}")
    if model.epochs_trained != 1:
        raise CheckFailure(f"epochs_trained is {model.epochs_trained} after one epoch")
    return f"statistics {sorted(stats)}, validation loss {loss:.4g}"


def _check_scores(context: _Context) -> str:
    lengths = series_lengths(context.min_points, context.config.win_size)
    for channels in CHANNEL_COUNTS:
        model = context.trained(channels)
        for length in lengths:
            series = synthetic_series(length, channels, seed=2)
            scores = np.asarray(model._score(series), dtype=np.float64)
            if scores.shape != (length,):
                raise CheckFailure(
                    f"a series of {length} points x {channels} channel(s): _score returned shape {scores.shape}, "
                    f"expected ({length},): one score per point (map window scores back with "
                    "tsadbench.datasets.windows.points_from_window_values; never drop the tail)")
            if not np.all(np.isfinite(scores)):
                raise CheckFailure(f"a series of {length} points x {channels} channel(s): "
                                   f"{int((~np.isfinite(scores)).sum())} scores are NaN or infinite")
    return f"lengths {list(lengths)} x channels {list(CHANNEL_COUNTS)}"


def _scores(model: AnomalyDetector, context: _Context) -> np.ndarray:
    return model.score(synthetic_series(context.min_points + 2 * context.config.win_size + 1, 3, seed=3))


def _check_seed(context: _Context) -> str:
    first, second = (_scores(context.trained(seed=7), context) for _ in range(2))
    if not np.allclose(first, second, **SCORE_TOLERANCE):
        raise CheckFailure(f"two detectors trained with seed 7 differ by up to {np.abs(first - second).max():.3g}; "
                           "draw every random number from the seed (torch.manual_seed, self.rng)")
    return "identical after one epoch"


def _check_resume(context: _Context) -> str:
    straight = context.trained(epochs=1)
    buffer = io.BytesIO()
    torch.save(straight.state_dict(), buffer)
    second_epoch = synthetic_series(context.train_length, 3)
    straight.train_epoch(second_epoch, max_windows=MAX_WINDOWS)
    expected = _scores(straight, context)
    resumed = context.cls(3, context.config, seed=0)
    buffer.seek(0)
    resumed.load_state_dict(torch.load(buffer, weights_only=False))
    if resumed.epochs_trained != 1:
        raise CheckFailure(f"after load_state_dict, epochs_trained is {resumed.epochs_trained}, expected 1")
    resumed.train_epoch(second_epoch, max_windows=MAX_WINDOWS)
    got = _scores(resumed, context)
    if not np.allclose(got, expected, **SCORE_TOLERANCE):
        raise CheckFailure(f"the resumed detector's scores differ by up to {np.abs(got - expected).max():.3g} from "
                           "uninterrupted training; state_dict must hold (copies of) every weight, optimiser and "
                           "random-generator state")
    return "2nd epoch after torch.save/torch.load matches uninterrupted training"


def _check_shared_pass(context: _Context) -> str:
    model = context.trained()
    series = synthetic_series(context.min_points + 3 * context.config.win_size + 5, 3, seed=4)
    scores, loss = model.score_set_and_loss(series)
    separate = model.score_set(series)
    if scores.keys() != separate.keys() or not all(np.array_equal(scores[k], separate[k]) for k in scores):
        raise CheckFailure("score_set_and_loss returned other scores than score_set: a `_window_scores_and_losses` or "
                           "`_score_set_and_loss` override must return exactly what the separate hooks return")
    expected = model.validation_loss(series)
    if loss != expected:
        raise CheckFailure(f"score_set_and_loss gave validation loss {loss!r}, validation_loss {expected!r}: the shared "
                           "pass must compute the same loss (and draw no global random numbers)")
    return "score_set_and_loss equals score_set and validation_loss, bit for bit"


def _check_short_series(context: _Context) -> str:
    shortest = context.min_points
    if shortest < 2:
        return "not applicable: a single point is a whole window"
    model = context.cls(3, context.config, seed=0)
    short = synthetic_series(shortest - 1, 3)
    for call, what in ((model.score, "score"), (lambda s: model.train_epoch(s, max_windows=MAX_WINDOWS), "train_epoch")):
        try:
            call(short)
        except ValueError as error:
            if "win_size" not in str(error):
                raise CheckFailure(f"{what} refused {shortest - 1} points but its message does not name win_size: "
                                   f"{error}") from error
            continue
        raise CheckFailure(f"{what} accepted a series of {shortest - 1} points, shorter than its "
                           f"min_points={shortest} (win_size={context.config.win_size})")
    return f"{shortest - 1} points refused by score and train_epoch"


CHECKS: dict[str, Callable[[_Context], str]] = {
    "registered": _check_registered,
    "config": _check_config,
    "train one epoch": _check_training,
    "one finite score per point": _check_scores,
    "same seed, same scores": _check_seed,
    "resume from state_dict": _check_resume,
    "one pass for scores and loss": _check_shared_pass,
    "short series refused": _check_short_series,
}


def check_detector(cls: type[AnomalyDetector], values: dict[str, Any] | None = None) -> list[CheckResult]:
    """Run every check on `cls` with the hyperparameters `values` (tiny ones keep it fast)."""
    values = dict(values or {})
    try:
        context = _Context(cls, values)
    except Exception as error:  # noqa: BLE001  (a broken detector is reported, never raised)
        return [CheckResult("config", False, f"{cls.__name__}.Config.from_dict({values}) raised "
                                             f"{type(error).__name__}: {error}")]
    results = []
    for name, check in CHECKS.items():
        try:
            results.append(CheckResult(name, True, check(context)))
        except Exception as error:  # noqa: BLE001
            detail = str(error) if isinstance(error, CheckFailure) else f"{type(error).__name__}: {error}"
            results.append(CheckResult(name, False, detail))
    return results
