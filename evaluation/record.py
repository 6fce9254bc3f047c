"""One call per evaluation: scores (+ train/val scores) under a threshold protocol -> a flat record.

A record is a flat dict of JSON scalars (str, bool, int, float, never NaN) whose keys depend only on
the protocol and the options, so a trial can report it every epoch. It carries the protocol name, the
splits its threshold saw, ``uses_test_labels`` and ``oracle``. Undefined ratios follow the documented
conventions of each metric module (0 when there is nothing to divide by).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike

from .affiliation import affiliation
from .event_f1 import event_f1_composite, event_f1_overlap, event_f1_revised_pa
from .point_adjust import DEFAULT_K_GRID, pak_auc, point_adjust
from .pointwise import confusion_counts, prf_from_counts
from .range_based import range_prf
from .ranking import average_precision, roc_auc
from .thresholds import PROTOCOLS, ProtocolInputs, get_protocol, optional_scores
from .validation import EvaluationInputError, predictions_and_labels, require_positive, scores_and_labels
from .vus import DEFAULT_THRESHOLDS, DEFAULT_WINDOW, period_window, range_auc_by_window


def _prf_keys(prefix: str, precision: float, recall: float, f1: float) -> dict:
    return {f"{prefix}precision": float(precision), f"{prefix}recall": float(recall), f"{prefix}f1": float(f1)}


def _pointwise_keys(prefix: str, pred: np.ndarray, labels: np.ndarray) -> dict:
    tp, fp, fn, _ = confusion_counts(pred, labels)
    return _prf_keys(prefix, *prf_from_counts(tp, fp, fn))


def threshold_dependent_metrics(
    pred: ArrayLike,
    labels: ArrayLike,
    *,
    range_alpha: float = 0.0,
    range_bias: str = "flat",
    range_cardinality: str = "one",
    k_grid: ArrayLike = DEFAULT_K_GRID,
) -> dict:
    """Every threshold-dependent metric of binary predictions, as flat keys.

    ``precision/recall/f1`` point-wise; ``pa_*`` point-adjusted (segment definition); ``pa_loop_*`` with
    the AT/OmniAnomaly loop; ``pak_auc_f1`` area under F1-PA%K over K (normalised, grid ``k_grid``);
    ``affiliation_*`` (Huet 2022); ``range_*`` (Tatbul 2018, parameters recorded as ``range_alpha``,
    ``range_bias``, ``range_cardinality``); ``event_composite_*``, ``event_overlap_*``,
    ``event_revised_pa_*`` (the three event-wise variants).
    """
    p, y = predictions_and_labels(pred, labels)
    require_positive(y, "recall and F1")
    record = {"n_predicted": int(p.sum())}
    record.update(_pointwise_keys("", p, y))
    record.update(_pointwise_keys("pa_", point_adjust(p, y), y))
    record.update(_pointwise_keys("pa_loop_", point_adjust(p, y, at_compat=True), y))
    record["pak_auc_f1"] = pak_auc(p, y, k_grid)
    aff = affiliation(p, y)
    record.update(_prf_keys("affiliation_", aff.precision, aff.recall, aff.f1))
    rng = range_prf(p, y, alpha=range_alpha, bias=range_bias, cardinality=range_cardinality)
    record.update(_prf_keys("range_", rng.precision, rng.recall, rng.f1))
    record.update({"range_alpha": rng.alpha, "range_bias": rng.bias, "range_cardinality": rng.cardinality})
    record.update(_prf_keys("event_composite_", *event_f1_composite(p, y)))
    record.update(_prf_keys("event_overlap_", *event_f1_overlap(p, y)))
    record.update(_prf_keys("event_revised_pa_", *event_f1_revised_pa(p, y)))
    return record


def evaluate(
    test_scores: ArrayLike,
    labels: ArrayLike,
    protocol: str = "at-compat",
    train_scores: ArrayLike | None = None,
    val_scores: ArrayLike | None = None,
    anomaly_ratio: float = 1.0,
    *,
    pot_q: float = 1e-3,
    pot_level: float = 0.99,
    epsilon_reg_level: int = 1,
    range_alpha: float = 0.0,
    range_bias: str = "flat",
    range_cardinality: str = "one",
) -> dict:
    """Evaluate test scores at the threshold chosen by ``protocol`` (predict ``score > threshold``).

    ``anomaly_ratio`` is in percent, as the AT-family repositories use it; ``pot_q``/``pot_level`` are
    read only by ``pot-train``, ``epsilon_reg_level`` (0: no penalty for
    flagged points, as SLMR on SMAP/MSL; 1: divided by their number) only by ``epsilon-train``. Keys: ``protocol``, ``threshold_splits``, ``uses_test_labels``, ``oracle``,
    ``threshold``, the protocol's own parameters, ``n_points``, ``n_anomalies``, and every key of
    :func:`threshold_dependent_metrics`. Labels must contain at least one anomaly.
    """
    proto = get_protocol(protocol)
    s, y = scores_and_labels(test_scores, labels)
    require_positive(y, "recall and F1")
    inputs = ProtocolInputs(
        s, y, optional_scores(train_scores, "train_scores"), optional_scores(val_scores, "val_scores"),
        float(anomaly_ratio), float(pot_q), float(pot_level), int(epsilon_reg_level),
    )
    choice = proto.threshold(inputs)
    record: dict = {
        "protocol": proto.name,
        "threshold_splits": proto.threshold_splits,
        "uses_test_labels": proto.uses_test_labels,
        "oracle": proto.oracle,
        "threshold": float(choice.threshold),
        **choice.parameters,
        "n_points": int(y.size),
        "n_anomalies": int(y.sum()),
    }
    record.update(threshold_dependent_metrics(
        s > choice.threshold, y, range_alpha=range_alpha, range_bias=range_bias, range_cardinality=range_cardinality
    ))
    return record


def threshold_free_metrics(
    test_scores: ArrayLike,
    labels: ArrayLike,
    *,
    window: int | str | None = DEFAULT_WINDOW,
    series: ArrayLike | None = None,
    n_thresholds: int = DEFAULT_THRESHOLDS,
) -> dict:
    """Metrics that need no threshold.

    Always ``roc_auc`` and ``pr_auc`` (average precision). Unless ``window`` is None, also the TSB-AD
    range metrics for buffers up to ``window``: ``vus_roc``, ``vus_pr`` (averaged over ℓ = 0..window),
    ``r_auc_roc``, ``r_auc_pr`` (at ℓ = window), and ``vus_window``. TSB-AD's ``get_metrics`` default is
    100; ``window="period"`` uses its period-based window (:func:`.vus.period_window`) of ``series``,
    the test data (its first channel when it has several). Needs both an anomaly and a normal point.
    """
    s, y = scores_and_labels(test_scores, labels)
    out = {"roc_auc": roc_auc(s, y), "pr_auc": average_precision(s, y)}
    if window == "period":
        if series is None:
            raise EvaluationInputError("window='period' needs the test data: pass series=<test series>")
        window = period_window(series)
    if window is not None:
        curves = range_auc_by_window(s, y, window, n_thresholds)
        out.update({
            "vus_roc": float(curves.roc.mean()), "vus_pr": float(curves.pr.mean()),
            "r_auc_roc": float(curves.roc[-1]), "r_auc_pr": float(curves.pr[-1]), "vus_window": int(window),
        })
    return out


def available_protocols(train_scores: object, val_scores: object) -> list[str]:
    """Names of the registered protocols whose score splits are all available."""
    have = {"test", *(["train"] if train_scores is not None else []), *(["val"] if val_scores is not None else [])}
    return [name for name, proto in PROTOCOLS.items() if set(proto.splits) <= have]


def full_record(
    test_scores: ArrayLike,
    labels: ArrayLike,
    train_scores: ArrayLike | None = None,
    val_scores: ArrayLike | None = None,
    anomaly_ratio: float = 1.0,
    *,
    protocols: Iterable[str] | None = None,
    window: int | str | None = DEFAULT_WINDOW,
    series: ArrayLike | None = None,
    **options: object,
) -> dict:
    """Threshold-free metrics plus, for each protocol, its record under keys ``"<protocol>/<key>"``.

    ``protocols`` defaults to every registered protocol whose splits were given; ``window`` and ``series``
    are those of :func:`threshold_free_metrics`. ``options`` are passed
    to :func:`evaluate` (``pot_q``, ``pot_level``, ``range_alpha``, ...).
    """
    names = available_protocols(train_scores, val_scores) if protocols is None else list(protocols)
    record = threshold_free_metrics(test_scores, labels, window=window, series=series)
    for name in names:
        rec = evaluate(test_scores, labels, name, train_scores, val_scores, anomaly_ratio, **options)
        record.update({f"{name}/{key}": value for key, value in rec.items()})
    return record
