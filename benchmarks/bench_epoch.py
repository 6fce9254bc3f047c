"""Share of each epoch spent outside training, for every registered model at its repository config.

The repository config is what `--grid paper` runs: the search space's SMD first point (else its
"*" one) over its fixed values, with the recipe's SMD batch size and training stride. The data
are the shared SMD copy (`--data-root`, prepared as the grid prepares it) when present, else a
synthetic series of SMD's size (38 channels; 360,175 / 90,044 / 450,232 points).

Per model and epoch:
* train s/epoch: a warm-up batch, then the fastest of `--train-batches` one-batch epochs, scaled
  to the windows one epoch trains on (one per training stride);
* outside-training s/epoch: what `run_trial` spends after training, timed the way the installed
  `tsadbench` does it: with `AnomalyDetector.score_set_and_loss` (one pass per split, the
  validation and monitored splits giving their loss from it), otherwise the older sequence
  (validation loss of the monitored split, score_set of each split, validation loss of val).
  Each call runs on the first `--score-points` points of its split (at least one full scoring
  batch), the fastest of two runs, scaled per point to the full split; the protocols of the
  paper mode (and each extra score's) are evaluated on full-size score vectors.
* with `--eval-every K`: an epoch that is not evaluated still counts its early-stopping loss on
  the monitored split (`validation_loss`, timed the same way), so the share with K is
  (outside + (K - 1) * monitored loss) / K per epoch; `floor` is the share no K can go below
  (the monitored loss alone), 0 for a model without early stopping;
* `beyond recipe`: the share of the epoch that a model's own release does not spend. A recipe with
  early stopping (`--protocol paper`) computes the monitored loss after every epoch, as the release
  does; what the epoch spends outside training beyond that loss is our evaluation's cost.

Seconds are this process's CPU seconds by default (`--clock cpu`: every thread's, so with 2
threads an uncontended second of wall time counts about 2): on a machine shared with other jobs,
wall time measures the neighbours, while the share of CPU time is what an idle machine's wall
time would show. `--clock wall` measures elapsed time.

    .venv/bin/python benchmarks/bench_epoch.py --data-root ../shared/datasets --threads 2

The script only imports public modules, so the same file measures another checkout: run it with
that checkout's interpreter (its `tsadbench` is the one measured).
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from tsadbench.datasets.preprocessing import PreparedData, prepare
from tsadbench.datasets.windows import window_starts
from tsadbench.search_spaces import load_search_space
from tsadbench.tuning.early_stopping import monitored_split
from tsadbench.tuning.objectives import get_protocol_mode
from tsadbench.tuning.trial import RUN_KEYS, evaluate_epoch, postprocess_split_scores
from tsadbench.zoo import MODELS, get_model
from tsadbench.zoo.base import AnomalyDetector

DATASET = "SMD"
SMD_SHAPE = (38, 360_175, 90_044, 450_232)  # channels, train, val, test points after `prepare`
SPLITS = ("train", "val", "test")


def load_smd(root: Path | None) -> PreparedData:
    """The shared SMD, prepared as the grid does; else synthetic data of its size."""
    if root is not None and (root / DATASET).is_dir():
        from tsadbench.datasets.registry import load_dataset

        return prepare(DATASET, load_dataset(DATASET, root))
    from tsadbench.datasets.synthetic import SyntheticSpec, generate_synthetic

    channels, train, val, test = SMD_SHAPE
    spec = SyntheticSpec(n_channels=channels, train_length=train + val, test_length=test)
    return dataclasses.replace(prepare(DATASET, [generate_synthetic(spec).arrays]), name=DATASET)


def repository_config(name: str) -> tuple[dict[str, Any], Any]:
    """(model hyperparameters, search space) of the model's repository config on SMD."""
    cls = get_model(name)
    allowed = {f.name for f in dataclasses.fields(cls.Config)}
    space = load_search_space(name, allowed_keys=allowed | set(RUN_KEYS))
    values = {**space.fixed, **space.paper_point(DATASET)}
    recipe = cls.recipe
    if recipe is not None and DATASET in recipe.batch_size:
        values.update(batch_size=recipe.batch_size[DATASET], train_stride=recipe.train_stride.get(DATASET, 1))
    return {key: value for key, value in values.items() if key in allowed and key not in RUN_KEYS}, space


