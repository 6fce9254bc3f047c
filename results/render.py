"""Cells as text: percent with two decimals, `mean ± std` over seeds, marks after the number."""
from __future__ import annotations

import pandas as pd

from .aggregate import Cell


def cell_text(cell: Cell, latex: bool = False) -> str:
    """The cell as shown in a table (LaTeX source when `latex`)."""
    if cell.missing is not None:
        return cell.missing.latex if latex else cell.missing.symbol
    text = f"{100 * cell.mean:+.2f}" if cell.signed else f"{100 * cell.mean:.2f}"
    if latex and cell.signed:
        text = f"${text[0]}${text[1:]}"
    if cell.std is not None:
        text += (r"$\pm$" if latex else " ± ") + f"{100 * cell.std:.2f}"
    return text + "".join(mark.latex if latex else mark.symbol for mark in cell.marks)


def text_frame(cells: pd.DataFrame, latex: bool = False) -> pd.DataFrame:
    """Every cell of a frame of `Cell`s as text."""
    return cells.map(lambda cell: cell_text(cell, latex))
