"""The LaTeX tables compile with a real engine (pdflatex from Debian's texlive-latex-base and
texlive-latex-recommended); skipped only where pdflatex is absent. Run with `-m slow`."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from tests.test_results_fakes import FakeTrial, config, random_reports, write_experiment
from tests.test_results_tables import build_partial_grid
from tsadbench.results.tables import write_tables

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed: apt-get install "
                                 "texlive-latex-base texlive-latex-recommended")]


def _compile(folder):
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper_tables.tex"],
                          cwd=folder, capture_output=True, text=True, timeout=120)
    log = (folder / "paper_tables.log").read_text(errors="replace")
    assert done.returncode == 0, log[-3000:]
    assert (folder / "paper_tables.pdf").stat().st_size > 1000
    for problem in ("Missing character", "Overfull \\hbox", "Undefined control sequence"):
        assert problem not in log, problem
    return log


def test_every_table_of_a_partial_grid_with_seeds_and_oracles_compiles(tmp_path):
    written = write_tables(build_partial_grid(tmp_path)[0])
    log = _compile(written["paper_tables.tex"].parent)
    assert "Output written on paper_tables.pdf (3 pages" in log


def test_tables_with_one_model_and_no_published_rows_compile(tmp_path):
    rng = np.random.default_rng(0)
    trial = FakeTrial("r1", config(rng), random_reports(rng, 1, 1))
    write_experiment(tmp_path / "grid", "random", "synthetic", [trial], display_name="Random score")
    _compile(write_tables(tmp_path / "grid")["paper_tables.tex"].parent)
