"""Kim et al.'s (AAAI 2022) untrained copy as one Ray task, not a Tune run.

An untrained copy initialises the experiment's best configuration and scores it once: there is
nothing to search, schedule or checkpoint. As a Tune run it cost a trial actor of its own, a new
worker process that imports torch and Ray Tune (about 2.5 CPU-seconds) for well under a second
of scoring. A Ray task runs in one of Ray's pooled workers instead, which keep their imports from
one task to the next, and asks for the trial's resources (CPUs, GPUs, memory) as the trial did.

The folder keeps the layout the readers know (`results.records`): `tsadbench_experiment.json`,
one trial folder `trial_untrained_00000` with `params.json`, a one-line `result.json` (with Tune's
bookkeeping keys) and `checkpoint_000000/scores.npz`, or `error.txt` if the task failed; then
`tsadbench_complete.json`. Only Ray's experiment-state files are absent. A copy interrupted
before its completion marker is scored again on `--resume`.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

import ray
import torch

from ..datasets.preprocessing import PreparedData
from ..zoo.plugins import PluginBundle
from .progress import TrialLinePrinter
from .run_files import StorageFullError, atomic_write_json, atomic_write_text, is_storage_full
from .long_lived import freeze_long_lived_objects
from .trainable import save_scores, trial_device
from .trial import TrialSettings, run_trial

TRIAL_ID = "untrained_00000"
TRIAL_FOLDER = f"trial_{TRIAL_ID}"
CHECKPOINT_FOLDER = "checkpoint_000000"  # the folder name Tune gives a trial's first report
WAIT_STEP_S = 0.5


@ray.remote
def _score_initialised(config: dict[str, Any], data: PreparedData, settings: TrialSettings,
                       plugins: PluginBundle) -> dict[str, Any]:
    """The task: `run_trial` of an untrained configuration (one report, epoch 0) in this worker."""
    started = time.time()
    plugins.install()
    freeze_long_lived_objects()  # this pooled worker keeps its imports for the next copy
    torch.set_num_threads(settings.torch_threads)
    reports: list[tuple[dict[str, Any], dict[str, Any]]] = []
    run_trial(config, data, settings, lambda metrics, artifacts: reports.append((metrics, artifacts)),
              device=trial_device())
    (metrics, artifacts), = reports
    where = {"node_id": ray.get_runtime_context().get_node_id(), "gpu_ids": [str(i) for i in ray.get_gpu_ids()],
             "hostname": socket.gethostname(), "node_ip": ray.util.get_node_ip_address(), "pid": os.getpid()}
    return {"metrics": {**metrics, **where}, "scores": artifacts["scores"], "labels": data.labels,
            "started": started, "ended": time.time()}


def _task_options(resources: dict[str, float], retries: int) -> dict[str, Any]:
    """Ray task options asking for one trial's resources (`{"cpu", "gpu", "memory"}`), run again
    up to `retries` times if its worker dies (an exception of the model's is not retried)."""
    options: dict[str, Any] = {"num_cpus": resources.get("cpu", 1), "num_gpus": resources.get("gpu", 0),
                               "max_retries": retries, "retry_exceptions": False}
    if resources.get("memory"):
        options["memory"] = resources["memory"]
    return options


def _tune_keys(config: dict[str, Any], done: dict[str, Any]) -> dict[str, Any]:
    """The bookkeeping keys Tune adds to a report, for a one-report trial that ran from
    `done["started"]` to `done["ended"]`."""
    seconds = done["ended"] - done["started"]
    return {"trial_id": TRIAL_ID, "training_iteration": 1, "iterations_since_restore": 1, "done": True,
            "timestamp": int(done["ended"]), "time_this_iter_s": seconds, "time_total_s": seconds,
            "time_since_restore": seconds, "date": dt.datetime.fromtimestamp(done["ended"]).strftime("%Y-%m-%d_%H-%M-%S"),
            "config": config, "checkpoint_dir_name": CHECKPOINT_FOLDER, "should_checkpoint": True}


def _write_trial(trial_dir: Path, config: dict[str, Any], done: dict[str, Any] | None,
                 error: BaseException | None) -> None:
    """The trial folder, replacing any left by an interrupted attempt."""
    shutil.rmtree(trial_dir, ignore_errors=True)
    trial_dir.mkdir(parents=True)
    atomic_write_json(trial_dir / "params.json", config)
    if done is None:
        atomic_write_text(trial_dir / "error.txt", str(error))
        return
    checkpoint = trial_dir / CHECKPOINT_FOLDER
    checkpoint.mkdir()
    save_scores(str(checkpoint), done["labels"], done["scores"])
    report = {**done["metrics"], **_tune_keys(config, done)}
    atomic_write_text(trial_dir / "result.json", json.dumps(report, default=str) + "\n")


def score_untrained(folder: Path, config: dict[str, Any], data_ref: Any, settings: TrialSettings,
                    plugins: PluginBundle, resources: dict[str, float], printer: TrialLinePrinter | None,
                    stop: threading.Event, retries: int) -> tuple[int, int] | None:
    """Score `config` (with `untrained: true`) in one Ray task and write its trial folder under
    `folder`; returns (trials, errors), or None when `stop` was set first (the task is cancelled,
    nothing is written). A failed task leaves `error.txt`, like a failed Tune trial."""
    if printer is not None:
        printer.setup()
        printer.trial_started(TRIAL_ID)
    reference = _score_initialised.options(**_task_options(resources, retries)).remote(config, data_ref, settings, plugins)
    try:
        while not ray.wait([reference], timeout=WAIT_STEP_S)[0]:
            if stop.is_set():
                ray.cancel(reference, force=True)
                return None
        try:
            done, error = ray.get(reference), None
        except ray.exceptions.RayError as failure:
            done, error = None, failure
        trial_dir = folder / TRIAL_FOLDER
        try:
            _write_trial(trial_dir, config, done, error)
        except OSError as failure:
            if is_storage_full(failure):
                raise StorageFullError(str(folder)) from failure
            raise
        if printer is not None:
            printer.trial_ended(TRIAL_ID, None if done is None else done["metrics"],
                                str(trial_dir) if done is None else None)
        return 1, int(done is None)
    finally:
        if printer is not None:
            printer.on_experiment_end([])
