"""What the tables show: each column's report key, short header and the variant it names.

A key may name `{protocol}`: the report section of the threshold protocol the table reads for each
model (the headline protocol in the main table, a label-free one in the honest table).
"""
from __future__ import annotations

import dataclasses

from .marks import ORACLE

DEFAULT_PROTOCOL = "at-compat"
#: The label-free protocol every trial reports beside its headline (tuning.objectives.CLEAN_PROTOCOL).
CLEAN_PROTOCOL = "val-percentile"
ORACLE_SECTION = "best_f1"
THRESHOLD_FREE = "threshold_free"
#: The report section of the scores a model offers beside its headline (records.csv column `score`).
EXTRA_SCORES = "extra_scores"


def section_of(protocol: str) -> str:
    """The report section of a threshold protocol ('at-compat' -> 'at_compat')."""
    return protocol.replace("-", "_")


@dataclasses.dataclass(frozen=True)
class Column:
    """A column: a flattened report key ('{protocol}/pa_f1') under a short header.

    `description` is its footnote; `variant` lists keys whose values name the metric's variant
    (shown in the footnote); an `optional` column is shown only where some record has it.
    """

    header: str
    key: str
    description: str
    variant: tuple[str, ...] = ()
    optional: bool = False

    def key_for(self, protocol: str) -> str:
        """The report key when the table reads `protocol`'s record."""
        return self.key.format(protocol=section_of(protocol))

    @property
    def reads_protocol(self) -> bool:
        """Whether the column's number depends on the table's threshold protocol."""
        return "{protocol}" in self.key


_PA = ("precision, recall and F1 after point adjustment (segment-wise PA, Xu et al., WWW 2018: once any "
       "point of a labelled segment is predicted, the whole segment counts as predicted), predicting "
       "score > the threshold of the model's headline protocol")
_AT = "at the threshold protocol named below for each model"

MAIN_COLUMNS = (
    Column("P", "{protocol}/pa_precision", _PA),
    Column("R", "{protocol}/pa_recall", _PA),
    Column("F1", "{protocol}/pa_f1", _PA),
)

HONEST_COLUMNS = (
    Column("F1", "{protocol}/f1", f"point-wise F1 without adjustment, {_AT}"),
    Column("PA%K", "{protocol}/pak_auc_f1",
           f"area under F1 after PA%K against K = 0..100 % (Kim et al., AAAI 2022), normalised to [0, 1], {_AT}",
           optional=True),
    Column("Aff-F", "{protocol}/affiliation_f1", f"affiliation F1 (Huet et al., KDD 2022), {_AT}", optional=True),
    Column("R-F1", "{protocol}/range_f1", f"range-based F1 (Tatbul et al., NeurIPS 2018), {_AT}",
           variant=("{protocol}/range_alpha", "{protocol}/range_bias", "{protocol}/range_cardinality"),
           optional=True),
    Column("Ev-F1", "{protocol}/event_composite_f1",
           f"event-wise F1, composite variant (Garg et al., TNNLS 2021: point-wise precision, event-wise recall), "
           f"{_AT}", optional=True),
    Column("ROC", f"{THRESHOLD_FREE}/roc_auc", "point-wise ROC-AUC of the scores (threshold-free)"),
    Column("PR", f"{THRESHOLD_FREE}/pr_auc", "point-wise PR-AUC (average precision) of the scores (threshold-free)"),
    Column("V-ROC", f"{THRESHOLD_FREE}/vus_roc",
           "VUS-ROC (Paparrizos et al., VLDB 2022; TSB-AD definition), averaged over buffers 0..vus_window",
           variant=(f"{THRESHOLD_FREE}/vus_window",), optional=True),
    Column("V-PR", f"{THRESHOLD_FREE}/vus_pr",
           "VUS-PR (Paparrizos et al., VLDB 2022; TSB-AD definition), averaged over buffers 0..vus_window",
           variant=(f"{THRESHOLD_FREE}/vus_window",), optional=True),
    Column(f"PA-F1{ORACLE.symbol}", f"{ORACLE_SECTION}/pa_f1",
           "the best F1 after point adjustment over all thresholds, chosen on the test labels (oracle)",
           optional=True),
    Column(f"Best-F1{ORACLE.symbol}", f"{ORACLE_SECTION}/best_pointwise_f1",
           "the best point-wise F1 (no adjustment) over all thresholds, chosen on the test labels (oracle; "
           "TSB-AD's Standard-F1)", optional=True),
)
