"""Figures and the static HTML report from a small fake grid whose records are evaluated on the
stored scores, the Optuna study rebuilt from the trial records, and `python -m results`."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest

from tests.test_results_fakes import FakeTrial, config, fake_scores, scored_reports, write_experiment
from tsadbench.results.figure_helper import FigureHelper
from tsadbench.results.plots import FigureDrawing, figure_jobs
from tsadbench.results.plots.study import rebuild_study
from tsadbench.results.plots.timeline import envelope, segments
from tsadbench.results.records import read_grid
from tsadbench.results.report import write_report
from tsadbench.results.select import select
from tsadbench.results.tables import row_labels

REPOSITORY = Path(__file__).resolve().parent.parent


def _scored(rng, trial_id, epochs, val_loss, **extra):
    scores = fake_scores(rng)
    return FakeTrial(trial_id, config(rng, **extra), scored_reports(scores, epochs, val_loss=val_loss), scores=scores)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """An autoencoder with five search trials (one failed) and two sanity baselines on one dataset,
    and the autoencoder alone with one trial on a second."""
    root = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(3)
    search = [_scored(rng, f"aesyn{i}", 3 if i < 2 else 2, val_loss) for i, val_loss in enumerate((0.2, 0.4, 0.5, 0.3))]
    failed = FakeTrial("aesynx", config(rng, lr=-1.0), [], error="ValueError: lr > 0 required")
    write_experiment(root, "mlp_autoencoder", "synthetic", search + [failed], display_name="MLP autoencoder")
    for model, name in (("random", "Random score"), ("one_liner", "One-liner |Δx| (Wu & Keogh 2021)")):
        write_experiment(root, model, "synthetic", [_scored(rng, f"{model[:3]}syn", 1, 0.5)], display_name=name)
    write_experiment(root, "mlp_autoencoder", "SMD", [_scored(rng, "aesmd0", 2, 0.3)], display_name="MLP autoencoder")
    return root


@pytest.fixture(scope="module")
def written(grid):
    return write_report(grid)


def test_every_figure_is_written_as_png_and_pdf(written):
    stems = {Path(name).stem for name in written if name.startswith("figures/")}
    experiments = ["mlp_autoencoder__synthetic", "random__synthetic", "one_liner__synthetic", "mlp_autoencoder__SMD"]
    expected = {"inflation", "timeline_synthetic", "timeline_SMD", "importance_mlp_autoencoder__synthetic",
                *(f"{kind}_{e}" for kind in ("history", "curves") for e in experiments)}
    assert stems == expected
    for name, path in written.items():
        if name.endswith(".png"):
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000, name
        if name.endswith(".pdf"):
            assert path.read_bytes()[:5] == b"%PDF-", name


def test_the_report_links_every_table_and_figure_and_every_link_resolves(written):
    report = written["report.html"]
    html = report.read_text()
    links = set(re.findall(r'(?:href|src)="([^"#]+)"', html))
    assert all(not link.startswith(("http:", "https:", "/")) for link in links)
    assert [link for link in links if not (report.parent / link).is_file()] == []
    for name in written:
        if name != "report.html":
            assert name in links, name
    assert "ValueError: lr &gt; 0 required" in html and "One-liner |Δx|" in html


def test_the_study_is_rebuilt_from_the_trial_records(grid):
    selection = next(s for s in select(*read_grid(grid)) if s.model == "mlp_autoencoder" and s.dataset == "synthetic")
    study = rebuild_study(selection)
    states = sorted(t.state.name for t in study.trials)
    assert states == ["COMPLETE"] * 4 + ["FAIL"]
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert sorted(t.value for t in complete) == pytest.approx([0.2, 0.3, 0.4, 0.5])
    assert study.best_trial.user_attrs["trial"] == selection.best.trial_dir.name == "trial_aesyn0"
    assert study.best_trial.params["lr"] == selection.best.config["lr"]
    assert study.best_trial.intermediate_values == {1: pytest.approx(0.4), 2: pytest.approx(0.3), 3: pytest.approx(0.2)}


def test_long_scores_are_drawn_as_bucket_maxima_and_segments_are_exact():
    scores = np.zeros(10_000)
    scores[1234] = 5.0
    x, y, step = envelope(scores, max_points=1000)
    assert step == 10 and len(x) == len(y) == 1000 and y.max() == 5.0 and x[np.argmax(y)] == 1230
    assert segments(np.array([0, 1, 1, 0, 0, 1, 0, 1])) == [(1, 2), (5, 1), (7, 1)]


def test_python_m_results_rebuilds_from_the_repository_root_without_torch_or_ray(grid, tmp_path):
    done = subprocess.run([sys.executable, "-m", "results", str(grid), "--out", str(tmp_path), "--no-figures"],
                          cwd=REPOSITORY, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "report.html" in done.stdout and (tmp_path / "main.tex").is_file()
    done = subprocess.run(
        [sys.executable, "-c", "import sys, tsadbench.results.report; print(' '.join(sys.modules))"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=120)
    imported = done.stdout.split()
    assert done.returncode == 0 and "tsadbench.results.plots.study" in imported, done.stderr
    assert not {name.split(".")[0] for name in imported} & {"torch", "ray"}
    assert not any(name.startswith(("tsadbench.zoo", "tsadbench.tuning")) for name in imported)


def test_an_untrained_copy_gets_no_history_or_learning_curves_only_a_note(tmp_path):
    """One trial scored once, untrained: an optimisation history or learning curves would show one point."""
    rng = np.random.default_rng(5)
    write_experiment(tmp_path, "mlp_autoencoder", "synthetic", [_scored(rng, f"ae{i}", 2, 0.3 + i / 10) for i in range(2)],
                     display_name="MLP autoencoder")
    copy = write_experiment(tmp_path, "mlp_autoencoder:untrained", "synthetic", [_scored(rng, "untrained_00000", 1, 0.9)],
                            display_name="Untrained MLP autoencoder",
                            extra_meta={"untrained_copy_of": "mlp_autoencoder__synthetic"})
    copy.rename(tmp_path / "mlp_autoencoder__synthetic__untrained")
    written = write_report(tmp_path)
    stems = {Path(name).stem for name in written if name.startswith("figures/")}
    assert stems == {"inflation", "timeline_synthetic", "history_mlp_autoencoder__synthetic",
                     "curves_mlp_autoencoder__synthetic"}
    html = written["report.html"].read_text()
    assert ("optimisation history and learning curves of Untrained MLP autoencoder on synthetic: an untrained copy "
            "is one trial scored once") in html


def _started_helper() -> FigureHelper:
    helper = FigureHelper.start()
    if helper is None:
        pytest.skip("a single core: no figure helper is started")
    return helper


def _report_text(path: Path) -> str:
    """report.html without what differs between two writes: the output folder, the build time
    and pandas' random table ids."""
    text = path.read_text().replace(str(path.parent), "OUT")
    return re.sub(r"T_[0-9a-f]{5}", "T", re.sub(r"rebuilt \S+ \S+ UTC", "rebuilt", text))


