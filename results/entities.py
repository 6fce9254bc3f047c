"""Datasets run one entity at a time (`--entity-policy per-entity`: SMD's machines, SMAP's and
MSL's channels): each entity is its own experiment, and the tables show one dataset row per model
whose number is the mean over the entities of each entity's number, as the field reports them
(OmniAnomaly, InterFusion, TSB-AD). The median, the number of entities and every entity's own
number go to `entities.csv` and `entity_summary.csv`.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from .aggregate import Cell, aggregate, finite_number
from .marks import NOT_RUN, SUFFIXES
from .select import Selection

PER_ENTITY = "per-entity"

#: The report key a table reads for one pair (it may depend on the pair's threshold protocol).
KeyOf = Callable[[Selection], str]


def is_entity_run(selection: Selection) -> bool:
    """Whether the selection is one entity of a dataset run per entity."""
    return (selection.meta.get("data") or {}).get("entity_policy") == PER_ENTITY and "/" in selection.dataset


def table_dataset(selection: Selection) -> str:
    """The dataset a selection belongs to in the tables ('SMD' for the entity 'SMD/machine-1-2')."""
    return selection.dataset.partition("/")[0] if is_entity_run(selection) else selection.dataset


def entity_name(selection: Selection) -> str:
    """The entity part of a per-entity selection's dataset ('machine-1-2')."""
    return selection.dataset.partition("/")[2]


def pair_groups(selections: list[Selection]) -> dict[tuple[str, str], tuple[Selection, ...]]:
    """The selections behind each (model, table dataset): one, or every entity of a per-entity dataset."""
    groups: dict[tuple[str, str], list[Selection]] = {}
    for selection in selections:
        groups.setdefault((selection.model, table_dataset(selection)), []).append(selection)
    return {pair: tuple(members) for pair, members in groups.items()}


def pair_cell(members: tuple[Selection, ...], key_of: KeyOf) -> Cell:
    """The cell of one (model, table dataset): the selection's own cell, or the mean over entities."""
    if not members:
        return Cell(missing=NOT_RUN)
    if len(members) == 1 and not is_entity_run(members[0]):
        return aggregate(members[0], key_of(members[0]))
    return entity_cell(members, key_of)


def entity_cell(members: tuple[Selection, ...], key_of: KeyOf) -> Cell:
    """The mean over entities of each entity's cell (itself a mean over seeds where there are
    several); entities without a number are not averaged (their count shows in `Cell.entities`)."""
    cells = [(entity_name(s), aggregate(s, key_of(s))) for s in members]
    found = [(name, cell) for name, cell in cells if cell.values]
    if not found:
        return cells[0][1]
    marks = tuple(mark for mark in SUFFIXES if any(mark in cell.marks for _, cell in found))
    return Cell(values=tuple(cell.mean for _, cell in found), oracle=any(cell.oracle for _, cell in found),
                marks=marks, trials=tuple(t for _, cell in found for t in cell.trials),
                entities=tuple(name for name, _ in found))


def left_out_entities(members: tuple[Selection, ...]) -> list[str]:
    """Entities of the dataset that the grid left out (no anomalous test point), as recorded."""
    left: dict[str, None] = {}
    for selection in members:
        left.update(dict.fromkeys((selection.meta.get("data") or {}).get("entities_left_out", [])))
    return list(left)


def flat_numbers(report: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Every finite number of a nested report by its flattened key ('at_compat/pa_f1')."""
    numbers: dict[str, float] = {}
    for key, value in report.items():
        if isinstance(value, dict) and key != "config":
            numbers.update(flat_numbers(value, f"{prefix}{key}/"))
        elif (number := finite_number(value)) is not None:
            numbers[f"{prefix}{key}"] = number
    return numbers


def is_metric(key: str) -> bool:
    """Whether a flattened report key is a metric (a protocol's or threshold-free number, or a
    loss), not bookkeeping such as the epoch, the seed or timings."""
    return "/" in key or key.endswith("loss")


def entity_frame(selections: list[Selection]) -> pd.DataFrame:
    """`entities.csv`: one row per (model, dataset, entity, metric) of every per-entity dataset,
    the mean over the entity's reported trials (its seeds) and whether test labels chose it."""
    rows = []
    for (model, dataset), members in pair_groups(selections).items():
        if not is_entity_run(members[0]):
            continue
        for selection in members:
            metrics = dict.fromkeys(k for t in selection.reported for k in flat_numbers(t.last) if is_metric(k))
            for metric in metrics:
                cell = aggregate(selection, metric)
                if cell.values:
                    rows.append({"model": model, "dataset": dataset, "entity": entity_name(selection),
                                 "metric": metric, "value": cell.mean, "n_seeds": cell.n, "oracle": cell.oracle,
                                 "trials": " ".join(cell.trials)})
    return pd.DataFrame(rows, columns=["model", "dataset", "entity", "metric", "value", "n_seeds", "oracle", "trials"])


def entity_summary(entities: pd.DataFrame, selections: list[Selection]) -> pd.DataFrame:
    """`entity_summary.csv`: per (model, dataset, metric) the mean, median, standard deviation,
    minimum and maximum over entities, the number of entities, and the entities left out."""
    columns = ["model", "dataset", "metric", "mean", "median", "std", "min", "max", "n_entities", "oracle",
               "entities_left_out"]
    if entities.empty:
        return pd.DataFrame(columns=columns)
    groups = pair_groups(selections)
    rows = []
    for (model, dataset, metric), part in entities.groupby(["model", "dataset", "metric"], sort=False):
        values = part["value"].to_numpy(dtype=float)
        rows.append({"model": model, "dataset": dataset, "metric": metric, "mean": float(values.mean()),
                     "median": float(np.median(values)), "std": float(values.std(ddof=1)) if values.size > 1 else None,
                     "min": float(values.min()), "max": float(values.max()), "n_entities": int(values.size),
                     "oracle": bool(part["oracle"].any()),
                     "entities_left_out": " ".join(left_out_entities(groups[(model, dataset)]))})
    return pd.DataFrame(rows, columns=columns)


def entity_notes(selections: list[Selection]) -> list[str]:
    """One footnote per per-entity dataset: how its row is averaged, over how many entities, and
    which entities were left out."""
    notes = []
    by_dataset: dict[str, dict[str, int]] = {}
    left: dict[str, list[str]] = {}
    unfinished: dict[str, list[str]] = {}
    for (model, dataset), members in pair_groups(selections).items():
        if is_entity_run(members[0]):
            by_dataset.setdefault(dataset, {})[model] = sum(bool(s.reported) for s in members)
            left.setdefault(dataset, []).extend(left_out_entities(members))
            unfinished.setdefault(dataset, []).extend(f"{model} on {entity_name(s)}" for s in members
                                                      if not s.reported)
    for dataset, counts in by_dataset.items():
        ns = sorted(set(counts.values()))
        n = f"n = {ns[0]} entities" if len(ns) == 1 else "n = " + ", ".join(f"{m}: {c}" for m, c in counts.items())
        gone = list(dict.fromkeys(left[dataset]))
        missing = (f" Not averaged (no finished trial): {', '.join(unfinished[dataset])}." if unfinished[dataset]
                   else "")
        notes.append(f"{dataset}: run per entity; each number is the mean over its entities ({n}) of each entity's "
                     f"number; medians and every entity's numbers are in entity_summary.csv and entities.csv. "
                     f"Left out (no anomalous test point): {', '.join(gone) if gone else 'none'}.{missing}")
    return notes
