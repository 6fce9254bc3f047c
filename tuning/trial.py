"""One trial, free of Ray: build the model, train it epoch by epoch, score every split, evaluate
under each threshold protocol and hand every epoch's record to a `report` callback.

The Ray trainable (`trainable.py`) only adapts `report` and checkpoint loading to Ray Tune, so this
loop is unit-tested without a cluster.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import numpy as np

from ..datasets.preprocessing import PreparedData
from ..evaluation import evaluate, postprocess_scores, threshold_free_metrics
from ..zoo import get_model
from ..zoo.base import AnomalyDetector, ModelConfigError

RUN_KEYS = ("epochs", "anomaly_ratio", "seed", "seed_repeat", "untrained")
DEFAULT_PROTOCOLS = ("at-compat", "best-f1")

Report = Callable[[dict[str, Any], dict[str, Any]], None]


@dataclasses.dataclass(frozen=True)
class TrialSettings:
    """What the orchestrator decides for every trial of an experiment (not tuned); a config key
    `seed` (set by seed repeats) overrides `seed`. `protocol_options` (pot_q, pot_level,
    epsilon_reg_level) and `score_postprocessing` are the repository's evaluation settings for
    this dataset, from the model's search-space file."""

    model: str
    dataset: str
    seed: int = 0
    epochs_cap: int | None = None
    max_windows_per_epoch: int | None = None
    cpus: float = 1
    protocols: tuple[str, ...] = DEFAULT_PROTOCOLS
    protocol_options: dict[str, float] = dataclasses.field(default_factory=dict)
    score_postprocessing: str = "none"


def split_config(config: dict[str, Any], model_cls: type[AnomalyDetector]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate a trial config into the model's hyperparameters and the run-level keys."""
    run = {key: config[key] for key in RUN_KEYS if key in config}
    model = {key: value for key, value in config.items() if key not in RUN_KEYS}
    return model, run


def protocol_key(protocol: str) -> str:
    """The report key of a protocol's record (Ray flattens nested dicts with '/')."""
    return protocol.replace("-", "_")


def postprocess_split_scores(scores: dict[str, np.ndarray], data: PreparedData, name: str) -> dict[str, np.ndarray]:
    """Apply the score post-processing `name` to the whole training split (train and its
    validation tail, whose entities run across both) and to the test split."""
    if name == "none":
        return scores
    whole = postprocess_scores(name, np.concatenate([scores["train"], scores["val"]]), data.train_entity_lengths)
    n_train = scores["train"].shape[0]
    return {"train": whole[:n_train], "val": whole[n_train:],
            "test": postprocess_scores(name, scores["test"], data.test_entity_lengths)}


def evaluate_epoch(scores: dict[str, np.ndarray], labels: np.ndarray, anomaly_ratio: float,
                   protocols: tuple[str, ...], protocol_options: dict[str, float] | None = None) -> dict[str, Any]:
    """Every protocol's record and the threshold-free metrics for one epoch's scores.

    Protocols that read train scores see the whole training split (train and its validation
    tail), as the Anomaly-Transformer code's train loader does. That loader yields stride-1 windows,
    so its train energies hold each point up to W times, once per window position; here every split
    has one score per point from the model's scoring stride. Over a long series both samples cover
    every window position about equally, so the at-compat percentile differs by sampling only
    (decision written down here, where the train scores are gathered).
    """
    whole_train = np.concatenate([scores["train"], scores["val"]])
    records: dict[str, Any] = {
        protocol_key(protocol): evaluate(scores["test"], labels, protocol=protocol, train_scores=whole_train,
                                         val_scores=scores["val"], anomaly_ratio=anomaly_ratio,
                                         **(protocol_options or {}))
        for protocol in protocols
    }
    records["threshold_free"] = threshold_free_metrics(scores["test"], labels)
    return records


def run_trial(config: dict[str, Any], data: PreparedData, settings: TrialSettings, report: Report,
              state: dict[str, Any] | None = None, device: str = "cpu") -> None:
    """Train and evaluate one configuration, reporting after every epoch.

    `state` is what an earlier `report` call handed out as `artifacts["state"]`; training then
    continues after the epoch it recorded. A config with `untrained: true` is Kim et al.'s
    (AAAI 2022) untrained copy: the initialised model is scored once, as epoch 0.
    """
    model_cls = get_model(settings.model)
    model_values, run_values = split_config(config, model_cls)
    model_config = model_cls.Config.from_dict(model_values)
    if model_config.win_size > data.shortest_split:
        raise ModelConfigError(
            f"win_size={model_config.win_size} is longer than the shortest split of {data.name} "
            f"({data.shortest_split} points): choose win_size <= {data.shortest_split}"
        )
    seed = int(run_values.get("seed", settings.seed))
    epochs = int(run_values.get("epochs", 1))
    if settings.epochs_cap is not None:
        epochs = min(epochs, settings.epochs_cap)
    if run_values.get("untrained"):
        epochs = 0
    run = {"epochs_planned": epochs, "seed": seed, "anomaly_ratio": float(run_values.get("anomaly_ratio", 1.0))}
    model = model_cls(data.n_channels, model_config, seed=seed, device=device)
    if epochs == 0:
        _report_epoch(model, data, settings, report, {"epoch": 0, **run}, {}, time.perf_counter())
        return
    first_epoch = 1
    if state is not None:
        model.load_state_dict(state["model"])
        first_epoch = state["epoch"] + 1
    for epoch in range(first_epoch, epochs + 1):
        started = time.perf_counter()
        train_stats = model.train_epoch(data.train, max_windows=settings.max_windows_per_epoch)
        _report_epoch(model, data, settings, report, {"epoch": epoch, **run}, train_stats, started)


def _report_epoch(model: AnomalyDetector, data: PreparedData, settings: TrialSettings, report: Report,
                  run: dict[str, Any], train_stats: dict[str, float], started: float) -> None:
    """Score every split, evaluate, and report the epoch `run["epoch"]` with its artifacts."""
    trained = time.perf_counter()
    scores = postprocess_split_scores(
        {"train": model.score(data.train), "val": model.score(data.val), "test": model.score(data.test)},
        data, settings.score_postprocessing)
    metrics = {
        **run,
        **train_stats,
        "val_loss": model.validation_loss(data.val),
        **evaluate_epoch(scores, data.labels, run["anomaly_ratio"], settings.protocols, settings.protocol_options),
        "train_seconds": trained - started,
        "epoch_seconds": time.perf_counter() - started,
    }
    report(metrics, {"state": {"model": model.state_dict(), "epoch": run["epoch"]}, "scores": scores})
