"""Evaluation engine: threshold protocols, point adjustment and TSAD metrics (pure numpy).

Main entry points::

    evaluate(test_scores, labels, protocol="at-compat", train_scores=None, val_scores=None, anomaly_ratio=1.0)
    threshold_free_metrics(test_scores, labels, window=100)
    full_record(test_scores, labels, train_scores=None, val_scores=None, anomaly_ratio=1.0)
    PROTOCOLS  # name -> ThresholdProtocol(name, splits, uses_test_labels, ...)

Command line: ``python -m tsadbench.evaluation --scores S --labels L [--train-scores T] [--protocol NAME]``.
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
