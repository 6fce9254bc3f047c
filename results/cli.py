"""`python -m tsadbench.results <grid folder>`: rebuild every table from stored records."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .tables import write_tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m results", description=__doc__)
    parser.add_argument("grid_dir", type=Path, help="a grid folder written by orchestrate.py")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: <grid_dir>/tables)")
    args = parser.parse_args(argv)
    try:
        written = write_tables(args.grid_dir, args.out)
    except FileNotFoundError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    for name, path in written.items():
        print(f"{name:12s} {path}")
    return 0
