"""Paper-style tables from stored trial records.

* `main`: the papers' table, datasets as column groups of P, R, F1 after point adjustment at each
  model's headline threshold protocol (its experiment's `threshold_protocol`), models as rows;
* `honest`: beside it, per dataset and model, at the label-free clean protocol (val-percentile)
  where recorded: F1 without adjustment, PA%K area, affiliation F, range F1, event F1 (composite),
  ROC/PR-AUC, VUS-ROC/PR (those present in the records) and the oracle best PA-F1, marked;
* `published` (see `published.py`): the papers' numbers next to ours.

Each is written as CSV (the cells as shown), Markdown and LaTeX (booktabs), with footnotes; every
cell's numbers, trials and marks also go to `cells.csv`.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .aggregate import Table, baseline_rules, key_present, rank_frame
from .columns import HONEST_COLUMNS, MAIN_COLUMNS, Column
from .entities import entity_frame, entity_notes, entity_summary, pair_cell, pair_groups, table_dataset
from .exports import cells_frame, long_records, trial_table
from .latex import latex_document, latex_table
from .markdown import markdown_table
from .notes import ProtocolOf, column_notes, mark_notes, model_notes, protocol_notes, selection_notes
from .provenance import provenance_frame, provenance_note
from .published import load_published, published_table
from .records import read_grid
from .render import text_frame
from .select import Selection, is_sanity_baseline, select, short_name


def row_labels(selections: list[Selection]) -> tuple[dict[str, str], dict[str, str]]:
    """Short row label per model (its display name without a trailing parenthesis), in the selections'
    order, and the qualifiers cut off (for a footnote)."""
    names = {s.model: s.display_name for s in selections}
    ordered = list(names)
    short = {m: short_name(names[m]) for m in ordered}
    if len(set(short.values())) < len(short):
        return {m: names[m] for m in ordered}, {}
    remarks = {short[m]: names[m][len(short[m]) + 2:].rstrip(")") for m in ordered if short[m] != names[m]}
    return short, remarks


def datasets_of(selections: list[Selection]) -> list[str]:
    """Table datasets (a per-entity dataset once, by its name) in the order they were first read."""
    return list(dict.fromkeys(table_dataset(s) for s in selections))


def _cells(selections: list[Selection], rows: list[tuple[str, str]], columns: list[tuple[str, Column]],
           protocol: ProtocolOf, index: pd.Index, header: pd.Index) -> pd.DataFrame:
    """A frame of cells: `rows` are (model, dataset) and `columns` (dataset, column) pairs, an empty
    dataset meaning 'the other one's'; each pair's keys read the record of `protocol(selection)`, and
    a per-entity dataset's cell is the mean over its entities."""
    groups = pair_groups(selections)
    cells = pd.DataFrame(None, index=index, columns=header, dtype=object)
    for i, (model, row_dataset) in enumerate(rows):
        for j, (column_dataset, column) in enumerate(columns):
            members = groups.get((model, row_dataset or column_dataset), ())
            cells.iat[i, j] = pair_cell(members, lambda s, column=column: column.key_for(protocol(s)))
    return cells


def _headline(selection: Selection) -> str:
    return selection.headline_protocol


def _honest(selection: Selection) -> str:
    return selection.honest_protocol


def _notes(columns: list[Column], selections: list[Selection], protocol: ProtocolOf, remarks: dict[str, str],
           cells: pd.DataFrame) -> tuple[str, ...]:
    return tuple(column_notes(columns, selections, protocol) + protocol_notes(columns, selections, protocol)
                 + selection_notes(selections) + entity_notes(selections) + model_notes(remarks) + mark_notes(cells)
                 + provenance_note(selections))


def _modes(selections: list[Selection]) -> str:
    modes = list(dict.fromkeys(str(s.meta.get("protocol_mode", "not recorded")) for s in selections))
    return " / ".join(modes)


