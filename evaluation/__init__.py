"""Evaluation engine: threshold protocols, point adjustment and TSAD metrics (pure numpy).

Main entry points::

    evaluate(test_scores, labels, protocol="at-compat", train_scores=None, val_scores=None, anomaly_ratio=1.0)
    threshold_free_metrics(test_scores, labels, window=100)
    full_record(test_scores, labels, train_scores=None, val_scores=None, anomaly_ratio=1.0)
    PROTOCOLS  # name -> ThresholdProtocol(name, splits, uses_test_labels, ...)

Command line: ``python -m tsadbench.evaluation --scores S --labels L [--train-scores T] [--protocol NAME]``.

Where we differ from the reference code (every other metric agrees with TSB-AD, ahstat's affiliation
package, prts, tadpak and the Anomaly-Transformer loop to 1e-15; each difference is pinned in
``tests/test_evaluation_reference_differences.py``):

* event-wise F1: TSB-AD's ``basic_metrics.py`` ends a ground-truth event at ``tim - 1`` when the labels
  end inside it, so the last point of a segment that reaches the end of the series cannot detect it;
  here every point of the segment can (:mod:`.event_f1`).
* range-based metrics: TSB-AD's ``range_convers_new`` finds no range in an all-ones prediction (it reads
  range bounds off the changes of the series, and a constant series has none) and XORs the labels,
  which fails on float labels; here an all-ones prediction is one range, and bool, int and float
  labels give the same ranges (:mod:`.range_based`).
* affiliation: ahstat's package returns NaN precision when nothing is predicted; here it is 0, as every
  undefined ratio of this package (:mod:`.affiliation`).
* PA%K: tadpak compares the hits with ``k / 100 * len`` in floating point (``29 / 100 * 100`` is
  28.999999999999996, so 29 hits of 100 pass K = 29); here ``hits * 100 > k * len`` is exact
  (:mod:`.point_adjust`).
* VUS: TSB-AD's leaderboard sets the buffer from the series' period (``find_length_rank``), not the 100
  of ``get_metrics``' default: ``window="period"`` (CLI ``--window period``, ``orchestrate.py
  --vus-window period``) gives leaderboard-comparable numbers.
"""

from .affiliation import Affiliation, affiliation, affiliation_from_events
from .best_f1 import ThresholdF1, best_f1, f1_at_thresholds
from .epsilon import EpsilonThreshold, epsilon_threshold
from .event_f1 import event_f1_composite, event_f1_overlap, event_f1_revised_pa
from .point_adjust import pak_auc, pak_f1_curve, point_adjust, point_adjust_k
from .pointwise import PRF, precision_recall_f1
from .range_based import RangePRF, range_prf
from .ranking import average_precision, roc_auc
from .score_postprocessing import SCORE_POSTPROCESSING, entity_minmax, postprocess_scores
from .record import evaluate, full_record, threshold_dependent_metrics, threshold_free_metrics
from .spot import PotThreshold, pot_threshold
from .thresholds import PROTOCOLS, ThresholdProtocol, get_protocol
from .tsb_ad import tsb_ad_metrics
from .validation import EvaluationInputError
from .vus import period_window, range_auc, range_auc_by_window, vus

__all__ = [
    "PROTOCOLS",
    "PRF",
    "SCORE_POSTPROCESSING",
    "Affiliation",
    "EpsilonThreshold",
    "EvaluationInputError",
    "PotThreshold",
    "RangePRF",
    "ThresholdF1",
    "ThresholdProtocol",
    "affiliation",
    "affiliation_from_events",
    "average_precision",
    "best_f1",
    "entity_minmax",
    "epsilon_threshold",
    "evaluate",
    "event_f1_composite",
    "event_f1_overlap",
    "event_f1_revised_pa",
    "f1_at_thresholds",
    "full_record",
    "get_protocol",
    "pak_auc",
    "pak_f1_curve",
    "period_window",
    "point_adjust",
    "point_adjust_k",
    "postprocess_scores",
    "pot_threshold",
    "precision_recall_f1",
    "range_auc",
    "range_auc_by_window",
    "range_prf",
    "roc_auc",
    "threshold_dependent_metrics",
    "threshold_free_metrics",
    "tsb_ad_metrics",
    "vus",
]
