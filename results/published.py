"""Published numbers (`published.yaml`, each with its source) beside ours under the same threshold
protocol and point-adjustment variant, with the difference in F1.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..evaluation.thresholds import PROTOCOLS
from .aggregate import Cell, Table
from .entities import entity_notes, pair_cell, pair_groups
from .marks import ORACLE
from .notes import mark_notes
from .select import Selection

PUBLISHED_FILE = Path(__file__).with_name("published.yaml")
METRICS = {"P": "precision", "R": "recall", "F1": "f1"}
ADJUSTMENTS = {"pa": "segment-wise point adjustment", "pa_loop": "the Anomaly-Transformer point-adjustment loop"}


@dataclasses.dataclass(frozen=True)
class Published:
    """One paper's results for one model, and how to reproduce its threshold."""

    model: str
    paper: str
    source: str
    protocol: str
    adjustment: str
    uses_test_labels: bool
    notes: tuple[str, ...]
    results: dict[str, dict[str, float]]

    def key(self, metric: str) -> str:
        """Our report key for a published metric ('P' -> 'at_compat/pa_loop_precision')."""
        return f"{self.protocol.replace('-', '_')}/{self.adjustment}_{METRICS[metric]}"


def _checked(entry: dict[str, Any], path: Path) -> Published:
    where = f"{path}: entry for {entry.get('model')!r}"
    missing = {"model", "paper", "source", "protocol", "adjustment", "uses_test_labels", "results"} - set(entry)
    if missing:
        raise ValueError(f"{where} lacks {', '.join(sorted(missing))}")
    if entry["protocol"] not in PROTOCOLS:
        raise ValueError(f"{where}: unknown protocol {entry['protocol']!r}; known: {', '.join(PROTOCOLS)}")
    if entry["adjustment"] not in ADJUSTMENTS:
        raise ValueError(f"{where}: adjustment must be one of {', '.join(ADJUSTMENTS)}")
    for dataset, values in entry["results"].items():
        if set(values) != set(METRICS) or not all(0 <= v <= 100 for v in values.values()):
            raise ValueError(f"{where}, {dataset}: give P, R and F1 in percent (0-100)")
    return Published(entry["model"], entry["paper"], entry["source"], entry["protocol"], entry["adjustment"],
                     bool(entry["uses_test_labels"]), tuple(entry.get("notes", ())),
                     {d: {m: float(v) for m, v in values.items()} for d, values in entry["results"].items()})


def load_published(path: Path = PUBLISHED_FILE) -> list[Published]:
    """Every published entry of the data file, checked."""
    return [_checked(entry, path) for entry in yaml.safe_load(path.read_text())["papers"]]


def _published_cell(value: float, oracle: bool) -> Cell:
    return Cell(values=(value / 100,), oracle=oracle, marks=(ORACLE,) * oracle, trials=("published",))


def _difference(ours: Cell, published: Cell) -> Cell:
    if ours.missing is not None:
        return ours
    oracle = ours.oracle or published.oracle
    marks = (ORACLE,) * oracle + tuple(m for m in ours.marks if m is not ORACLE)
    return Cell(values=(ours.mean - published.mean,), oracle=oracle, marks=marks, trials=ours.trials, signed=True)


def published_table(selections: list[Selection], papers: list[Published], labels: dict[str, str]) -> Table:
    """Published P, R, F1 and ours (same protocol and adjustment) per (model, dataset), and ΔF1;
    one row per published dataset of each model in this grid."""
    groups = pair_groups(selections)
    shown = [p for p in papers if p.model in labels]
    header = pd.MultiIndex.from_tuples([("Published", m) for m in METRICS] + [("Ours", m) for m in METRICS]
                                       + [("Δ", "F1")])
    rows, cells = [], []
    for number, paper in enumerate(shown, start=1):
        for dataset, values in paper.results.items():
            published = [_published_cell(values[m], paper.uses_test_labels) for m in METRICS]
            ours = [pair_cell(groups.get((paper.model, dataset), ()), lambda _, m=m: paper.key(m)) for m in METRICS]
            rows.append((f"{labels[paper.model]} [{number}]", dataset))
            cells.append(published + ours + [_difference(ours[-1], published[-1])])
    index = pd.MultiIndex.from_arrays([[r[0] for r in rows], [r[1] for r in rows]], names=["model", "dataset"])
    frame = pd.DataFrame(cells, index=index, columns=header, dtype=object)
    notes = ["Published: the paper's numbers as printed (%). Ours: the same threshold protocol and point-adjustment "
             "variant in our records. Δ F1 = ours − published, in points."]
    for number, paper in enumerate(shown, start=1):
        notes.append(f"[{number}] {paper.paper}. {paper.source}. Ours: protocol {paper.protocol}, "
                     f"{ADJUSTMENTS[paper.adjustment]} (keys {paper.key('P')}, ...). " + " ".join(paper.notes))
    if not shown:
        notes.append(f"No published numbers for the models of this grid ({PUBLISHED_FILE.name} covers: "
                     f"{', '.join(p.model for p in papers)}).")
    caption = "Published versus reproduced: P, R, F1 (%) under each paper's own threshold protocol"
    ranks = pd.DataFrame(0, index=index, columns=header)
    shown_selections = [s for s in selections if s.model in {p.model for p in shown}]
    return Table("published", caption, frame, ranks, tuple(notes + entity_notes(shown_selections) + mark_notes(frame)))