REPEATS = 2  # each timed call runs this many times and its fastest run counts (the machine is shared)
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]


def _timed(call: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, Any]:
    """(fastest of `repeats` runs of `call` on the chosen clock, its value)."""
    fastest, value = float("inf"), None
    for _ in range(repeats):
        started = clock()
        value = call()
        fastest = min(fastest, clock() - started)
    return fastest, value


def train_seconds_per_epoch(model: AnomalyDetector, data: PreparedData, batches: int) -> tuple[float, int]:
    """(seconds per full epoch, windows per epoch): the fastest of `batches` one-batch epochs after
    a warm-up one, scaled to the epoch's windows."""
    config = model.config
    if not hasattr(config, "batch_size"):
        return _timed(lambda: model.train_epoch(data.train))[0], 0
    extra = model.min_points - config.win_size  # a forecaster's window carries its target point
    windows = window_starts(data.train.shape[0], config.win_size + extra, config.train_stride).size
    batch = min(config.batch_size, windows)
    model.train_epoch(data.train, max_windows=batch)
    seconds, _ = _timed(lambda: model.train_epoch(data.train, max_windows=batch), repeats=batches)
    return seconds * windows / batch, windows


def outside_training_seconds(model: AnomalyDetector, data: PreparedData, monitored: str | None, points: int,
                             protocols: tuple[str, ...], options: dict, postprocessing: str,
                             anomaly_ratio: float) -> dict[str, float]:
    """Seconds per epoch of scoring (scaled per point from cuts) and of protocol evaluation (full size)."""
    series = {split: getattr(data, split) for split in SPLITS}
    batch_points = getattr(model.config, "batch_size", 1) * model.config.win_size  # a full scoring batch
    cut = {split: values[:max(points, batch_points, model.min_points)] for split, values in series.items()}
    scale = {split: series[split].shape[0] / cut[split].shape[0] for split in SPLITS}
    model.score_set(cut["val"])  # warm-up
    scoring = 0.0
    names = None
    if hasattr(model, "score_set_and_loss"):
        for split in SPLITS:
            if split in {"val", monitored}:
                seconds, (scores, _) = _timed(lambda: model.score_set_and_loss(cut[split]))
            else:
                seconds, scores = _timed(lambda: model.score_set(cut[split]))
            scoring += seconds * scale[split]
            names = list(scores)
    else:
        if monitored is not None:
            scoring += _timed(lambda: model.validation_loss(cut[monitored]))[0] * scale[monitored]
        for split in SPLITS:
            seconds, scores = _timed(lambda: model.score_set(cut[split]))
            scoring += seconds * scale[split]
            names = list(scores)
        scoring += _timed(lambda: model.validation_loss(cut["val"]))[0] * scale["val"]
    rng = np.random.default_rng(0)
    evaluation = 0.0
    for _ in names:
        full = {split: rng.random(series[split].shape[0]) for split in SPLITS}
        seconds, _ = _timed(lambda: evaluate_epoch(postprocess_split_scores(full, data, postprocessing), data.labels,
                                                   anomaly_ratio, protocols, options, 100, data.test))
        evaluation += seconds
    monitored_loss = 0.0
    if monitored is not None:
        monitored_loss = _timed(lambda: model.validation_loss(cut[monitored]))[0] * scale[monitored]
    return {"scoring": scoring, "evaluation": evaluation, "monitored_loss": monitored_loss}


