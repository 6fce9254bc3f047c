"""Footnotes: what each column measures and under which protocol and variant, how each cell's
trial was chosen, how many seeds it aggregates, and what every mark in the table means.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import pandas as pd

from ..evaluation.thresholds import PROTOCOLS
from .columns import THRESHOLD_FREE, Column, section_of
from .entities import table_dataset
from .marks import INCOMPLETE, MISSING, NOT_COMPUTED, NOT_RUN, ORACLE
from .records import flat_value
from .select import MIN_SEEDS, Selection, short_name


def _distinct(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(v for v in values if v is not None))


#: Which threshold protocol a table reads for a pair.
ProtocolOf = Callable[[Selection], str]


def _reported_values(selections: list[Selection], protocol: ProtocolOf, key: str) -> list[Any]:
    return _distinct(flat_value(t.last, key.format(protocol=section_of(protocol(s))))
                     for s in selections for t in s.reported)


def column_notes(columns: Iterable[Column], selections: list[Selection], protocol: ProtocolOf) -> list[str]:
    """One note per distinct column description, naming the columns and their variant values."""
    grouped: dict[str, list[Column]] = {}
    for column in columns:
        grouped.setdefault(column.description, []).append(column)
    notes = []
    for description, group in grouped.items():
        variant = []
        for key in dict.fromkeys(k for c in group for k in c.variant):
            values = _reported_values(selections, protocol, key)
            if values:
                variant.append(f"{key.rpartition('/')[2]} = {' / '.join(map(str, values))}")
        suffix = f" ({', '.join(variant)})" if variant else ""
        notes.append(f"{', '.join(c.header for c in group)}: {description}{suffix}.")
    return notes


def protocol_notes(columns: Iterable[Column], selections: list[Selection], protocol: ProtocolOf) -> list[str]:
    """Each threshold protocol behind the columns: which models it served, the splits its threshold
    saw, and whether it saw the test labels."""
    used: dict[str, dict[str, Any]] = {}
    for selection in selections:
        for column in columns:
            section = column.key_for(protocol(selection)).partition("/")[0]
            for trial in selection.reported:
                record = trial.last.get(section)
                if section == THRESHOLD_FREE or not isinstance(record, dict):
                    continue
                entry = used.setdefault(str(record.get("protocol", section)),
                                        {"models": {}, "splits": {}, "labels": False, "ratio": False})
                entry["models"][short_name(selection.display_name)] = None
                entry["splits"][str(record.get("threshold_splits", "?"))] = None
                entry["labels"] |= bool(record.get("uses_test_labels"))
                entry["ratio"] |= "anomaly_ratio" in record
    every = {short_name(s.display_name) for s in selections}
    notes = []
    for name, entry in used.items():
        description = PROTOCOLS[name].description if name in PROTOCOLS else "not a registered protocol"
        models = "" if set(entry["models"]) == every else f" ({', '.join(entry['models'])})"
        ratio = "; anomaly_ratio (%) is each trial's own value" if entry["ratio"] else ""
        notes.append(f"Threshold protocol {name}{models}: threshold from the {' / '.join(entry['splits'])} scores, "
                     f"{'chosen on the test labels' if entry['labels'] else 'no labels'}: {description}{ratio}.")
    return notes


def _per_model(selections: list[Selection], text: Callable[[Selection], str]) -> str:
    """One text if every pair shares it, else each text with the models it applies to."""
    groups: dict[str, list[str]] = {}
    for selection in selections:
        groups.setdefault(text(selection), []).append(short_name(selection.display_name))
    if len(groups) == 1:
        return next(iter(groups))
    return "; ".join(f"{', '.join(dict.fromkeys(names))}: {t}" for t, names in groups.items())


def _pairs_saying(selections: list[Selection], text: Callable[[Selection], str]) -> str:
    """'<model> on <datasets>: <text>' once per (model, text), a per-entity dataset named once
    rather than per entity."""
    groups: dict[tuple[str, str], dict[str, None]] = {}
    for selection in selections:
        key = (short_name(selection.display_name), text(selection))
        groups.setdefault(key, {})[table_dataset(selection)] = None
    return "; ".join(f"{model} on {', '.join(datasets)}: {said}" for (model, said), datasets in groups.items())


def selection_notes(selections: list[Selection]) -> list[str]:
    """How each cell's configuration was chosen, how trials were stopped, and the seeds behind it."""
    if not selections:
        return []
    objective = _per_model(selections, lambda s: f"{s.objective['name']} ({s.objective['description']})")
    stopping = _per_model(selections, lambda s: str(s.meta.get("early_stopping", "not recorded")))
    notes = [f"Configuration per cell: the trial with the best objective at its reported epoch; objective: {objective}.",
             f"Early stopping: {stopping}.",
             "Reported epoch per cell: " + _pairs_saying([s for s in selections if s.reported],
                                                         lambda s: s.reported[0].reported_epoch_reason) + "."]
    processed = [s for s in selections if s.score_postprocessing != "none"]
    if processed:
        where = _pairs_saying(processed, lambda s: s.score_postprocessing)
        notes.append(f"Scores post-processed before every threshold and metric, as the model's repository does: "
                     f"{where} (entity-minmax: entity seams ±19 points zeroed, scores min-max scaled per entity).")
    seeded = [s for s in selections if len(s.seed_trials) >= MIN_SEEDS]
    if not seeded:
        notes.append("Each number is the selected trial's reported epoch (one seed; no seed repeats).")
        return notes
    counts = _distinct(len(s.reported) for s in seeded)
    where = (f"n = {counts[0]} seeds for every such cell" if len(counts) == 1 else
             _pairs_saying(seeded, lambda s: f"n = {len(s.reported)}"))
    training = _distinct(m.get("early_stopping") for s in seeded for m in s.experiments if "seeds" in m)
    trained = f"; seed repeats: {'; '.join(training)}" if training else ""
    notes.append(f"x ± s: mean ± sample standard deviation (n − 1) over the finished seed repeats of the selected "
                 f"configuration ({where}{trained}); a number without ± is the selected trial alone (one seed).")
    return notes


def mark_notes(cells: pd.DataFrame) -> list[str]:
    """The meaning of every mark that occurs in the cells."""
    used = {m for cell in cells.to_numpy().ravel() for m in (*cell.marks, cell.missing) if m is not None}
    return [f"{m.symbol} {m.meaning}." for m in (ORACLE, INCOMPLETE, MISSING, NOT_RUN, NOT_COMPUTED) if m in used]


def model_notes(remarks: dict[str, str]) -> list[str]:
    """Qualifiers cut from the model names to keep the rows short, each said once with every row it
    applies to ('Dual-STF, Untrained Dual-STF: clean re-implementation ...')."""
    by_remark: dict[str, list[str]] = {}
    for label, remark in remarks.items():
        by_remark.setdefault(remark, []).append(label)
    return [f"{', '.join(labels)}: {remark}." for remark, labels in by_remark.items()]
