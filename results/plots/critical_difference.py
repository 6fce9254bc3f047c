"""Critical-difference diagram (Demšar 2006, Fig. 1; the layout aeon and TSB-AD use): models at
their average rank on an axis (1 = best, on the left), better half labelled on the left, the rest
on the right; a thick bar joins models whose pairwise Wilcoxon-Holm tests do not differ, and the
Nemenyi critical difference is drawn above the axis for scale."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..rank_tests import ALPHA, RankComparison
from .common import WrittenFigure, safe_stem, save

ROW = 0.32  # inches per label row


def cd_figure(comparison: RankComparison, title: str, caption: str, stem: str, out: Path) -> WrittenFigure:
    """Draw `comparison` and save it as `<stem>.png` / `.pdf`."""
    k = len(comparison.models)
    order = np.argsort(comparison.ranks, kind="stable")
    left, right = order[: (k + 1) // 2], order[(k + 1) // 2:][::-1]
    rows = max(len(left), len(right))
    bars = len(comparison.groups)
    height = 1.0 + ROW * rows + 0.12 * bars
    figure, ax = plt.subplots(figsize=(7.4, height), layout="constrained")
    low, high = 1, max(k, 2)
    ax.set_xlim(low - 0.05 * (high - low) - 0.9, high + 0.05 * (high - low) + 0.9)
    first_row = -0.7 - 0.35 * bars
    ax.set_ylim(first_row - rows + 0.7, 1.6)
    ax.axis("off")
    ax.plot([low, high], [0, 0], color="black", lw=1)
    for tick in range(low, high + 1):
        ax.plot([tick, tick], [0, 0.12], color="black", lw=1)
        ax.text(tick, 0.2, str(tick), ha="center", va="bottom", fontsize=9)
    cd = comparison.critical_difference
    if cd <= high - low:
        ax.plot([low, low + cd], [1.05, 1.05], color="black", lw=1.5)
        for end in (low, low + cd):
            ax.plot([end, end], [0.95, 1.15], color="black", lw=1)
        ax.text(low + cd / 2, 1.2, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=8)
    group_y = [-0.25 - 0.35 * i for i in range(bars)]
    for y, group in zip(group_y, comparison.groups):
        positions = [comparison.ranks[comparison.models.index(m)] for m in group]
        ax.plot([min(positions) - 0.03, max(positions) + 0.03], [y, y], color="black", lw=4, solid_capstyle="round")
    for side, members in (("left", left), ("right", right)):
        edge = ax.get_xlim()[0] + 0.05 if side == "left" else ax.get_xlim()[1] - 0.05
        for row, index in enumerate(members):
            rank = comparison.ranks[index]
            y = first_row - row
            ax.plot([rank, rank, edge], [0, y, y], color="0.35", lw=0.9)
            ax.text(edge, y + 0.06, f"{comparison.models[index]} ({rank:.2f})", fontsize=9, va="bottom",
                    ha="left" if side == "left" else "right")
    ax.set_title(title, fontsize=10)
    return save(figure, out, safe_stem(stem), "Critical difference", title, caption)


def cd_caption(comparison: RankComparison, blocks: str) -> str:
    """What the diagram shows and the tests behind it."""
    test = comparison.friedman
    return (f"Average rank of each model over {len(comparison.blocks)} {blocks} on {comparison.metric} (1 = best; "
            f"ties share their mean rank). Thick bars join models whose pairwise Wilcoxon signed-rank tests, "
            f"Holm-corrected, do not differ at α = {ALPHA}; CD is the Nemenyi critical difference. Friedman "
            f"χ² = {test.chi2:.2f} (p = {test.p_chi2:.3g}), Iman-Davenport F = {test.f:.2f} (p = {test.p_f:.3g}).")
