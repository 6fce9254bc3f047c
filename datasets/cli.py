"""The command line of `python -m tsadbench.datasets`: prepare, download, info."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .download import SOURCES, download
from .info import collect, format_table, to_json
from .prepare import prepare
from .raw import READERS, USER_LAYOUTS, ReadOptions

DEFAULT_ROOT = Path("data")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its three sub-commands."""
    parser = argparse.ArgumentParser(prog="python -m tsadbench.datasets",
                                     description="Prepare, download and inspect TSAD datasets.")
    commands = parser.add_subparsers(dest="command", required=True)
    names = ", ".join(READERS)

    prep = commands.add_parser("prepare", help="convert a raw layout to the canonical npz store")
    prep.add_argument("name", help=f"dataset: {names}, or any name with --layout {' or '.join(USER_LAYOUTS)}")
    prep.add_argument("--from", dest="source", type=Path, required=True,
                      help="folder holding the raw files (any layout the dataset comes in); with --layout csv or tsb-ad also one file")
    prep.add_argument("--root", type=Path, default=DEFAULT_ROOT,
                      help=f"canonical store to write (default: {DEFAULT_ROOT})")
    prep.add_argument("--layout", help="force a layout instead of detecting it; your own files: "
                                       "csv (CSV/Parquet with --label-column) or tsb-ad (TSB-AD-U/M files)")
    prep.add_argument("--drop-startup-hours", type=float, default=0.0,
                      help="SWaT/WADI: drop the first hours of the training series")
    prep.add_argument("--label-column", help="--layout csv: the column of 0/1 labels")
    prep.add_argument("--time-column", help="--layout csv: a time column (numbers or dates, increasing), not a channel")
    split = prep.add_mutually_exclusive_group()
    split.add_argument("--train-rows", type=int, help="--layout csv: the first N rows of each file are train")
    split.add_argument("--test", type=Path, help="--layout csv: the test file (or folder of same-named test files)")
    prep.add_argument("--overwrite", action="store_true", help="replace an existing prepared dataset")

    fetch = commands.add_parser("download", help="fetch a public dataset from its original source")
    fetch.add_argument("name", help=f"dataset: {', '.join(SOURCES)}")
    fetch.add_argument("--to", type=Path, help="destination folder (default: data/raw/<NAME>)")
    fetch.add_argument("--mirror", help="base URL serving the same relative paths (instead of the sources)")

    show = commands.add_parser("info", help="print the statistics of a canonical store")
    show.add_argument("--root", type=Path, default=DEFAULT_ROOT,
                      help=f"canonical store to read (default: {DEFAULT_ROOT})")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show.add_argument("--entities", action="store_true", help="add one line per entity")
    return parser


def run(args: argparse.Namespace) -> None:
    """Carry out one parsed command, printing its result."""
    if args.command == "prepare":
        entry = prepare(args.name, args.source, args.root, layout=args.layout,
                        options=ReadOptions(drop_startup_hours=args.drop_startup_hours, label_column=args.label_column,
                                            time_column=args.time_column, train_rows=args.train_rows,
                                            test=args.test),
                        overwrite=args.overwrite)
        print(f"prepared {entry['entities']} entities of {args.name} into {args.root} "
              f"(layout {entry['preparation']['layout']}; manifest {args.root / 'MANIFEST.json'})")
    elif args.command == "download":
        dest = args.to or Path("data/raw") / args.name
        download(args.name, dest, mirror=args.mirror)
        print(f"downloaded {args.name} into {dest}; next: python -m tsadbench.datasets prepare "
              f"{args.name} --from {dest}")
    else:
        stats = collect(args.root)
        print(to_json(stats, args.entities) if args.json else format_table(stats, args.entities))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 on success, 2 with a one-line `error:` message on bad input."""
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except (ValueError, OSError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