def measure(name: str, data: PreparedData, protocol_mode: str, train_batches: int, points: int) -> dict[str, Any]:
    """One row of the table."""
    cls = get_model(name)
    values, space = repository_config(name)
    model = cls(data.n_channels, cls.Config.from_dict(values), seed=0)
    train_s, windows = train_seconds_per_epoch(model, data, train_batches)
    mode = get_protocol_mode(protocol_mode)
    protocols = tuple(dict.fromkeys((*mode.reported(space.paper_protocol), *space.extra_protocols)))
    options = space.protocol_settings_for(DATASET)
    postprocessing = options.pop("score_postprocessing", "none")
    patience = cls.recipe is not None
    monitored = monitored_split(cls, DATASET, protocol_mode) if patience else None
    ratio = float(space.paper_point(DATASET).get("anomaly_ratio", 1.0))
    outside = outside_training_seconds(model, data, monitored, points, protocols, options, postprocessing, ratio)
    outside_s = outside["scoring"] + outside["evaluation"]
    return {"model": name, "windows": windows, "train_s": train_s, "scoring_s": outside["scoring"],
            "evaluation_s": outside["evaluation"], "outside_s": outside_s,
            "monitored_loss_s": outside["monitored_loss"],
            "share": outside_s / (train_s + outside_s) if train_s + outside_s > 0 else float("nan"),
            "beyond_recipe": ((outside_s - outside["monitored_loss"]) / (train_s + outside_s)
                              if train_s + outside_s > 0 else float("nan")),
            "monitored": monitored or "-"}


def share_with_eval_every(row: dict[str, Any], every: int) -> float:
    """The share outside training over K epochs of which one is evaluated: the other K - 1 still
    count their early-stopping loss on the monitored split."""
    outside = (row["outside_s"] + (every - 1) * row["monitored_loss_s"]) / every
    return outside / (row["train_s"] + outside) if row["train_s"] + outside > 0 else float("nan")


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(sorted(MODELS)))
    parser.add_argument("--data-root", type=Path, help="folder holding SMD (else synthetic data of its size)")
    parser.add_argument("--protocol", default="paper", help="protocol mode (the grid's --protocol)")
    parser.add_argument("--train-batches", type=int, default=2, help="timed one-batch epochs (the fastest counts)")
    parser.add_argument("--score-points", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--eval-every", type=int, default=1, metavar="K",
                        help="also show the share with one evaluated epoch in K (the others still count "
                             "their early-stopping loss), and its floor")
    parser.add_argument("--clock", default="cpu", choices=sorted(CLOCKS),
                        help="cpu: this process's CPU seconds (all its threads; robust on a shared machine, "
                             "where wall time measures the neighbours), wall: elapsed seconds")
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    torch.set_num_threads(args.threads)
    data = load_smd(args.data_root)
    print(f"{data.name}: {data.n_channels} channels, train {data.train.shape[0]}, val {data.val.shape[0]}, "
          f"test {data.test.shape[0]} points; torch {torch.__version__}, {args.threads} threads, {args.clock} seconds",
          flush=True)
    amortised = f" {'share K=' + str(args.eval_every):>10s} {'floor':>6s}" if args.eval_every > 1 else ""
    print(f"{'model':20s} {'windows':>8s} {'train s/ep':>11s} {'scoring s':>10s} {'protocols s':>12s} "
          f"{'outside s/ep':>13s} {'share':>6s} {'beyond recipe':>13s}{amortised}  monitored (loss s/ep)", flush=True)
    rows = []
    for name in args.models.split(","):
        row = measure(name, data, args.protocol, args.train_batches, args.score_points)
        rows.append(row)
        floor = row["monitored_loss_s"] / (row["train_s"] + row["monitored_loss_s"]) if row["train_s"] > 0 else 0.0
        share_k = (f" {share_with_eval_every(row, args.eval_every):10.1%} {floor:6.1%}" if args.eval_every > 1 else "")
        loss = f" ({row['monitored_loss_s']:.2f})" if row["monitored"] != "-" else ""
        print(f"{row['model']:20s} {row['windows']:8d} {row['train_s']:11.2f} {row['scoring_s']:10.2f} "
              f"{row['evaluation_s']:12.2f} {row['outside_s']:13.2f} {row['share']:6.1%} {row['beyond_recipe']:13.1%}"
              f"{share_k}  "
              f"{row['monitored']}{loss}", flush=True)
    return rows


if __name__ == "__main__":
    main()
