"""Table cells from selected trials: one number (the selected trial) or mean ± std over seed
repeats, with the marks that say where it came from.

A cell whose number was chosen with test labels is an oracle cell and can only be built with the
oracle mark: `Cell` refuses it otherwise, so no table can show such a number unmarked.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import numpy as np
import pandas as pd

from .marks import INCOMPLETE, MISSING, NOT_COMPUTED, NOT_RUN, ORACLE, Mark
from .records import flat_value
from .select import Selection


class UnmarkedOracleError(ValueError):
    """A number chosen with test labels that was about to appear without the oracle mark."""


@dataclasses.dataclass(frozen=True)
class Cell:
    """One table cell: its values (one per aggregated trial, or per entity when `entities` names
    them) or the mark saying why it has none; `signed` shows a difference with its sign."""

    values: tuple[float, ...] = ()
    missing: Mark | None = None
    oracle: bool = False
    marks: tuple[Mark, ...] = ()
    trials: tuple[str, ...] = ()
    signed: bool = False
    entities: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.oracle and ORACLE not in self.marks:
            raise UnmarkedOracleError(
                f"a number chosen with test labels ({self.values}, trials {self.trials}) must carry "
                f"the oracle mark {ORACLE.symbol}")
        if bool(self.values) == (self.missing is not None):
            raise ValueError("a cell has either values or a missing mark, not both and not neither")

    @property
    def n(self) -> int:
        """How many trials the number aggregates."""
        return len(self.values)

    @property
    def mean(self) -> float | None:
        """The mean of the values (the value itself for one trial)."""
        return float(np.mean(self.values)) if self.values else None

    @property
    def median(self) -> float | None:
        """The median of the values."""
        return float(np.median(self.values)) if self.values else None

    @property
    def std(self) -> float | None:
        """The sample standard deviation (n - 1) over seeds; None for fewer than two, and for a mean
        over entities (whose spread goes to entity_summary.csv, not into the table)."""
        return float(np.std(self.values, ddof=1)) if self.n >= 2 and not self.entities else None


@dataclasses.dataclass(frozen=True)
class Table:
    """A table: `Cell`s, their ranks (1 best, 2 second, 0 neither), caption and footnotes;
    `rules` are the row positions that open the sanity baselines of a row group (a rule above)."""

    name: str
    caption: str
    cells: pd.DataFrame
    ranks: pd.DataFrame
    notes: tuple[str, ...]
    rules: tuple[int, ...] = ()


def baseline_rules(index: pd.Index, is_baseline: Callable[[Any], bool]) -> tuple[int, ...]:
    """Positions of the rows that start a run of sanity baselines after other rows of the same
    group (the first index level of a MultiIndex is the group)."""
    labels = list(index)
    group = (lambda label: label[0]) if isinstance(index, pd.MultiIndex) else (lambda label: None)
    return tuple(i for i in range(1, len(labels)) if is_baseline(labels[i]) and not is_baseline(labels[i - 1])
                 and group(labels[i]) == group(labels[i - 1]))


def section_uses_test_labels(report: dict[str, Any], key: str) -> bool:
    """Whether the protocol record holding `key` says its threshold saw the test labels."""
    section, _, rest = key.partition("/")
    node = report.get(section) if rest else None
    return isinstance(node, dict) and bool(node.get("uses_test_labels") or node.get("oracle"))


def finite_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def aggregate(selection: Selection | None, key: str) -> Cell:
    """The cell of `key` for one (model, dataset) pair, over its reported trials (the selected trial or
    its seed repeats); `n/r` when the pair was not run, `—` without a finished trial, `n/c` when no
    trial has the key."""
    if selection is None:
        return Cell(missing=NOT_RUN)
    if not selection.reported:
        return Cell(missing=MISSING)
    found = [(t, finite_number(flat_value(t.last, key))) for t in selection.reported]
    found = [(t, v) for t, v in found if v is not None]
    if not found:
        return Cell(missing=NOT_COMPUTED)
    oracle = selection.objective_uses_test_labels or any(section_uses_test_labels(t.last, key) for t, _ in found)
    marks = (ORACLE,) * oracle + (INCOMPLETE,) * (not selection.complete)
    return Cell(values=tuple(v for _, v in found), oracle=oracle, marks=marks,
                trials=tuple(t.trial_id for t, _ in found))


def key_present(keys: list[tuple[Selection, str]]) -> bool:
    """Whether any reported trial has a number under its pair's key."""
    return any(finite_number(flat_value(t.last, key)) is not None for s, key in keys for t in s.reported)


def rank_frame(cells: pd.DataFrame, groups: list[Any] | None = None) -> pd.DataFrame:
    """1 for the best mean of each column (within each group of rows), 2 for the second, else 0.

    Means are compared as shown (percent, two decimals), so equal-looking numbers rank equally;
    a column needs at least two numbers to rank.
    """
    ranks = pd.DataFrame(0, index=cells.index, columns=cells.columns)
    row_groups = ([cells.index] if groups is None else
                  [cells.index[cells.index.get_level_values(0) == group] for group in groups])
    for rows in row_groups:
        for column in cells.columns:
            shown = {row: round(100 * cells.at[row, column].mean, 2)
                     for row in rows if cells.at[row, column].values}
            if len(shown) < 2:
                continue
            distinct = sorted(set(shown.values()), reverse=True) + [None]
            for row, value in shown.items():
                ranks.at[row, column] = 1 if value == distinct[0] else 2 if value == distinct[1] else 0
    return ranks
