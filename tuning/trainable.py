"""The Ray Tune function trainable: adapts `trial.run_trial` to `tune.report` and checkpoints.

The dataset arrives as an object-store reference (put once per dataset by the driver), so trials
on one node share one zero-copy copy of it; it is never part of a config or a closure.
"""
from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np
import ray
import torch
from ray import tune

from ..zoo.plugins import PluginBundle
from .trial import TrialSettings, run_trial

STATE_FILE = "state.pt"
SCORES_FILE = "scores.npz"


def _device() -> str:
    return "cuda" if torch.cuda.is_available() and ray.get_gpu_ids() else "cpu"


def tsad_trainable(config: dict[str, Any], data_ref: Any, settings: TrialSettings,
                   plugins: PluginBundle = PluginBundle()) -> None:
    """Train one configuration; every epoch reports metrics with a checkpoint of the model
    state and of that epoch's scores (train, val, test) for plots and re-evaluation.
    The plug-ins' files come with the trial and are imported before the model is looked up."""
    plugins.install()
    torch.set_num_threads(max(1, int(settings.cpus)))
    data = ray.get(data_ref) if isinstance(data_ref, ray.ObjectRef) else data_ref
    state = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = torch.load(os.path.join(folder, STATE_FILE), weights_only=False)

    node_id = ray.get_runtime_context().get_node_id()

    def report(metrics: dict[str, Any], artifacts: dict[str, Any]) -> None:
        metrics = {**metrics, "node_id": node_id, "gpu_ids": [str(i) for i in ray.get_gpu_ids()]}
        with tempfile.TemporaryDirectory() as folder:
            torch.save(artifacts["state"], os.path.join(folder, STATE_FILE))
            np.savez_compressed(os.path.join(folder, SCORES_FILE), labels=data.labels, **artifacts["scores"])
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    run_trial(config, data, settings, report, state=state, device=_device())
