"""The static report of one grid: every table (HTML, with links to CSV, Markdown and LaTeX), every
figure (PNG, linking its PDF), failures and provenance, in one `report.html` that opens from disk
without Ray or a server."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from .aggregate import Table
from .plots import FigureDrawing, WrittenFigure
from .figure_helper import FigureHelper
from .provenance import code_state, trial_times
from .rankings import Rankings, average_rank_table, ranks_frame, rankings, wilcoxon_frame
from .records import read_grid
from .render import text_frame
from .select import Selection, select
from .tables import build_tables, row_labels, write_table_files

RANK_CSS = {1: "font-weight: bold;", 2: "text-decoration: underline;"}
RULE_CSS = " border-top: 2px solid #555;"  # above the first sanity baseline of a row group

TEMPLATE = jinja2.Environment(autoescape=True).from_string("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tsadbench report: {{ run }}</title>
<style>
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ccc; padding: 0.2em 0.6em; text-align: center; }
.notes { font-size: 0.85em; color: #444; } .warn { color: #a40; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #444; }
</style></head><body>
<h1>Results of {{ run }}</h1>
<p>Grid folder <code>{{ grid_dir }}</code>; rebuilt {{ now }} from the stored trial records with
<code>python -m tsadbench.results {{ grid_dir }}</code>. {{ summary }}</p>
<h2>Contents</h2><ul>
{% for table in tables %}<li><a href="#table-{{ table.name }}">Table: {{ table.caption }}</a></li>{% endfor %}
{% for group in figure_groups %}<li><a href="#figures-{{ loop.index }}">Figures: {{ group }}</a></li>{% endfor %}
<li><a href="#ranks">Rank statistics</a></li><li><a href="#problems">Failures and gaps</a></li><li><a href="#provenance">Provenance</a></li></ul>
<p>Downloads: {% for name in downloads %}<a href="{{ name }}">{{ name }}</a>{% if not loop.last %}, {% endif %}
{% endfor %}</p>
{% for table in tables %}
<h2 id="table-{{ table.name }}">{{ table.caption }}</h2>
<p>Files: {% for ext in ["csv", "md", "tex"] %}<a href="{{ table.name }}.{{ ext }}">{{ table.name }}.{{ ext }}</a>
{% endfor %}</p>
{{ table.html }}
<div class="notes">{% for note in table.notes %}<p>{{ note }}</p>{% endfor %}</div>
{% endfor %}
<h2 id="ranks">Rank statistics</h2>
<p>Average rank of each model (1 = best, ties share their mean rank) across datasets and across the entities of
every dataset run per entity, per metric, with the Friedman test's p-value
(<a href="ranks.csv">ranks.csv</a>; pairwise Wilcoxon signed-rank tests with Holm's correction:
<a href="wilcoxon.csv">wilcoxon.csv</a>). The critical-difference diagrams are below.</p>
{% if rank_html %}{{ rank_html }}{% else %}<p>No rank comparison: too few blocks (see below).</p>{% endif %}
{% if not_drawn %}<p class="warn">No critical-difference diagram for:</p>
<ul>{% for line in not_drawn %}<li>{{ line }}</li>{% endfor %}</ul>{% endif %}
{% for group, figures in figure_groups.items() %}
<h2 id="figures-{{ loop.index }}">{{ group }}</h2>
{% for figure in figures %}
<figure><a href="{{ figure.pdf }}"><img src="{{ figure.png }}" alt="{{ figure.title }}"></a>
<figcaption><b>{{ figure.title }}.</b> {{ figure.caption }} (<a href="{{ figure.pdf }}">PDF</a>)</figcaption></figure>
{% endfor %}{% endfor %}
<h2 id="problems">Failures and gaps</h2>
{% if incomplete %}<p class="warn">Not finished: {{ incomplete | join(", ") }}.</p>{% endif %}
{% if failures %}<table><tr><th>experiment</th><th>trial</th><th>error (last line)</th></tr>
{% for row in failures %}<tr><td>{{ row.experiment }}</td><td>{{ row.trial }}</td><td>{{ row.error }}</td></tr>
{% endfor %}
</table>{% else %}<p>No trial failed.</p>{% endif %}
{% if skipped %}<p>Figures not drawn:</p><ul>{% for line in skipped %}<li>{{ line }}</li>{% endfor %}</ul>{% endif %}
<h2 id="provenance">Provenance</h2>
<table><tr>{% for key in provenance[0] %}<th>{{ key }}</th>{% endfor %}</tr>
{% for row in provenance %}<tr>{% for value in row.values() %}<td>{{ value }}</td>{% endfor %}</tr>{% endfor %}</table>
</body></html>
""")


def table_html(table: Table) -> str:
    """The table as HTML, best in bold and second underlined, a rule above the sanity baselines,
    every label and cell escaped."""
    text = text_frame(table.cells)
    styles = table.ranks.map(lambda rank: RANK_CSS.get(rank, "")).to_numpy()
    for position in table.rules:
        styles[position] = [style + RULE_CSS for style in styles[position]]
    styler = (text.style.apply(lambda frame: pd.DataFrame(styles, index=frame.index, columns=frame.columns), axis=None)
              .format(escape="html").format_index(escape="html", axis=0).format_index(escape="html", axis=1))
    return styler.to_html()


