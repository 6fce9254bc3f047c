"""Command line: evaluate scores produced anywhere.

    python -m tsadbench.evaluation --scores S --labels L [--train-scores T] [--val-scores V]
                                   [--protocol NAME] [--anomaly-ratio R] [--window W | --window period
                                   --series DATA] [--json]

Files are ``.npy`` or one-column ``.csv`` (an optional header line is skipped), one value per time point;
``--series`` (the test data, for the period-based VUS window) may have several columns: the first is used.
With ``--protocol`` the record of that protocol is printed next to the threshold-free metrics; without
it, every protocol whose score splits were given, under ``<protocol>/<key>`` keys. Bad input ends with a
one-line error and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .record import evaluate, full_record, threshold_free_metrics
from .thresholds import PROTOCOLS
from .validation import EvaluationInputError


def load_vector(path: str, one_column: bool = True) -> np.ndarray:
    """Values from a ``.npy`` or ``.csv`` file: one per time point, or any number of columns."""
    data = _load(path)
    if one_column:
        data = data[:, 0] if data.ndim == 2 and data.shape[1] == 1 else data
        if data.ndim != 1:
            raise EvaluationInputError(f"{path}: expected one value per time point, got shape {data.shape}")
    return data


def _load(path: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise EvaluationInputError(f"{path}: no such file")
    if p.suffix == ".npy":
        try:
            data = np.load(p, allow_pickle=False)
        except (ValueError, EOFError) as err:
            raise EvaluationInputError(f"{path}: not a plain numeric .npy array ({err}); save the scores with "
                                       "np.save(path, np.asarray(scores, dtype=float))") from None
        if not (np.issubdtype(data.dtype, np.number) or data.dtype == bool):
            raise EvaluationInputError(f"{path}: holds {data.dtype} values, not numbers; save numeric scores/labels")
    elif p.suffix == ".csv":
        lines = p.read_text().splitlines()
        if lines and not _is_number(lines[0].split(",")[0].strip()):
            lines = lines[1:]
        rows = [line.split(",") for line in lines if line.strip()]
        if len({len(row) for row in rows}) > 1:
            raise EvaluationInputError(f"{path}: rows have different numbers of columns")
        try:
            data = np.array([[float(v) for v in row] for row in rows])
        except ValueError as err:
            raise EvaluationInputError(f"{path}: {err}") from None
    else:
        raise EvaluationInputError(f"{path}: unsupported file type {p.suffix!r}; use .npy or one-column .csv")
    return data


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _window(text: str) -> int | str | None:
    if text in ("none", "period"):
        return None if text == "none" else text
    try:
        return int(text)
    except ValueError:
        raise EvaluationInputError(f"--window must be an integer, 'period' or 'none'; got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m tsadbench.evaluation``."""
    parser = argparse.ArgumentParser(
        prog="python -m tsadbench.evaluation",
        description="Evaluate anomaly scores: threshold protocols, point adjustment, VUS, affiliation, ...",
    )
    parser.add_argument("--scores", required=True, help="test scores (.npy or one-column .csv)")
    parser.add_argument("--labels", required=True, help="test labels, 0/1 (.npy or one-column .csv)")
    parser.add_argument("--train-scores", help="training scores (at-compat, ratio-sweep, pot-train, epsilon-train, train-percentile)")
    parser.add_argument("--val-scores", help="validation scores (val-percentile)")
    parser.add_argument("--protocol", help=f"one of: {', '.join(PROTOCOLS)} (default: all applicable)")
    parser.add_argument("--anomaly-ratio", type=float, default=1.0, help="percent (default 1.0)")
    parser.add_argument("--pot-q", type=float, default=1e-3, help="pot-train risk q (default 1e-3)")
    parser.add_argument("--pot-level", type=float, default=0.99, help="pot-train initial quantile (default 0.99)")
    parser.add_argument("--epsilon-reg-level", type=int, default=1, choices=(0, 1, 2),
                        help="epsilon-train penalty for flagged points (default 1)")
    parser.add_argument("--window", default="100",
                        help="VUS / R-AUC buffer: an integer (default 100), 'period' (needs --series) or 'none'")
    parser.add_argument("--series", help="test data (.npy or .csv, first column used) for --window period")
    parser.add_argument("--json", action="store_true", help="print the record as one JSON object")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        window = _window(args.window)
        options = {"pot_q": args.pot_q, "pot_level": args.pot_level, "epsilon_reg_level": args.epsilon_reg_level}
        series = load_vector(args.series, one_column=False) if args.series else None
        scores = load_vector(args.scores)
        labels = load_vector(args.labels)
        train = load_vector(args.train_scores) if args.train_scores else None
        val = load_vector(args.val_scores) if args.val_scores else None
        if args.protocol:
            record = threshold_free_metrics(scores, labels, window=window, series=series)
            record.update(evaluate(scores, labels, args.protocol, train, val, args.anomaly_ratio, **options))
        else:
            record = full_record(scores, labels, train, val, args.anomaly_ratio, window=window, series=series,
                                 **options)
    except (EvaluationInputError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(record, allow_nan=False))
    else:
        width = max(len(key) for key in record)
        for key, value in record.items():
            print(f"{key:<{width}}  {value:.6f}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    return 0
