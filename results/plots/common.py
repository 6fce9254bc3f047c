"""Shared figure plumbing: the Agg backend, one record per written figure, PNG + PDF output."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

PNG_DPI = 110


@dataclasses.dataclass(frozen=True)
class WrittenFigure:
    """A figure on disk: its group in the report, title, caption and files."""

    group: str
    title: str
    caption: str
    png: Path
    pdf: Path


def save(figure: Figure, out: Path, stem: str, group: str, title: str, caption: str) -> WrittenFigure:
    """Write `figure` as `<stem>.png` and `<stem>.pdf` under `out` and close it."""
    out.mkdir(parents=True, exist_ok=True)
    png, pdf = out / f"{stem}.png", out / f"{stem}.pdf"
    figure.savefig(png, dpi=PNG_DPI, bbox_inches="tight")
    figure.savefig(pdf, bbox_inches="tight")
    plt.close(figure)
    return WrittenFigure(group, title, caption, png, pdf)


def safe_stem(text: str) -> str:
    """A file-name stem from a dataset or experiment name."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text)


def integer_axis(ax: Axes) -> None:
    """Whole-number ticks on the x axis (epochs, trials), at least one unit wide so that a single
    point does not get a row of crowded fractional ticks."""
    low, high = ax.get_xlim()
    if high - low < 2:
        middle = round((low + high) / 2)
        ax.set_xlim(middle - 1, middle + 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
