"""Machine-readable companions of the tables: every cell with its numbers and trials, every number
of every reported trial with its provenance, and every trial with its status."""
from __future__ import annotations

import json

import pandas as pd

from .aggregate import Table
from .columns import EXTRA_SCORES, THRESHOLD_FREE
from .provenance import record_columns
from .select import Selection, objective_value


def _label(value: object) -> str:
    return " / ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def cells_frame(tables: list[Table]) -> pd.DataFrame:
    """One row per cell of every table: its mean, std, seeds, values, marks and source trials."""
    rows = []
    for table in tables:
        for row in table.cells.index:
            for column in table.cells.columns:
                cell = table.cells.at[row, column]
                rows.append({
                    "table": table.name, "row": _label(row), "column": _label(column), "mean": cell.mean,
                    "std": cell.std, "n": cell.n, "values": json.dumps(cell.values), "oracle": cell.oracle,
                    "marks": "".join(m.symbol for m in cell.marks),
                    "missing": cell.missing.symbol if cell.missing else "", "trials": " ".join(cell.trials),
                    "rank": int(table.ranks.at[row, column]),
                })
    return pd.DataFrame(rows, columns=["table", "row", "column", "mean", "std", "n", "values", "oracle", "marks",
                                       "missing", "trials", "rank"])


def long_records(selections: list[Selection]) -> pd.DataFrame:
    """One row per reported number of every trial behind the tables, with its full provenance."""
    rows = []
    for selection in selections:
        base = {
            "model": selection.model, "dataset": selection.dataset, "objective": selection.objective["name"],
            "objective_split": selection.objective["split"],
            "objective_uses_test_labels": selection.objective_uses_test_labels,
            "early_stopping": selection.meta.get("early_stopping"),
            "score_postprocessing": selection.score_postprocessing, "n_trials": len(selection.trials),
            "n_failed": selection.n_failed, "experiment_complete": selection.complete,
        }
        experiments = {m["experiment"]: m for m in selection.experiments}
        if not selection.reported:
            rows.append({**base, "metric": None, "value": None})
        for trial in selection.reported:
            last = trial.last
            trial_base = {**base, **record_columns(experiments[trial.experiment]), "experiment": trial.experiment,
                          "trial": trial.trial_dir.name,
                          "trial_id": trial.trial_id, "role": "seed_repeat" if trial.seed_repeat else "selected",
                          "seed": trial.seed, "epochs": last.get("epoch"), "anomaly_ratio": last.get("anomaly_ratio"),
                          "reported_because": trial.reported_epoch_reason}
            extra = last.get(EXTRA_SCORES) or {}
            for score, sections in (("model", last), *extra.items()):
                for section, values in sections.items():
                    if not isinstance(values, dict) or section in ("config", EXTRA_SCORES, "early_stopping"):
                        continue
                    protocol = values.get("protocol", "threshold-free" if section == THRESHOLD_FREE else section)
                    uses_labels = bool(values.get("uses_test_labels", False))
                    for metric, value in values.items():
                        if isinstance(value, bool) or not isinstance(value, (int, float)):
                            continue
                        rows.append({**trial_base, "score": score, "metric": metric, "value": value,
                                     "threshold_protocol": protocol,
                                     "threshold_splits": values.get("threshold_splits", "none"),
                                     "threshold_uses_test_labels": uses_labels,
                                     "oracle": uses_labels or selection.objective_uses_test_labels})
    return pd.DataFrame(rows)


def trial_table(selections: list[Selection]) -> pd.DataFrame:
    """Every trial with its status, epochs, objective, role in the tables and the last line of its error."""
    rows = []
    for selection in selections:
        for trial in selection.trials:
            rows.append({
                "experiment": trial.experiment, "trial": trial.trial_dir.name, "status": trial.status,
                "epochs": len(trial.epochs), "reported_epoch": trial.last.get("epoch"),
                "reported_because": trial.reported_epoch_reason, "seed": trial.seed, "seed_repeat": trial.seed_repeat,
                "selected": trial is selection.best, "in_tables": any(trial is t for t in selection.reported),
                "objective": selection.objective["name"],
                "objective_value": objective_value(trial, selection.objective["metric"]),
                "unreadable_lines": trial.unreadable_lines,
                "error": ("retried after: " if trial.retried else "") + trial.error.splitlines()[-1] if trial.error else "",
                **{f"config.{k}": v for k, v in trial.config.items()},
            })
    return pd.DataFrame(rows)
