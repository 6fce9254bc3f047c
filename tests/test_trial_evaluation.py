"""Per-epoch evaluation: one scoring pass per split changes no reported number, and `eval_every`.

The oracle is the trial loop as it was before the splits shared their passes, written here from
the public detector methods called separately in the old order (train_epoch, validation_loss on
the monitored split, score_set of train, val and test, evaluate_epoch, validation_loss of val)
with its own patience bookkeeping. Every built-in model runs its search space's `smoke:` values
on a fixed seed; every metric and every score vector must be bit for bit equal.
"""
import dataclasses
import math

import numpy as np
import pytest

from tsadbench.datasets.preprocessing import prepare
from tsadbench.datasets.synthetic import SyntheticSpec, generate_synthetic
from tsadbench.search_spaces import load_search_space
from tsadbench.tuning.early_stopping import monitored_split
from tsadbench.tuning.trial import (RUN_KEYS, TrialSettings, evaluate_epoch, postprocess_split_scores, run_trial,
                                    split_config)
from tsadbench.zoo import MODELS, get_model
from tsadbench.zoo.base import HEADLINE_SCORE

TIMINGS = ("train_seconds", "epoch_seconds", "cpu_seconds")
NEW_KEYS = ("evaluated", "evaluated_epoch")
# patience 2 and a min_delta no loss can beat: epochs 1-3 train, 2 and 3 are bad, epoch 1 is
# restored and reported again; so the loop's every path runs (monitored loss, scoring, restore)
RUN = {"epochs": 3, "anomaly_ratio": 2.0, "seed": 5, "patience": 2, "min_delta": 1e9}
PROTOCOLS = ("at-compat", "best-f1", "pot-train", "epsilon-train")


@pytest.fixture(scope="module")
def data():
    spec = SyntheticSpec(n_channels=4, train_length=1200, test_length=1000, anomalies_per_kind=1)
    return prepare("synthetic", [generate_synthetic(spec).arrays])


def smoke_config(name: str) -> dict:
    cls = get_model(name)
    allowed = {f.name for f in dataclasses.fields(cls.Config)}
    smoke = load_search_space(name, allowed_keys=allowed | set(RUN_KEYS)).smoke
    return {key: value for key, value in smoke.items() if key in allowed}


def oracle_trial(config: dict, data, settings: TrialSettings) -> list[tuple[dict, dict]]:
    """The old loop, from the public methods: (metrics without timings, headline scores) per report."""
    cls = get_model(settings.model)
    model_values, run_values = split_config(config, cls)
    model = cls(data.n_channels, cls.Config.from_dict(model_values), seed=run_values["seed"])
    split = monitored_split(cls, settings.dataset, settings.protocol_mode)
    monitored = data.val if split == "val" else data.test
    best_loss, best_epoch, bad, best_state, best_stats = math.inf, 0, 0, None, {}
    reports = []

    def evaluate(run: dict, stats: dict) -> None:
        sets = {name: model.score_set(series) for name, series in (("train", data.train), ("val", data.val),
                                                                    ("test", data.test))}
        evaluated = {}
        for name in sets["test"]:
            scores = postprocess_split_scores({s: values[name] for s, values in sets.items()}, data,
                                              settings.score_postprocessing)
            evaluated[name] = (scores, evaluate_epoch(scores, data.labels, run_values["anomaly_ratio"],
                                                      settings.protocols, settings.protocol_options,
                                                      settings.vus_window, data.test))
        scores, records = evaluated.pop(HEADLINE_SCORE)
        metrics = {**run, **stats, "val_loss": model.validation_loss(data.val), **records}
        if evaluated:
            metrics["extra_scores"] = {name: extra for name, (_, extra) in evaluated.items()}
        reports.append((metrics, scores))

    run = {"epochs_planned": run_values["epochs"], "seed": run_values["seed"], "anomaly_ratio": run_values["anomaly_ratio"]}
    for epoch in range(1, run_values["epochs"] + 1):
        stats = model.train_epoch(data.train)
        loss = model.validation_loss(monitored)
        if loss <= best_loss - run_values["min_delta"]:
            best_loss, best_epoch, bad, best_state, best_stats = loss, epoch, 0, model.state_dict(), dict(stats)
        else:
            bad += 1
        reason = "patience" if bad >= run_values["patience"] else None
        if reason is None and epoch == run_values["epochs"]:
            reason = "planned_epochs"
        record = {"split": split, "patience": run_values["patience"], "min_delta": run_values["min_delta"],
                  "monitored_loss": loss, "best_epoch": best_epoch, "best_loss": best_loss, "bad_epochs": bad,
                  "stop_reason": reason}
        evaluate({"epoch": epoch, "reported_epoch": best_epoch, **run, "early_stopping": record}, stats)
        if reason is not None:
            break
    if best_epoch != epoch:
        model.load_state_dict(best_state)
        record = {**record, "monitored_loss": best_loss, "restored": True, "stopped_after_epoch": epoch}
        evaluate({"epoch": best_epoch, "reported_epoch": best_epoch, **run, "early_stopping": record}, best_stats)
    return reports


def same(a, b) -> bool:
    """Exact equality of nested reports; NaN equals NaN (a metric undefined in both)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("name", sorted(MODELS))
def test_one_pass_per_split_reports_every_number_of_the_old_loop_bit_for_bit(name, data):
    settings = TrialSettings(name, "synthetic", protocols=PROTOCOLS, protocol_mode="paper")
    config = {**smoke_config(name), **RUN}
    reports = []
    run_trial(config, data, settings, lambda metrics, artifacts: reports.append((metrics, artifacts["scores"])))
    expected = oracle_trial(config, data, settings)
    assert [m["epoch"] for m, _ in reports] == [m["epoch"] for m, _ in expected] == [1, 2, 3, 1]
    for (metrics, scores), (oracle_metrics, oracle_scores) in zip(reports, expected):
        assert metrics["evaluated"] is True and metrics["evaluated_epoch"] == metrics["epoch"]
        got = {key: value for key, value in metrics.items() if key not in TIMINGS + NEW_KEYS}
        differing = sorted(key for key in got.keys() | oracle_metrics.keys()
                           if not same(got.get(key), oracle_metrics.get(key)))
        assert not differing, f"{name} epoch {metrics['epoch']}: {differing} differ from the old loop"
        for split in ("train", "val", "test"):
            assert np.array_equal(scores[split], oracle_scores[split]), f"{name}: {split} scores differ"


@pytest.mark.parametrize("name", ["anomaly_transformer", "transmamba", "mlp_autoencoder"])
def test_a_shared_pass_equals_the_two_separate_calls(name, data):
    cls = get_model(name)
    model = cls(data.n_channels, cls.Config.from_dict(smoke_config(name)), seed=1)
    model.train_epoch(data.train, max_windows=64)
    scores, loss = model.score_set_and_loss(data.test)
    separate = model.score_set(data.test)
    assert loss == model.validation_loss(data.test)
    assert scores.keys() == separate.keys()
    assert all(np.array_equal(scores[key], separate[key]) for key in scores)
