"""The Ray Tune function trainable: adapts `trial.run_trial` to `tune.report` and checkpoints.

The dataset arrives as an object-store reference (put once per dataset by the driver), so trials
on one node share one zero-copy copy of it; it is never part of a config or a closure.

Checkpoints hold no pickled objects of ours: the model state (tensors, numbers, strings in plain
containers) is written with `torch.save` and read back with `weights_only=True`, which refuses
anything else, and the epoch is JSON. A pickle planted as `state.pt` in a run folder is refused,
never run.
"""
from __future__ import annotations

import json
import os
import pickle
import tempfile
from typing import Any

import numpy as np
import ray
import torch
from ray import tune

from ..zoo.plugins import PluginBundle
from .long_lived import freeze_long_lived_objects
from .trial import TrialSettings, run_trial

STATE_FILE = "state.pt"
STATE_META_FILE = "state.json"
SCORES_FILE = "scores.npz"


class CheckpointRefusedError(RuntimeError):
    """A checkpoint that holds more than tensors and plain values (possibly planted code)."""


def save_state(folder: str, state: dict[str, Any]) -> None:
    """Write a trial state (`{"model": ..., "epoch": n}`) into a checkpoint folder."""
    torch.save(state["model"], os.path.join(folder, STATE_FILE))
    with open(os.path.join(folder, STATE_META_FILE), "w") as stream:
        json.dump({"format": 1, "epoch": int(state["epoch"])}, stream)


def load_state(folder: str) -> dict[str, Any]:
    """Read what `save_state` wrote; never unpickles anything but tensors and plain values."""
    path = os.path.join(folder, STATE_FILE)
    try:
        model = torch.load(path, weights_only=True, map_location="cpu")
        with open(os.path.join(folder, STATE_META_FILE)) as stream:
            epoch = json.load(stream)["epoch"]
    except (pickle.UnpicklingError, RuntimeError, OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointRefusedError(
            f"checkpoint {folder} is not one tsadbench wrote (tensors and plain values only): {error}. "
            "Delete it, or move the run folder aside and start again") from None
    if not isinstance(model, dict) or isinstance(epoch, bool) or not isinstance(epoch, int):
        raise CheckpointRefusedError(f"checkpoint {folder} does not hold a model state and an epoch number")
    return {"model": model, "epoch": epoch}


def save_scores(folder: str, labels: np.ndarray, scores: dict[str, Any]) -> None:
    """Write an evaluated epoch's scores (train, val, test) with the test labels as `scores.npz`."""
    np.savez_compressed(os.path.join(folder, SCORES_FILE), labels=labels, **scores)


def trial_device() -> str:
    """The trial's torch device: CUDA when Ray gave the trial a GPU, else the CPU."""
    return "cuda" if torch.cuda.is_available() and ray.get_gpu_ids() else "cpu"


def tsad_trainable(config: dict[str, Any], data_ref: Any, settings: TrialSettings,
                   plugins: PluginBundle = PluginBundle()) -> None:
    """Train one configuration; every epoch reports metrics with a checkpoint of the model
    state and, when the epoch was evaluated, of its scores (train, val, test) for plots and
    re-evaluation.
    The plug-ins' files come with the trial and are imported before the model is looked up."""
    plugins.install()
    freeze_long_lived_objects()  # this actor's imports (torch, Ray Tune, the zoo) stay until it exits
    torch.set_num_threads(settings.torch_threads)
    data = ray.get(data_ref) if isinstance(data_ref, ray.ObjectRef) else data_ref
    state = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = load_state(folder)

    node_id = ray.get_runtime_context().get_node_id()

    def report(metrics: dict[str, Any], artifacts: dict[str, Any]) -> None:
        metrics = {**metrics, "node_id": node_id, "gpu_ids": [str(i) for i in ray.get_gpu_ids()]}
        with tempfile.TemporaryDirectory() as folder:
            save_state(folder, artifacts["state"])
            if artifacts["scores"] is not None:  # None: an epoch trained but not evaluated (--eval-every)
                save_scores(folder, data.labels, artifacts["scores"])
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    run_trial(config, data, settings, report, state=state, device=trial_device())
