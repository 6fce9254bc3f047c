"""Models ranked across datasets, and across the entities of every dataset run per entity: average
rank per metric (the main table's F1 and every honest column), the Friedman test, pairwise
Wilcoxon-Holm tests (`ranks.csv`, `wilcoxon.csv`) and critical-difference diagrams for the headline
PA-F1 and VUS-PR, each with the reason when there are too few blocks to draw one.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from .aggregate import Cell, aggregate
from .columns import HONEST_COLUMNS, MAIN_COLUMNS, THRESHOLD_FREE, Column
from .entities import KeyOf, entity_name, is_entity_run, pair_cell, pair_groups, table_dataset
from .marks import ORACLE
from .plots.common import WrittenFigure
from .plots.critical_difference import cd_caption, cd_figure
from .rank_tests import MIN_BLOCKS, RankComparison, compare
from .select import Selection


@dataclasses.dataclass(frozen=True)
class Metric:
    """A metric models are ranked on: its label and the report key it reads for each pair."""

    label: str
    key_of: KeyOf
    diagram: bool = False


def _main(column: Column) -> KeyOf:
    return lambda s: column.key_for(s.headline_protocol)


def _honest(column: Column) -> KeyOf:
    return lambda s: column.key_for(s.honest_protocol)


def ranked_metrics() -> list[Metric]:
    """The headline PA-F1 (main table) and every honest column; diagrams for PA-F1 and VUS-PR."""
    headline = next(c for c in MAIN_COLUMNS if c.header == "F1")
    metrics = [Metric("PA-F1 (headline protocol)", _main(headline), diagram=True)]
    for column in HONEST_COLUMNS:
        diagram = column.key == f"{THRESHOLD_FREE}/vus_pr"
        metrics.append(Metric(f"{column.header} (honest table)", _honest(column), diagram))
    return metrics


@dataclasses.dataclass(frozen=True)
class BlockSet:
    """Blocks models are compared over: the datasets, or one per-entity dataset's entities;
    `cells[block][model]` is the cell of that model on that block for a metric."""

    name: str
    noun: str
    cells: dict[str, dict[str, Cell]]


def block_sets(selections: list[Selection], labels: dict[str, str], metric: Metric) -> list[BlockSet]:
    """Across datasets (a per-entity dataset by its entity mean), then across each per-entity
    dataset's entities."""
    groups = pair_groups(selections)
    datasets = list(dict.fromkeys(table_dataset(s) for s in selections))
    across = {d: {labels[m]: pair_cell(groups[(m, d)], metric.key_of) for m in labels if (m, d) in groups}
              for d in datasets}
    sets = [BlockSet("datasets", "datasets", across)]
    for dataset in datasets:
        members = [s for s in selections if is_entity_run(s) and table_dataset(s) == dataset]
        if members:
            cells: dict[str, dict[str, Cell]] = {}
            for s in members:
                cells.setdefault(entity_name(s), {})[labels[s.model]] = aggregate(s, metric.key_of(s))
            sets.append(BlockSet(f"{dataset} entities", f"entities of {dataset}", cells))
    return sets


def comparison_of(blocks: BlockSet, metric: Metric) -> tuple[RankComparison | None, str, bool]:
    """The rank comparison over the blocks where every compared model has a number (models with no
    number anywhere are left out), or None and why; and whether any compared number is an oracle."""
    models = list(dict.fromkeys(m for row in blocks.cells.values() for m, c in row.items() if c.values))
    complete = [b for b, row in blocks.cells.items() if all(m in row and row[m].values for m in models)]
    where = f"{metric.label} across {blocks.noun}"
    if len(models) < 2:
        return None, f"{where}: fewer than two models have a number", False
    if len(complete) < MIN_BLOCKS:
        why = (f"{where}: N = {len(complete)} {blocks.noun} with a number for every model, fewer than the {MIN_BLOCKS} "
               "a two-sided Wilcoxon test at 0.05 needs (with N = 5 its smallest p is 0.0625)")
        return None, why, False
    values = np.array([[blocks.cells[b][m].mean for m in models] for b in complete])
    oracle = any(blocks.cells[b][m].oracle for b in complete for m in models)
    label = metric.label + (f" {ORACLE.symbol}" if oracle else "")
    return compare(values, models, complete, label), "", oracle


