"""Threshold protocols: named, registered objects that say which data each one looks at.

Every protocol turns scores into a threshold; predictions are always ``test_score > threshold``
(the Anomaly-Transformer rule). ``splits`` lists the score splits a protocol reads and
``uses_test_labels`` whether it looks at the test labels; a protocol that does is an *oracle*: its
figures are reported as such and must never select a model. Percentiles use numpy's default linear
interpolation, as the AT solver does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .best_f1 import best_f1, f1_at_thresholds
from .epsilon import epsilon_threshold
from .spot import pot_threshold
from .validation import EvaluationInputError, as_scores

#: STformer's test-time sweep of the anomaly ratio: ``np.linspace(0, 3, 500)`` percent.
RATIO_SWEEP_GRID = np.linspace(0.0, 3.0, 500)


class ProtocolInputs(NamedTuple):
    """Everything a protocol may read; a protocol is shown only what it declares (the rest is None)."""

    test_scores: np.ndarray | None
    labels: np.ndarray | None
    train_scores: np.ndarray | None
    val_scores: np.ndarray | None
    anomaly_ratio: float
    pot_q: float
    pot_level: float
    epsilon_reg_level: int = 1


class ThresholdChoice(NamedTuple):
    """A threshold and the protocol-specific parameters that produced it (flat, JSON scalars)."""

    threshold: float
    parameters: dict


@dataclass(frozen=True)
class ThresholdProtocol:
    """A named way of choosing the threshold, with the data it reads and where it comes from."""

    name: str
    splits: tuple[str, ...]
    uses_test_labels: bool
    description: str
    choose: Callable[[ProtocolInputs], ThresholdChoice] = field(repr=False, compare=False)

    @property
    def oracle(self) -> bool:
        """True when the threshold was chosen with test labels."""
        return self.uses_test_labels

    @property
    def threshold_splits(self) -> str:
        """The splits the threshold saw, joined by ``+`` (e.g. ``"train+test"``)."""
        return "+".join(self.splits)

    def threshold(self, inputs: ProtocolInputs) -> ThresholdChoice:
        """Choose the threshold from the declared data only; refuse inputs that lack a declared split."""
        for split in self.splits:
            if getattr(inputs, f"{split}_scores") is None:
                raise EvaluationInputError(
                    f"protocol {self.name!r} needs {split} scores; pass {split}_scores=... "
                    f"(CLI: --{split}-scores FILE), or choose a protocol that does not read the {split} split"
                )
        visible = inputs._replace(
            test_scores=inputs.test_scores if "test" in self.splits else None,
            train_scores=inputs.train_scores if "train" in self.splits else None,
            val_scores=inputs.val_scores if "val" in self.splits else None,
            labels=inputs.labels if self.uses_test_labels else None,
        )
        return self.choose(visible)


def _check_ratio(ratio: float) -> float:
    ratio = float(ratio)
    if not 0.0 <= ratio <= 100.0:
        raise EvaluationInputError(f"anomaly_ratio is a percentage and must lie in [0, 100]; got {ratio}")
    return ratio


def _percentile_of(getter: Callable[[ProtocolInputs], np.ndarray]) -> Callable[[ProtocolInputs], ThresholdChoice]:
    def choose(inputs: ProtocolInputs) -> ThresholdChoice:
        ratio = _check_ratio(inputs.anomaly_ratio)
        return ThresholdChoice(float(np.percentile(getter(inputs), 100.0 - ratio)), {"anomaly_ratio": ratio})

    return choose


def _train_and_test(inputs: ProtocolInputs) -> np.ndarray:
    # Anomaly-Transformer solver.test(): combined_energy = concatenate([train_energy, test_energy]).
    return np.concatenate((inputs.train_scores, inputs.test_scores))


def _ratio_sweep(inputs: ProtocolInputs) -> ThresholdChoice:
    # STformer solver.test(): for r in linspace(0, 3, 500): thresh = percentile(combined, 100 - r),
    # AT-loop point adjustment, keep the best F1 (ties to the larger r).
    thresholds = np.percentile(_train_and_test(inputs), 100.0 - RATIO_SWEEP_GRID)
    f1 = f1_at_thresholds(inputs.test_scores, inputs.labels, thresholds, adjust=True, at_compat=True)[2]
    best = RATIO_SWEEP_GRID.size - 1 - int(np.argmax(f1[::-1]))
    return ThresholdChoice(float(thresholds[best]), {"chosen_ratio": float(RATIO_SWEEP_GRID[best])})


def _best_f1(inputs: ProtocolInputs) -> ThresholdChoice:
    """The best PA-F1 threshold; beside it, the best point-wise F1 over all thresholds (TSB-AD's
    oracle `Standard-F1`), with its own threshold, as ``best_pointwise_*`` parameters."""
    pointwise = best_f1(inputs.test_scores, inputs.labels, adjust=False)
    return ThresholdChoice(best_f1(inputs.test_scores, inputs.labels, adjust=True).threshold, {
        "best_pointwise_threshold": pointwise.threshold, "best_pointwise_precision": pointwise.precision,
        "best_pointwise_recall": pointwise.recall, "best_pointwise_f1": pointwise.f1})


def _pot(inputs: ProtocolInputs) -> ThresholdChoice:
    fit = pot_threshold(inputs.train_scores, q=inputs.pot_q, level=inputs.pot_level)
    return ThresholdChoice(
        fit.threshold,
        {"pot_q": float(inputs.pot_q), "pot_level": float(inputs.pot_level), "pot_gamma": fit.gamma,
         "pot_sigma": fit.sigma, "pot_initial_threshold": fit.initial_threshold},
    )


def _epsilon(inputs: ProtocolInputs) -> ThresholdChoice:
    fit = epsilon_threshold(inputs.train_scores, reg_level=inputs.epsilon_reg_level)
    return ThresholdChoice(fit.threshold, {"epsilon_reg_level": int(inputs.epsilon_reg_level), "epsilon_z": fit.z})


_REGISTRY: dict[str, ThresholdProtocol] = {}


def register(protocol: ThresholdProtocol) -> ThresholdProtocol:
    """Add a protocol to the registry; names are unique."""
    if protocol.name in _REGISTRY:
        raise ValueError(f"threshold protocol {protocol.name!r} is already registered")
    _REGISTRY[protocol.name] = protocol
    return protocol


register(ThresholdProtocol(
    "at-compat", ("train", "test"), False,
    "percentile 100 - anomaly_ratio of train ∪ test scores (Anomaly-Transformer, TransMamba)",
    _percentile_of(_train_and_test)))
register(ThresholdProtocol(
    "ratio-sweep", ("train", "test"), True,
    "STformer: anomaly ratio swept over linspace(0, 3, 500) %, best AT-loop PA-F1 on test labels kept",
    _ratio_sweep))
register(ThresholdProtocol(
    "best-f1", ("test",), True,
    "exact best PA-F1 over all thresholds on test labels (Dual-STF 'optimal', TWavefussion); its record also "
    "holds the best point-wise F1 over all thresholds (best_pointwise_*)",
    _best_f1))
register(ThresholdProtocol(
    "pot-train", ("train",), False,
    "SPOT initialised on train scores with fixed q and level (OmniAnomaly, SLMR pot_eval)",
    _pot))
register(ThresholdProtocol(
    "epsilon-train", ("train",), False,
    "telemanom's epsilon = mean + z·std of train scores, z chosen by the pruning criterion (MTAD-GAT, SLMR)",
    _epsilon))
register(ThresholdProtocol(
    "train-percentile", ("train",), False,
    "percentile 100 - anomaly_ratio of train scores", _percentile_of(lambda i: i.train_scores)))
register(ThresholdProtocol(
    "val-percentile", ("val",), False,
    "percentile 100 - anomaly_ratio of validation scores", _percentile_of(lambda i: i.val_scores)))
register(ThresholdProtocol(
    "test-percentile", ("test",), False,
    "percentile 100 - anomaly_ratio of test scores (label-free but transductive)",
    _percentile_of(lambda i: i.test_scores)))

#: Read-only view of the registered protocols, by name.
PROTOCOLS: Mapping[str, ThresholdProtocol] = MappingProxyType(_REGISTRY)


def get_protocol(name: str) -> ThresholdProtocol:
    """The registered protocol called ``name``; an unknown name lists the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise EvaluationInputError(
            f"unknown threshold protocol {name!r}; known protocols: {', '.join(sorted(_REGISTRY))}"
        ) from None


def optional_scores(scores: ArrayLike | None, name: str) -> np.ndarray | None:
    """Validate optional train/val scores (None stays None)."""
    return None if scores is None else as_scores(scores, name)
