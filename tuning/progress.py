"""A terse live view in the terminal: one line per finished or failed trial, and every
`STATUS_EVERY_S` seconds a status line with trials done, running, failed and an ETA.

The status line comes from a small thread of the driver, so it keeps coming while a long epoch
runs and Tune's own loop has nothing to report. While a grid runs its experiments side by side,
one `GridBoard` prints a single line for the whole grid naming every running experiment; each
experiment's `TrialLinePrinter` registers with it when its Tune run starts (also after a restore,
which brings back the pickled printer).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from ray import tune

STATUS_EVERY_S = 30.0


class WholeLinePrinter:
    """`printer` for several threads: each line is printed whole (print writes a line and its
    newline separately, so two experiments' lines could run together). Tune pickles it with the
    callbacks that print: the lock stays behind and a fresh one is made on unpickling."""

    def __init__(self, printer: Callable[[str], None] = print):
        self.printer = printer
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            self.printer(line)

    def __getstate__(self) -> dict[str, Any]:
        return {"printer": self.printer}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.printer = state["printer"]
        self._lock = threading.Lock()


class TrialLinePrinter(tune.Callback):
    """Prints `[experiment] trial N done ...` lines and periodic status lines."""

    def __init__(self, experiment: str, objective_metric: str, planned: int, headline: str = "at-compat",
                 printer: Callable[[str], None] = print):
        self.experiment = experiment
        self.headline = headline
        self.objective_metric = objective_metric
        self.planned = planned
        self.printer = printer
        self.done = 0
        self.failed = 0
        self.running: set[str] = set()
        self.started = time.monotonic()
        self._stop: threading.Event | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Tune pickles its callbacks with the experiment: the status thread stays behind."""
        return {**self.__dict__, "_stop": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A resumed experiment brings back the callback pickled when it started, possibly by an
        older version of this class: counters it lacks start afresh."""
        self.__dict__.update({"done": 0, "failed": 0, "running": set(), "headline": "at-compat",
                              "started": time.monotonic(), "_stop": None, **state})

    def _line(self, result: dict[str, Any], status: str) -> str:
        headline = _nested(result, self.headline.replace("-", "_")) or {}
        oracle = _nested(result, "best_f1") or {}
        objective = _nested(result, self.objective_metric)
        parts = [f"[{self.experiment}] trial {self.done + self.failed}/{self.planned} {status} "
                 f"after {result.get('epoch', 0)} epoch(s)"]
        if isinstance(objective, (int, float)):
            parts.append(f"{self.objective_metric}={objective:.4g}")
        if "pa_f1" in headline:
            parts.append(f"PA-F1@{self.headline}={headline['pa_f1']:.3f} F1={headline['f1']:.3f}")
        if "pa_f1" in oracle:
            parts.append(f"oracle best PA-F1={oracle['pa_f1']:.3f}")
        return "  ".join(parts)

    def status_line(self, running: int, now: float) -> str:
        """`done, running, failed of planned` and an ETA from the mean time per ended trial."""
        ended = self.done + self.failed
        elapsed = now - self.started
        eta = "unknown"
        if ended:
            remaining = elapsed / ended * max(self.planned - ended, 0)
            eta = f"{remaining / 60:.1f} min"
        return (f"[{self.experiment}] {self.done} done, {running} running, {self.failed} failed of "
                f"{self.planned}; {elapsed / 60:.1f} min elapsed, ETA {eta}")

    def setup(self, **info: Any) -> None:
        self.started = time.monotonic()
        self._stop = threading.Event()
        if _ACTIVE_BOARD is not None:
            _ACTIVE_BOARD.add(self)
        else:
            threading.Thread(target=self._print_status, args=(self._stop,), daemon=True).start()

    def _print_status(self, stop: threading.Event) -> None:
        while not stop.wait(STATUS_EVERY_S):
            self.printer(self.status_line(len(self.running), time.monotonic()))

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        if self._stop is not None:
            self._stop.set()

    def trial_started(self, trial_id: str) -> None:
        """A trial of this experiment began (a Tune trial, or an untrained copy's Ray task)."""
        self.running.add(trial_id)
        if _ACTIVE_BOARD is not None:
            _ACTIVE_BOARD.trial_event(self.experiment, trial_id, "start")

    def trial_ended(self, trial_id: str, result: dict[str, Any] | None, error_kept_in: str | None = None) -> None:
        """A trial ended with its last `result`; `error_kept_in` names the folder of a failed one."""
        self.running.discard(trial_id)
        if error_kept_in is None:
            self.done += 1
        else:
            self.failed += 1
        if _ACTIVE_BOARD is not None:
            _ACTIVE_BOARD.trial_event(self.experiment, trial_id, "end")
        if error_kept_in is None:
            self.printer(self._line(result or {}, "done"))
        else:
            self.printer(self._line(result or {}, "FAILED") + f"  (error kept in {error_kept_in})")

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.trial_started(trial.trial_id)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.trial_ended(trial.trial_id, trial.last_result)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.trial_ended(trial.trial_id, trial.last_result, str(trial.path))


def _nested(result: dict, flat_key: str) -> Any:
    node: Any = result
    for part in flat_key.split("/"):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


_ACTIVE_BOARD: "GridBoard | None" = None


class GridBoard:
    """Every `every_s` seconds one line for the grid: trials done, running and failed of all planned
    ones, each running experiment with its own counts, the started experiments that have no trial
    running (waiting for a slot or for a trial actor to start), and an ETA (the plan's estimate until
    trials end, then the throughput measured so far)."""

    def __init__(self, planned_trials: int, printer: Callable[[str], None] = print, every_s: float = STATUS_EVERY_S,
                 estimate_s: float | None = None):
        self.planned_trials = planned_trials
        self.printer = printer
        self.every_s = every_s
        self.estimate_s = estimate_s
        self.experiments: list[TrialLinePrinter] = []
        self.trial_spans: dict[tuple[str, str], list[float]] = {}
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def add(self, experiment: TrialLinePrinter) -> None:
        with self._lock:
            self.experiments.append(experiment)

    def trial_event(self, experiment: str, trial_id: str, event: str) -> None:
        """Record when the driver saw a trial start or end (wall clock; for `benchmarks/bench_grid.py`)."""
        with self._lock:
            span = self.trial_spans.setdefault((experiment, trial_id), [time.time(), float("nan")])
            if event == "end":
                span[1] = time.time()

    def status_line(self, now: float) -> str:
        with self._lock:
            experiments = list(self.experiments)
        done = sum(e.done for e in experiments)
        failed = sum(e.failed for e in experiments)
        active = [e for e in experiments if e._stop is not None and not e._stop.is_set()]
        running = sum(len(e.running) for e in active)
        elapsed = now - self.started
        ended = done + failed
        remaining = max(self.planned_trials - ended, 0)
        if ended:
            eta = f"{remaining * elapsed / ended / 60:.1f} min"
        elif self.estimate_s is not None:
            eta = f"{max(self.estimate_s - elapsed, 0) / 60:.1f} min (planned)"
        else:
            eta = "unknown"
        names = ", ".join(f"{e.experiment} {e.done + e.failed}/{e.planned} ({len(e.running)} running)"
                          for e in active if e.running)
        idle = ", ".join(f"{e.experiment} {e.done + e.failed}/{e.planned}" for e in active if not e.running)
        return (f"[grid] {done} done, {running} running, {failed} failed of {self.planned_trials} trials; "
                f"{elapsed / 60:.1f} min elapsed, ETA {eta}; experiments running: {names or 'none'}"
                + (f"; started, waiting for a trial to start: {idle}" if idle else ""))

    def __enter__(self) -> "GridBoard":
        global _ACTIVE_BOARD
        _ACTIVE_BOARD = self
        self.started = time.monotonic()
        threading.Thread(target=self._print_status, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        global _ACTIVE_BOARD
        self._stop.set()
        _ACTIVE_BOARD = None

    def _print_status(self) -> None:
        while not self._stop.wait(self.every_s):
            self.printer(self.status_line(time.monotonic()))