def _provenance(selections: list[Selection]) -> list[dict[str, Any]]:
    """One row per (model, dataset): its experiments, trials, selection, data, code and time spent
    (every experiment's versions, machine and dataset sha256: provenance.csv)."""
    rows = []
    for s in selections:
        data = s.meta.get("data", {})
        gpu = float((s.meta.get("resources") or {}).get("gpu", 0.0))
        rows.append({
            "model": s.display_name, "dataset": s.dataset,
            "experiments": ", ".join(m["experiment"] for m in s.experiments),
            "complete": "yes" if s.complete else "no", "trials": len(s.trials), "failed": s.n_failed,
            "protocol": f"{s.headline_protocol} ({s.meta.get('protocol_mode', 'mode not recorded')})",
            "objective": f"{s.objective['name']} ({s.objective['mode']} {s.objective['metric']})",
            "selected": s.best.trial_id if s.best else "—", "seeds in tables": len(s.reported),
            "data": f"{data.get('train_rows', '?')}/{data.get('val_rows', '?')}/{data.get('test_rows', '?')} rows "
                    f"(train/val/test), scaler {data.get('scaler', '?')} on {data.get('scaler_fitted_on', '?')}, "
                    f"val {data.get('val_split', '?')}",
            "code": code_state(s.meta), "config hash": (s.meta.get("provenance") or {}).get("config_hash", "?"),
            "trial time (s, wall / CPU / GPU)": " / ".join(
                f"{sum(trial_times(t, gpu)[kind] for t in s.trials):.0f}" for kind in ("wall", "cpu", "gpu")),
            "started": s.meta.get("started_at", "?"),
        })
    return rows


def _relative(path: Path, out: Path) -> str:
    return Path(os.path.relpath(path, out)).as_posix()


def render_html(grid_dir: Path, selections: list[Selection], tables: list[Table], figures: list[WrittenFigure],
                skipped: list[str], out: Path, downloads: list[str], ranking: Rankings) -> str:
    """The report page; every link is relative to `out`, where it is written; `downloads` are the
    files beside the tables (LaTeX document, CSV exports)."""
    groups: dict[str, list[dict[str, str]]] = {}
    for figure in figures:
        links = {"png": _relative(figure.png, out), "pdf": _relative(figure.pdf, out)}
        groups.setdefault(figure.group, []).append({"title": figure.title, "caption": figure.caption, **links})
    trials = [t for s in selections for t in s.trials]
    failures = [{"experiment": t.experiment, "trial": t.trial_dir.name, "error": t.error.splitlines()[-1]}
                for t in trials if t.status == "ERROR" and t.error]
    return TEMPLATE.render(
        run=grid_dir.resolve().name, grid_dir=grid_dir,
        now=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        summary=f"{len(selections)} (model, dataset) pairs, {len(trials)} trials, {len(failures)} failed.",
        tables=[{"name": t.name, "caption": t.caption, "notes": t.notes, "html": Markup(table_html(t))}
                for t in tables],
        figure_groups=groups, skipped=skipped, failures=failures,
        incomplete=[m["experiment"] for s in selections for m in s.experiments if not m.get("complete")],
        downloads=downloads, not_drawn=ranking.not_drawn,
        rank_html=Markup(average_rank_table(ranking).to_html(escape=True)) if ranking.comparisons else "",
        provenance=_provenance(selections),
    )


def write_report(grid_dir: Path, out_dir: Path | None = None, figures: bool = True,
                 helper: FigureHelper | None = None) -> dict[str, Path]:
    """Tables, figures (unless `figures` is False) and `report.html` of a grid folder, from its stored
    records alone; default out: `<grid_dir>/tables`. A `helper` process draws figures as well, from
    the start (while the tables are written). Returns every written file by name."""
    grid_dir = Path(grid_dir)
    selections = select(*read_grid(grid_dir))
    out = Path(out_dir or grid_dir / "tables")
    labels, _ = row_labels(selections)
    drawing = FigureDrawing(selections, labels, out / "figures", helper, grid_dir) if figures else None
    tables = build_tables(selections)
    written = write_table_files(selections, tables, out)
    shown = {f"{table.name}.{ext}" for table in tables for ext in ("csv", "md", "tex")}
    downloads = [name for name in written if name not in shown]
    drawn, skipped = drawing.finish() if drawing is not None else ([], ["figures not requested"])
    ranking = rankings(selections, labels, out / "figures" if figures else None)
    drawn += ranking.figures
    for name, frame in {"ranks.csv": ranks_frame(ranking), "wilcoxon.csv": wilcoxon_frame(ranking)}.items():
        frame.to_csv(out / name, index=False)
        written[name] = out / name
    for figure in drawn:
        written.update({_relative(figure.png, out): figure.png, _relative(figure.pdf, out): figure.pdf})
    written["report.html"] = out / "report.html"
    written["report.html"].write_text(render_html(grid_dir, selections, tables, drawn, skipped, out, downloads,
                                                        ranking))
    return written
