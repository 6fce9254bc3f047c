"""Tables (CSV, Markdown, LaTeX) built from stored trial records alone."""
