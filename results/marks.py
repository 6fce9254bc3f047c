"""The marks a table cell can carry and what each means: one definition for every output format."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Mark:
    """A symbol shown in a cell (after a number, or instead of one), its LaTeX form and meaning."""

    symbol: str
    latex: str
    meaning: str


ORACLE = Mark("‡", r"$^\ddagger$",
              "oracle: chosen with test labels (the threshold protocol or the tuning objective saw them)")
INCOMPLETE = Mark("†", r"$^\dagger$",
                  "experiment not finished: best of the trials finished so far")
MISSING = Mark("—", "--", "no finished trial (every trial failed, or none has reported yet)")
NOT_RUN = Mark("n/r", "n/r", "not run in this grid")
NOT_COMPUTED = Mark("n/c", "n/c", "not in the trial records (metric or protocol not computed)")

#: Marks that follow a number, in the order they are printed.
SUFFIXES = (ORACLE, INCOMPLETE)
