"""Tables as Markdown: a pipe table (best in bold, second underlined), caption and footnotes."""
from __future__ import annotations

import pandas as pd

EMPHASIS = {1: ("**", "**"), 2: ("<u>", "</u>")}


def _escape(text: object) -> str:
    return str(text).replace("|", r"\|")


def markdown_table(text: pd.DataFrame, ranks: pd.DataFrame, caption: str, notes: tuple[str, ...],
                   rules: tuple[int, ...] = ()) -> str:
    """`text` (cells as shown) with the emphasis of `ranks`; a MultiIndex becomes several label columns;
    a *sanity baselines* line stands above each row position in `rules` (Markdown has no rules)."""
    index_names = [str(name) for name in text.index.names]
    headers = index_names + [" ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in text.columns]
    lines = [f"**{caption}**", "", "| " + " | ".join(map(_escape, headers)) + " |", "|" + "---|" * len(headers)]
    for position, ((label, row), (_, rank_row)) in enumerate(zip(text.iterrows(), ranks.iterrows())):
        labels = list(label) if isinstance(label, tuple) else [label]
        if position in rules:
            lines.append("| " + " | ".join(labels[:-1] + ["*sanity baselines*"] + [""] * row.size) + " |")
        cells = []
        for value, rank in zip(row.tolist(), rank_row.tolist()):
            before, after = EMPHASIS.get(rank, ("", ""))
            cells.append(f"{before}{value}{after}")
        lines.append("| " + " | ".join(map(_escape, labels + cells)) + " |")
    return "\n".join(lines + [""] + [f"{note}  " for note in notes]) + "\n"