def main_table(selections: list[Selection]) -> Table:
    """P, R, F1 after point adjustment at each model's headline protocol: models as rows, datasets as
    column groups."""
    labels, remarks = row_labels(selections)
    datasets = datasets_of(selections)
    columns = [(d, c) for d in datasets for c in MAIN_COLUMNS]
    cells = _cells(selections, [(model, "") for model in labels], columns, _headline,
                   pd.Index(list(labels.values()), name="model"),
                   pd.MultiIndex.from_tuples([(d, c.header) for d, c in columns], names=["dataset", "metric"]))
    caption = (f"P, R and F1 (%) after point adjustment at each model's headline threshold protocol "
               f"(protocol mode: {_modes(selections)}), as the papers report them")
    baselines = {labels[m] for m in labels if is_sanity_baseline(m)}
    return Table("main", caption, cells, rank_frame(cells), _notes(list(MAIN_COLUMNS), selections, _headline,
                                                                   remarks, cells),
                 baseline_rules(cells.index, lambda label: label in baselines))


def honest_table(selections: list[Selection]) -> Table:
    """Without point adjustment, range/event-based and threshold-free metrics at a label-free
    threshold, and the oracle best PA-F1, marked: (dataset, model) rows."""
    labels, remarks = row_labels(selections)
    datasets = datasets_of(selections)
    shown = [c for c in HONEST_COLUMNS
             if not c.optional or key_present([(s, c.key_for(s.honest_protocol)) for s in selections])]
    rows = [(model, d) for d in datasets for model in labels]
    cells = _cells(selections, rows, [("", c) for c in shown], _honest,
                   pd.MultiIndex.from_tuples([(d, labels[m]) for m, d in rows], names=["dataset", "model"]),
                   pd.Index([c.header for c in shown], name="metric"))
    caption = ("Without point adjustment, range- and event-based and threshold-free metrics at a label-free "
               "threshold, and the oracle best PA-F1 (%), per dataset")
    baselines = {labels[m] for m in labels if is_sanity_baseline(m)}
    return Table("honest", caption, cells, rank_frame(cells, datasets), _notes(shown, selections, _honest,
                                                                               remarks, cells),
                 baseline_rules(cells.index, lambda label: label[1] in baselines))


def build_tables(selections: list[Selection]) -> list[Table]:
    """The main, honest and published-versus-reproduced tables."""
    labels, _ = row_labels(selections)
    return [main_table(selections), honest_table(selections), published_table(selections, load_published(), labels)]


def write_table(table: Table, out: Path) -> dict[str, Path]:
    """`<name>.csv` (cells as shown, no emphasis), `.md` and `.tex`."""
    paths = {f"{table.name}.{ext}": out / f"{table.name}.{ext}" for ext in ("csv", "md", "tex")}
    text_frame(table.cells).to_csv(paths[f"{table.name}.csv"])
    markdown = markdown_table(text_frame(table.cells), table.ranks, table.caption, table.notes, table.rules)
    paths[f"{table.name}.md"].write_text(markdown)
    paths[f"{table.name}.tex"].write_text(latex_table(table))
    return paths


def write_table_files(selections: list[Selection], tables: list[Table], out: Path) -> dict[str, Path]:
    """Every table in every format, the standalone LaTeX document, cells, records and trials."""
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for table in tables:
        written.update(write_table(table, out))
    written["paper_tables.tex"] = out / "paper_tables.tex"
    written["paper_tables.tex"].write_text(latex_document(tables))
    entities = entity_frame(selections)
    exports = {"cells.csv": cells_frame(tables), "records.csv": long_records(selections),
               "trials.csv": trial_table(selections), "entities.csv": entities,
               "entity_summary.csv": entity_summary(entities, selections),
               "provenance.csv": provenance_frame(selections)}
    for name, frame in exports.items():
        frame.to_csv(out / name, index=False)
        written[name] = out / name
    return written


def write_tables(grid_dir: Path, out_dir: Path | None = None) -> dict[str, Path]:
    """Build every table of a grid folder (default out: `<grid_dir>/tables`); returns the files by name."""
    selections = select(*read_grid(grid_dir))
    return write_table_files(selections, build_tables(selections), Path(out_dir or Path(grid_dir) / "tables"))
