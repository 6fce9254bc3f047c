"""The experiment scheduler without Ray: experiments side by side, the limit on how many, follow-ups
released the moment their search ends, plan order of outcomes, Ctrl-C, and the grid status line."""
import pickle
import threading
import time
from pathlib import Path

import pytest

from tsadbench.tuning import progress, scheduler
from tsadbench.tuning.experiment import ExperimentOutcome
from tsadbench.tuning.progress import GridBoard, TrialLinePrinter
from tsadbench.tuning.scheduler import ExperimentJob, run_jobs


class Recorder:
    """Jobs that record when they ran; `hold` makes a job wait until the event is set."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.most_at_once = 0
        self.events: list[tuple[str, str]] = []

    def job(self, name, seconds=0.05, status="complete", followups=(), hold=None):
        def run():
            with self.lock:
                self.running.add(name)
                self.most_at_once = max(self.most_at_once, len(self.running))
                self.events.append(("start", name))
            if hold is not None:
                assert hold.wait(5)
            time.sleep(seconds)
            with self.lock:
                self.running.discard(name)
                self.events.append(("end", name))
            return ExperimentOutcome(name, Path(name), status, 1, 0)

        return ExperimentJob(name, Path(name), run, lambda outcome: list(followups))


def test_every_experiment_runs_at_once_by_default_and_outcomes_keep_plan_order():
    rec = Recorder()
    barrier = threading.Barrier(4, timeout=5)

    def meets(name):
        def run():
            barrier.wait()  # only passes if all four run at the same time
            return ExperimentOutcome(name, Path(name), "complete", 1, 0)
        return ExperimentJob(name, Path(name), run)

    outcomes = run_jobs([meets(n) for n in "abcd"])
    assert [o.name for o in outcomes] == list("abcd")
    outcomes = run_jobs([rec.job("slow", 0.3), rec.job("fast", 0.0)])
    assert [o.name for o in outcomes] == ["slow", "fast"]


def test_the_limit_caps_experiments_running_at_once():
    rec = Recorder()
    outcomes = run_jobs([rec.job(n, 0.05) for n in "abcde"], max_running=2)
    assert rec.most_at_once == 2 and len(outcomes) == 5
    rec = Recorder()
    run_jobs([rec.job(n, 0.02) for n in "abc"], max_running=1)
    assert rec.events == [(e, n) for n in "abc" for e in ("start", "end")]


def test_followups_start_as_soon_as_their_search_ends_not_after_the_grid():
    rec = Recorder()
    release_long = threading.Event()
    seeds = rec.job("a__seeds", 0.0)
    untrained = rec.job("a__untrained", 0.0)

    def long_run():
        outcome = rec.job("b", 0.0, hold=release_long).run()
        return outcome

    def watcher():
        deadline = time.time() + 5
        while time.time() < deadline and ("end", "a__untrained") not in rec.events:
            time.sleep(0.01)
        release_long.set()

    threading.Thread(target=watcher, daemon=True).start()
    outcomes = run_jobs([rec.job("a", 0.0, followups=(seeds, untrained)),
                         ExperimentJob("b", Path("b"), long_run)])
    assert rec.events.index(("end", "a__untrained")) < rec.events.index(("end", "b"))
    assert [o.name for o in outcomes] == ["a", "a__seeds", "a__untrained", "b"]


def test_an_interrupted_experiment_releases_no_followups_and_the_others_go_on():
    rec = Recorder()
    outcomes = run_jobs([rec.job("a", status="interrupted", followups=(rec.job("a__seeds"),)), rec.job("b")])
    assert [(o.name, o.status) for o in outcomes] == [("a", "interrupted"), ("b", "complete")]


def test_ctrl_c_starts_nothing_new_and_running_experiments_end_as_interrupted(monkeypatch):
    rec = Recorder()
    started = threading.Event()

    def stops_when_asked():
        started.set()
        deadline = time.time() + 5
        while not scheduler.STOP.is_set() and time.time() < deadline:
            time.sleep(0.01)
        raise scheduler.StopRequested("stopped by Ctrl-C")  # what GridCallback raises in the Tune loop

    real_wait = scheduler.wait
    calls = {"n": 0}

    def interrupted_wait(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            assert started.wait(5)
            raise KeyboardInterrupt
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(scheduler, "wait", interrupted_wait)
    outcomes = run_jobs([ExperimentJob("a", Path("a"), stops_when_asked), rec.job("b", 0.0)], max_running=1)
    assert [(o.name, o.status) for o in outcomes] == [("a", "interrupted")]
    assert rec.events == []


def test_a_bug_in_one_experiment_stops_the_grid_and_is_raised():
    def broken():
        raise RuntimeError("bug")

    rec = Recorder()
    with pytest.raises(RuntimeError, match="bug"):
        run_jobs([ExperimentJob("a", Path("a"), broken), rec.job("b", 0.0)], max_running=1)
    assert rec.events == []


def test_the_grid_callback_ends_the_tune_loop_only_after_a_stop():
    import pickle

    callback = pickle.loads(pickle.dumps(scheduler.GridCallback()))
    scheduler.STOP.clear()
    callback.on_step_begin(iteration=0, trials=[])
    scheduler.STOP.set()
    with pytest.raises(scheduler.StopRequested):
        callback.on_step_begin(iteration=1, trials=[])
    scheduler.STOP.clear()


def test_the_grid_line_names_every_running_experiment_and_gives_an_eta():
    lines = []
    with GridBoard(planned_trials=10, printer=lines.append, every_s=60, estimate_s=600) as board:
        first = TrialLinePrinter("m__a", "val_loss", planned=4, printer=lambda line: None)
        second = TrialLinePrinter("m__b", "val_loss", planned=6, printer=lambda line: None)
        for printer in (first, second):
            printer.setup()
        assert progress._ACTIVE_BOARD is board
        first.on_trial_start(0, [], type("T", (), {"trial_id": "t1"})())
        assert board.status_line(board.started + 30).endswith(
            "experiments running: m__a 0/4 (1 running); started, waiting for a trial to start: m__b 0/6")
        second.on_trial_start(0, [], type("T", (), {"trial_id": "t2"})())
        assert board.status_line(board.started + 60) == (
            "[grid] 0 done, 2 running, 0 failed of 10 trials; 1.0 min elapsed, ETA 9.0 min (planned); "
            "experiments running: m__a 0/4 (1 running), m__b 0/6 (1 running)")
        first.on_trial_complete(0, [], type("T", (), {"trial_id": "t1", "last_result": {}, "path": "x"})())
        first.on_experiment_end([])
        line = board.status_line(board.started + 120)
        assert line.startswith("[grid] 1 done, 1 running, 0 failed of 10 trials; 2.0 min elapsed, ETA 18.0 min;")
        assert line.endswith("experiments running: m__b 0/6 (1 running)")
        begin, end = board.trial_spans[("m__a", "t1")]
        assert begin <= end
    assert progress._ACTIVE_BOARD is None and lines == []


def test_lines_printed_from_several_experiment_threads_never_overlap():
    inside, overlaps, lines = [], [], []

    def slow_printer(line):
        inside.append(line)
        overlaps.append(len(inside) > 1)
        time.sleep(0.0005)
        lines.append(line)
        inside.remove(line)

    printer = progress.WholeLinePrinter(slow_printer)
    threads = [threading.Thread(target=lambda k=k: [printer(f"{k}:{i}") for i in range(25)]) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not any(overlaps) and sorted(lines) == sorted(f"{k}:{i}" for k in range(4) for i in range(25))


def test_the_whole_line_printer_survives_the_pickling_tune_does_to_its_callbacks():
    callback = TrialLinePrinter("exp", "pa_f1", 3, printer=progress.WholeLinePrinter(print))
    restored = pickle.loads(pickle.dumps(callback))
    assert isinstance(restored.printer, progress.WholeLinePrinter) and restored.printer.printer is print
    with restored.printer._lock:
        pass
