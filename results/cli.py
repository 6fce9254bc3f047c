"""`python -m tsadbench.results <grid folder>`: rebuild every table, figure and the HTML report
from the stored trial records alone (no Ray, no model, nothing rerun)."""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from .figure_helper import FigureHelper
from .report import write_report


def main(argv: list[str] | None = None) -> int:
    """Write everything and print each written file; 2 when the folder holds no experiment."""
    parser = argparse.ArgumentParser(prog="python -m tsadbench.results", description=__doc__)
    parser.add_argument("grid_dir", type=Path, help="a grid folder written by orchestrate.py")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: <grid_dir>/tables)")
    parser.add_argument("--no-figures", action="store_true", help="tables and report only (faster)")
    args = parser.parse_args(argv)
    try:
        with (FigureHelper.start() if not args.no_figures else None) or contextlib.nullcontext() as helper:
            written = write_report(args.grid_dir, args.out, figures=not args.no_figures, helper=helper)
    except FileNotFoundError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    width = max(map(len, written))
    for name, path in written.items():
        print(f"{name:{width}s} {path}")
    return 0