def test_a_figure_helper_process_draws_jobs_from_the_same_list(grid, tmp_path):
    selections = select(*read_grid(grid))
    labels, _ = row_labels(selections)
    alone = FigureDrawing(selections, labels, tmp_path / "alone").finish()
    with _started_helper() as helper:
        drawing = FigureDrawing(selections, labels, tmp_path / "helped", helper, grid)
        deadline = time.monotonic() + 60
        while helper.jobs_drawn == 0 and time.monotonic() < deadline:  # this process draws nothing meanwhile
            time.sleep(0.05)
        figures, skipped = drawing.finish()
    assert 1 <= helper.jobs_drawn <= len(figure_jobs(selections))
    assert [f.png.relative_to(tmp_path / "helped") for f in figures] == [f.png.relative_to(tmp_path / "alone")
                                                                       for f in alone[0]]
    assert [(f.group, f.title, f.caption) for f in figures] == [(f.group, f.title, f.caption) for f in alone[0]]
    assert skipped == alone[1]
    assert all(f.png.stat().st_size > 5000 and f.pdf.stat().st_size > 0 for f in figures)


def test_a_report_written_with_a_helper_is_the_report_written_alone(grid, tmp_path):
    alone = write_report(grid, tmp_path / "alone")
    with _started_helper() as helper:
        helped = write_report(grid, tmp_path / "helped", helper=helper)
    assert {name: path.relative_to(tmp_path / "helped") for name, path in helped.items()} == \
           {name: path.relative_to(tmp_path / "alone") for name, path in alone.items()}
    assert _report_text(helped["report.html"]) == _report_text(alone["report.html"])
    assert all(path.stat().st_size > 0 for path in helped.values())


def test_a_helper_that_died_leaves_every_job_to_the_caller(grid, tmp_path):
    helper = _started_helper()
    helper._process.kill()
    helper._process.wait()
    written = write_report(grid, tmp_path / "out", helper=helper)
    helper.close()
    assert helper.jobs_drawn == 0
    assert _report_text(written["report.html"]) == _report_text(write_report(grid, tmp_path / "alone")["report.html"])


class _FailingHelper:
    """Takes one job and leaves it undrawn, as a helper does when it fails to draw it."""

    def open(self, grid_dir, out, jobs):
        return True

    def draw_all(self, indices, drawn):
        self.taken = next(indices)


def test_a_job_the_helper_failed_to_draw_is_drawn_by_the_caller(grid, tmp_path):
    selections = select(*read_grid(grid))
    labels, _ = row_labels(selections)
    helper = _FailingHelper()
    figures, skipped = FigureDrawing(selections, labels, tmp_path, helper, grid).finish()
    alone, alone_skipped = FigureDrawing(selections, labels, tmp_path / "alone").finish()
    assert helper.taken == 0 and figure_jobs(selections)[0] == ("inflation", "")
    assert [f.png.name for f in figures] == [f.png.name for f in alone] and skipped == alone_skipped
