"""Paper-style tables from stored trial records: the papers' main table (P, R, F1 after point
adjustment) and, beside it, the honest one (F1 without adjustment, threshold-free metrics, and
the oracle best PA-F1 marked as such), plus a long machine-readable record of every number with
its provenance. Written as CSV, Markdown and LaTeX (booktabs).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .records import TrialRecord, flat_value, read_grid

MISSING = "—"
ORACLE_MARK = "‡"
MAIN_PROTOCOL = "at_compat"
ORACLE_PROTOCOL = "best_f1"
THRESHOLD_FREE = "threshold_free"


@dataclasses.dataclass(frozen=True)
class PairResult:
    """The selected trial of one (model, dataset) experiment and how it was selected."""

    model: str
    model_display_name: str
    dataset: str
    meta: dict[str, Any]
    best: TrialRecord | None
    n_trials: int
    n_failed: int

    @property
    def objective_uses_test_labels(self) -> bool:
        return bool(self.meta["objective"]["uses_test_labels"])


@dataclasses.dataclass(frozen=True)
class Column:
    """A table column: a flattened report key shown under a short header."""

    header: str
    key: str
    oracle: bool = False


MAIN_COLUMNS = (Column("P", f"{MAIN_PROTOCOL}/pa_precision"), Column("R", f"{MAIN_PROTOCOL}/pa_recall"),
                Column("F1", f"{MAIN_PROTOCOL}/pa_f1"))
HONEST_COLUMNS = (Column("F1 (no PA)", f"{MAIN_PROTOCOL}/f1"), Column("ROC-AUC", f"{THRESHOLD_FREE}/roc_auc"),
                  Column("PR-AUC", f"{THRESHOLD_FREE}/pr_auc"),
                  Column(f"PA-F1 oracle{ORACLE_MARK}", f"{ORACLE_PROTOCOL}/pa_f1", oracle=True))


def select_best(metas: list[dict[str, Any]], trials: list[TrialRecord]) -> list[PairResult]:
    """Per experiment, the finished trial with the best objective at its last epoch."""
    pairs = []
    for meta in metas:
        own = [t for t in trials if t.experiment == meta["experiment"]]
        metric, mode = meta["objective"]["metric"], meta["objective"]["mode"]
        finished = [t for t in own if t.status == "TERMINATED" and flat_value(t.last, metric) is not None]
        sign = 1 if mode == "max" else -1
        best = max(finished, key=lambda t: sign * float(flat_value(t.last, metric)), default=None)
        pairs.append(PairResult(meta["model"], meta.get("model_display_name", meta["model"]), meta["dataset"], meta,
                                best, len(own), sum(t.status == "ERROR" for t in own)))
    return pairs


def _numeric_table(pairs: list[PairResult], columns: tuple[Column, ...]) -> pd.DataFrame:
    datasets = list(dict.fromkeys(p.dataset for p in pairs))
    models = list(dict.fromkeys(p.model_display_name for p in pairs))
    index = pd.MultiIndex.from_product([datasets, [c.header for c in columns]], names=["dataset", "metric"])
    table = pd.DataFrame(np.nan, index=pd.Index(models, name="model"), columns=index)
    for pair in pairs:
        if pair.best is None:
            continue
        for column in columns:
            value = flat_value(pair.best.last, column.key)
            if value is not None:
                table.loc[pair.model_display_name, (pair.dataset, column.header)] = float(value)
    return table


def _oracle_cells(pairs: list[PairResult], columns: tuple[Column, ...]) -> set[tuple[str, str, str]]:
    """Cells whose number was chosen with test labels: the oracle columns, and every cell of a
    pair whose configuration was selected by an objective on test labels."""
    cells = set()
    for pair in pairs:
        for column in columns:
            if column.oracle or pair.objective_uses_test_labels:
                cells.add((pair.model_display_name, pair.dataset, column.header))
    return cells


def _formatted(table: pd.DataFrame, oracle: set[tuple[str, str, str]], bold: tuple[str, str]) -> pd.DataFrame:
    """Percentages with two decimals; best per column in bold; oracle cells marked."""
    text = pd.DataFrame(MISSING, index=table.index, columns=table.columns)
    for column in table.columns:
        values = table[column]
        best = values.max() if values.notna().any() else None
        for model, value in values.items():
            if np.isnan(value):
                continue
            cell = f"{100 * value:.2f}"
            if best is not None and np.isclose(value, best):
                cell = f"{bold[0]}{cell}{bold[1]}"
            if (model, column[0], column[1]) in oracle:
                cell += ORACLE_MARK
            text.loc[model, column] = cell
    return text


def _markdown(text: pd.DataFrame, caption: str, notes: list[str]) -> str:
    headers = ["model"] + [f"{dataset} {metric}" for dataset, metric in text.columns]
    lines = [f"**{caption}**", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for model, row in text.iterrows():
        lines.append("| " + " | ".join([str(model), *row.tolist()]) + " |")
    return "\n".join(lines + [""] + [f"{note}  " for note in notes]) + "\n"


def _latex(text: pd.DataFrame, caption: str, notes: list[str]) -> str:
    escaped = text.map(lambda cell: cell.replace(MISSING, "--").replace(ORACLE_MARK, r"$^\ddagger$"))
    escaped.columns = pd.MultiIndex.from_tuples(
        [(d.replace("_", r"\_"), m.replace(ORACLE_MARK, r"$^\ddagger$")) for d, m in escaped.columns])
    escaped.index = [str(m).replace("_", r"\_") for m in escaped.index]
    body = escaped.style.to_latex(hrules=True, multicol_align="c", column_format="l" + "c" * escaped.shape[1])
    footnotes = "\n".join(f"\\par\\footnotesize {note.replace(ORACLE_MARK, chr(36) + '^' + chr(92) + 'ddagger' + chr(36)).replace('%', chr(92) + '%').replace('_', chr(92) + '_')}"
                          for note in notes)
    return f"\\begin{{table}}[t]\n\\centering\n\\caption{{{caption}}}\n{body}{footnotes}\n\\end{{table}}\n"


def _provenance_notes(pairs: list[PairResult]) -> list[str]:
    objectives = sorted({f"{p.meta['objective']['name']} ({p.meta['objective']['description']})" for p in pairs})
    stopping = sorted({p.meta["early_stopping"] for p in pairs})
    notes = [f"Best trial per cell chosen by: {'; '.join(objectives)}.", f"Early stopping: {'; '.join(stopping)}."]
    if any(p.objective_uses_test_labels for p in pairs):
        notes.append(f"{ORACLE_MARK} oracle: the number was chosen with test labels.")
    if any(p.best is None for p in pairs):
        notes.append(f"{MISSING} no finished trial (failed, interrupted or not run).")
    return notes


def long_records(pairs: list[PairResult]) -> pd.DataFrame:
    """One row per reported number of every selected trial, with its full provenance."""
    rows = []
    for pair in pairs:
        base = {
            "model": pair.model, "dataset": pair.dataset, "objective": pair.meta["objective"]["name"],
            "objective_split": pair.meta["objective"]["split"],
            "objective_uses_test_labels": pair.objective_uses_test_labels,
            "early_stopping": pair.meta["early_stopping"], "n_trials": pair.n_trials, "n_failed": pair.n_failed,
            "experiment_complete": pair.meta.get("complete", False),
        }
        if pair.best is None:
            rows.append({**base, "metric": None, "value": None})
            continue
        last = pair.best.last
        base.update(trial_id=last.get("trial_id"), seed=last.get("seed"), epochs=last.get("epoch"),
                    anomaly_ratio=last.get("anomaly_ratio"))
        for section, values in last.items():
            if not isinstance(values, dict) or section == "config":
                continue
            protocol = values.get("protocol", "threshold-free" if section == THRESHOLD_FREE else section)
            uses_labels = bool(values.get("uses_test_labels", False))
            for metric, value in values.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                rows.append({**base, "metric": metric, "value": value, "threshold_protocol": protocol,
                             "threshold_splits": values.get("threshold_splits", "none"),
                             "threshold_uses_test_labels": uses_labels,
                             "oracle": uses_labels or pair.objective_uses_test_labels})
    return pd.DataFrame(rows)


def trial_table(trials: list[TrialRecord]) -> pd.DataFrame:
    """Every trial with its status, epochs and the first line of its error."""
    return pd.DataFrame([{
        "experiment": t.experiment, "trial": t.trial_dir.name, "status": t.status, "epochs": len(t.epochs),
        "error": t.error.splitlines()[-1] if t.error else "", **{f"config.{k}": v for k, v in t.config.items()},
    } for t in trials])


def write_tables(grid_dir: Path, out_dir: Path | None = None) -> dict[str, Path]:
    """Build every table of a grid folder; returns the written files by name."""
    metas, trials = read_grid(grid_dir)
    pairs = select_best(metas, trials)
    out = Path(out_dir or Path(grid_dir) / "tables")
    out.mkdir(parents=True, exist_ok=True)
    notes = _provenance_notes(pairs)
    written: dict[str, Path] = {}
    specs = {
        "main": (MAIN_COLUMNS, "P, R and F1 (%) after point adjustment at the at-compat threshold "
                               "(percentile 100 - r of train and test scores, label-free)"),
        "honest": (HONEST_COLUMNS, f"Without point adjustment, threshold-free, and the oracle "
                                   f"(best threshold on test labels{ORACLE_MARK}), in %"),
    }
    for name, (columns, caption) in specs.items():
        numeric = _numeric_table(pairs, columns)
        oracle = _oracle_cells(pairs, columns)
        _formatted(numeric, oracle, ("", "")).to_csv(out / f"{name}.csv")
        (out / f"{name}.md").write_text(_markdown(_formatted(numeric, oracle, ("**", "**")), caption, notes))
        (out / f"{name}.tex").write_text(_latex(_formatted(numeric, oracle, (r"\textbf{", "}")), caption, notes))
        written.update({f"{name}.{ext}": out / f"{name}.{ext}" for ext in ("csv", "md", "tex")})
    long_records(pairs).to_csv(out / "records.csv", index=False)
    trial_table(trials).to_csv(out / "trials.csv", index=False)
    written.update({"records.csv": out / "records.csv", "trials.csv": out / "trials.csv"})
    return written
