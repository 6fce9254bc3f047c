"""Which trials stand for a (model, dataset) pair: the best search trial by the experiment's own
objective, and the finished seed repeats of the selected configuration when there are several.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from .columns import CLEAN_PROTOCOL, DEFAULT_PROTOCOL, section_of
from .records import TrialRecord, flat_value

#: Sanity baselines (shown last in tables, highlighted in the inflation plot), beside every
#: untrained copy of a model (its table name ends in UNTRAINED_MODEL_SUFFIX).
SANITY_BASELINES = ("random", "one_liner")
UNTRAINED_MODEL_SUFFIX = ":untrained"
#: Seed repeats replace the single selected trial in the tables from this many on.
MIN_SEEDS = 2


@dataclasses.dataclass(frozen=True)
class Selection:
    """One (model, dataset) pair: its experiments, its selected trial and its seed repeats."""

    model: str
    display_name: str
    dataset: str
    meta: dict[str, Any]
    experiments: tuple[dict[str, Any], ...]
    trials: tuple[TrialRecord, ...]
    best: TrialRecord | None
    seed_trials: tuple[TrialRecord, ...]

    @property
    def objective(self) -> dict[str, Any]:
        """The objective that selected the configuration."""
        return self.meta["objective"]

    @property
    def headline_protocol(self) -> str:
        """The threshold protocol that heads the tables for this model (its meta's, else at-compat)."""
        return str(self.meta.get("threshold_protocol", DEFAULT_PROTOCOL))

    @property
    def honest_protocol(self) -> str:
        """The label-free clean protocol when the reported records hold it, else the headline."""
        if any(section_of(CLEAN_PROTOCOL) in t.last for t in self.reported):
            return CLEAN_PROTOCOL
        return self.headline_protocol

    @property
    def score_postprocessing(self) -> str:
        """The score post-processing the experiment recorded ("none" if none)."""
        return str((self.meta.get("settings") or {}).get("score_postprocessing", "none"))

    @property
    def objective_uses_test_labels(self) -> bool:
        """Whether the configuration was chosen with test labels (every number is then an oracle)."""
        return any(bool(m["objective"]["uses_test_labels"]) for m in self.experiments)

    @property
    def complete(self) -> bool:
        """Whether every experiment of the pair has finished."""
        return all(m.get("complete", False) for m in self.experiments)

    @property
    def reported(self) -> tuple[TrialRecord, ...]:
        """The trials the tables aggregate: the seed repeats if there are enough, else the best trial."""
        if len(self.seed_trials) >= MIN_SEEDS:
            return self.seed_trials
        return (self.best,) if self.best is not None else ()

    @property
    def search_trials(self) -> tuple[TrialRecord, ...]:
        """The trials of the search (every trial that is not a seed repeat)."""
        return tuple(t for t in self.trials if not t.seed_repeat)

    @property
    def n_failed(self) -> int:
        """Failed trials of the pair (search and seed repeats)."""
        return sum(t.status == "ERROR" for t in self.trials)


def short_name(display_name: str) -> str:
    """A display name without its trailing parenthesis ('Dual-STF (clean ...)' -> 'Dual-STF')."""
    return display_name.split(" (", 1)[0]


def objective_value(trial: TrialRecord, metric: str) -> float | None:
    """The objective at the trial's reported epoch (`TrialRecord.last`), or None when it has none."""
    value = flat_value(trial.last, metric)
    if trial.status != "TERMINATED" or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def best_trial(trials: list[TrialRecord], objective: dict[str, Any]) -> TrialRecord | None:
    """The finished trial with the best objective at its reported epoch (first one on ties)."""
    scored = [(objective_value(t, objective["metric"]), t) for t in trials]
    scored = [(v, t) for v, t in scored if v is not None]
    if not scored:
        return None
    sign = 1.0 if objective["mode"] == "max" else -1.0
    return max(scored, key=lambda pair: sign * pair[0])[1]


def finished_repeats(trials: list[TrialRecord]) -> tuple[TrialRecord, ...]:
    """Seed repeats that finished training (every planned epoch, or stopped by patience), one per
    seed (the first of duplicated seeds)."""
    by_seed: dict[Any, TrialRecord] = {}
    for trial in trials:
        if trial.ran_every_epoch:
            by_seed.setdefault(repr(trial.seed), trial)
    return tuple(by_seed.values())


def select(metas: list[dict[str, Any]], trials: list[TrialRecord]) -> list[Selection]:
    """One selection per (model, dataset): learning models in the order the experiments were read,
    then the sanity baselines (random, one-liner, untrained copies; see `row_group`)."""
    pairs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for meta in metas:
        pairs.setdefault((meta["model"], meta["dataset"]), []).append(meta)
    selections = []
    for (model, dataset), experiments in pairs.items():
        names = {m["experiment"] for m in experiments}
        own = [t for t in trials if t.experiment in names]
        search_meta = next((m for m in experiments if "seeds" not in m), experiments[0])
        search = [t for t in own if not t.seed_repeat]
        selections.append(Selection(
            model=model,
            display_name=search_meta.get("model_display_name", model),
            dataset=dataset,
            meta=search_meta,
            experiments=tuple(experiments),
            trials=tuple(own),
            best=best_trial(search, search_meta["objective"]),
            seed_trials=finished_repeats([t for t in own if t.seed_repeat]),
        ))
    return sorted(selections, key=lambda selection: row_group(selection.model))


def is_sanity_baseline(model: str) -> bool:
    """Whether the table row `model` is a sanity baseline (random, one-liner or an untrained copy)."""
    return model in SANITY_BASELINES or model.endswith(UNTRAINED_MODEL_SUFFIX)


def row_group(model: str) -> int:
    """Where a model's rows go: learning models (0), then the random (1) and one-liner (2)
    baselines, then the untrained copies (3); the sort keeps the read order within a group."""
    if model in SANITY_BASELINES:
        return 1 + SANITY_BASELINES.index(model)
    return len(SANITY_BASELINES) + 1 if model.endswith(UNTRAINED_MODEL_SUFFIX) else 0