@dataclasses.dataclass(frozen=True)
class Rankings:
    """Everything the report shows of the rank statistics."""

    comparisons: list[tuple[str, RankComparison]]
    not_drawn: list[str]
    figures: list[WrittenFigure]


def rankings(selections: list[Selection], labels: dict[str, str], figures_out: Path | None) -> Rankings:
    """Every comparison, a CD diagram per block set for the diagram metrics (unless `figures_out`
    is None), and why each missing diagram is missing."""
    comparisons, not_drawn, figures = [], [], []
    for metric in ranked_metrics():
        for blocks in block_sets(selections, labels, metric):
            comparison, why_not, oracle = comparison_of(blocks, metric)
            if comparison is None:
                if metric.diagram:
                    not_drawn.append(why_not)
                continue
            comparisons.append((blocks.name, comparison))
            if metric.diagram and figures_out is not None:
                caption = cd_caption(comparison, blocks.noun) + (
                    f" {ORACLE.symbol} some numbers were chosen with test labels (oracle)." if oracle else "")
                stem = f"cd_{metric.label.split()[0]}_{blocks.name.replace(' ', '_')}"
                figures.append(cd_figure(comparison, f"{comparison.metric} across {blocks.noun}", caption, stem,
                                         figures_out))
    return Rankings(comparisons, not_drawn, figures)


def ranks_frame(result: Rankings) -> pd.DataFrame:
    """`ranks.csv`: one row per (block set, metric, model) with the test results of its comparison."""
    rows = []
    for block_set, c in result.comparisons:
        for model, rank in zip(c.models, c.ranks):
            rows.append({"blocks": block_set, "metric": c.metric, "model": model, "average_rank": float(rank),
                         "n_blocks": len(c.blocks), "n_models": len(c.models), "friedman_chi2": c.friedman.chi2,
                         "friedman_p": c.friedman.p_chi2, "iman_davenport_f": c.friedman.f,
                         "iman_davenport_p": c.friedman.p_f, "nemenyi_cd": c.critical_difference,
                         "block_names": " ".join(c.blocks)})
    return pd.DataFrame(rows, columns=["blocks", "metric", "model", "average_rank", "n_blocks", "n_models",
                                       "friedman_chi2", "friedman_p", "iman_davenport_f", "iman_davenport_p",
                                       "nemenyi_cd", "block_names"])


def wilcoxon_frame(result: Rankings) -> pd.DataFrame:
    """`wilcoxon.csv`: every pairwise Wilcoxon signed-rank test with its Holm-adjusted p-value."""
    rows = [{"blocks": block_set, "metric": c.metric, "model_a": t.a, "model_b": t.b, "n_blocks": len(c.blocks),
             "statistic": t.statistic, "p": t.p, "p_holm": t.p_holm, "significant": t.significant}
            for block_set, c in result.comparisons for t in c.tests]
    return pd.DataFrame(rows, columns=["blocks", "metric", "model_a", "model_b", "n_blocks", "statistic", "p",
                                       "p_holm", "significant"])


def average_rank_table(result: Rankings) -> pd.DataFrame:
    """Average ranks as the report shows them: (block set, metric, N, Friedman p) rows, model columns."""
    rows = {}
    for block_set, c in result.comparisons:
        row = {"N": len(c.blocks), "Friedman p": f"{c.friedman.p_chi2:.3g}"}
        row.update({m: f"{r:.2f}" for m, r in zip(c.models, c.ranks)})
        rows[(block_set, c.metric)] = row
    frame = pd.DataFrame.from_dict(rows, orient="index").fillna("—")
    if not frame.empty:
        frame.index = pd.MultiIndex.from_tuples(frame.index, names=["blocks", "metric"])
    return frame
