"""Tables (CSV, Markdown, LaTeX), figures and a static HTML report built from stored trial records
alone: `write_tables(grid_dir)`, `write_report(grid_dir)`, or `python -m tsadbench.results GRID`."""
