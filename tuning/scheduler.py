"""Experiments side by side: every experiment of a grid is its own `Tuner.fit` in a driver thread,
so all of them ask the one Ray cluster for placement groups at once and Ray packs their trials.

Decision (issue 12): one thread per running experiment, not one Tune run that multiplexes searchers
nor a Ray task per experiment. Each experiment keeps its own Tuner, OptunaSearch journal, ASHA
brackets, folder and `Tuner.restore` exactly as when they ran one after another, so resume and the
results layout are unchanged; Ray Tune supports `fit` from a non-main thread (it then installs no
signal handler), and the threads only wait on Ray, so the driver's cost stays small
(`benchmarks/bench_grid.py` measures occupancy and overhead against the sequential loop).

A job's follow-ups (seed repeats, untrained copy) are queued the moment it ends, not after the
grid. A search holds a claim on the slots of its resource shape from its start to its end
(`slot_shares.py`: which experiments' trials take the slots, largest estimated work first).
Ctrl-C in the main thread sets `STOP`; `StopWhenAsked`, a Tune callback of every experiment, then
ends each Tune loop at its next step. Ray has snapshotted the experiment state after every
step that changed it (TUNE_GLOBAL_CHECKPOINT_S=0 and `snapshots.save_only_when_changed`), so an
interrupted experiment resumes exactly as after a SIGKILL.
"""
from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable

from ray import tune
from ray.tune import registry as tune_registry

from .experiment import ExperimentOutcome
from .slot_shares import SHARES, Claim

STOP = threading.Event()
WAIT_STEP_S = 0.5


def _thread_safe_trainable_registry() -> None:
    """Tune registers each experiment's trainable in one process-wide registry whose `register`
    flushes a dict that another thread may be filling ("dictionary changed size during iteration"
    when two experiments start at once, Ray 2.60): serialise `register` with a lock."""
    registry = tune_registry._global_registry
    if getattr(registry, "_tsadbench_locked", False):
        return
    lock, register = threading.Lock(), registry.register

    def locked_register(*args: Any, **kwargs: Any) -> None:
        with lock:
            register(*args, **kwargs)

    registry.register = locked_register
    registry._tsadbench_locked = True


class StopRequested(RuntimeError):
    """Raised inside a Tune loop to end it after Ctrl-C; the experiment counts as interrupted."""


class GridCallback(tune.Callback):
    """Ends the experiment's Tune loop at its next step once `STOP` is set. It holds no state, so
    it survives Tune's pickling and works in a restored experiment too."""

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        if STOP.is_set():
            raise StopRequested("stopped by Ctrl-C")


@dataclasses.dataclass(frozen=True)
class ExperimentJob:
    """One Tune run: `run` returns its outcome, `followups(outcome)` the jobs that may start then."""

    name: str
    path: Path
    run: Callable[[], ExperimentOutcome]
    followups: Callable[[ExperimentOutcome], list["ExperimentJob"]] = lambda outcome: []
    claim: Claim | None = None


def _guarded(job: ExperimentJob) -> ExperimentOutcome:
    try:
        return job.run()
    except Exception:
        if STOP.is_set():
            return ExperimentOutcome(job.name, job.path, "interrupted", 0, 0)
        raise
    finally:
        SHARES.leave(job.name)


def run_jobs(jobs: list[ExperimentJob], max_running: int | None = None) -> list[ExperimentOutcome]:
    """Run the jobs (and the follow-ups they release) with at most `max_running` at once (None: all
    at once); outcomes come back in plan order, each job followed by its follow-ups. An
    interrupted job releases no follow-ups. On Ctrl-C no new job starts, running ones stop at
    their next Tune step, and the outcomes so far come back (a second Ctrl-C aborts at once)."""
    STOP.clear()
    _thread_safe_trainable_registry()
    order: dict[str, tuple[int, ...]] = {job.name: (index,) for index, job in enumerate(jobs)}
    outcomes: dict[str, ExperimentOutcome] = {}
    pending = list(jobs)
    running: dict[Future, ExperimentJob] = {}
    limit = max_running or 10**9
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=min(limit, 256), thread_name_prefix="experiment") as pool:
        while pending or running:
            while pending and len(running) < limit and not STOP.is_set():
                job = pending.pop(0)
                if job.claim is not None:
                    SHARES.join(job.name, job.claim)
                running[pool.submit(_guarded, job)] = job
            if not running:
                break
            try:
                finished, _ = wait(list(running), timeout=WAIT_STEP_S, return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:
                if STOP.is_set():
                    raise
                STOP.set()
                continue
            for future in finished:
                job = running.pop(future)
                try:
                    outcome = future.result()
                except Exception as error:  # a bug, not a trial failure (Tune records those): stop the grid
                    STOP.set()
                    failure = failure or error
                    continue
                outcomes[job.name] = outcome
                if outcome.status != "interrupted" and not STOP.is_set():
                    released = job.followups(outcome)
                    for rank, followup in enumerate(released):
                        order[followup.name] = order[job.name] + (rank,)
                    pending[:0] = released
    if failure is not None:
        raise failure
    return [outcomes[name] for name in sorted(outcomes, key=order.__getitem__)]
