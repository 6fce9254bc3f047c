"""Search-space files: one YAML per model, turned into an Optuna define-by-run space.

Format (`search_spaces/<model>.yaml`)::

    model: lstm_autoencoder           # the registry name
    params:                           # Optuna distributions
      win_size: {type: int, low: 32, high: 128, step: 32}
      lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
      d_model: {type: categorical, choices: [16, 32, 64]}
    fixed: {batch_size: 64}           # constants given to every trial
    first_points:                     # evaluated first: "*" = every dataset, or a dataset name
      "*": {win_size: 64, lr: 1.0e-3, d_model: 32}
    smoke: {win_size: 32, d_model: 8}  # values the smoke grid fixes, to keep its trials tiny
    resources: {cpu: 1, gpu: 0.5}     # what one trial needs (command-line flags override)
    paper_protocol: at-compat         # the threshold protocol of the model's own repository
    extra_protocols: [epsilon-train]  # further protocols of the repository, reported beside it
    protocol_settings:                # the repository's evaluation settings: "*" or a dataset name
      "*": {pot_q: 1.0e-3, pot_level: 0.99, epsilon_reg_level: 1}
      SMAP: {pot_level: 0.90, score_postprocessing: entity-minmax}

Categorical choices may be lists (e.g. patch sizes); Optuna sees them as JSON strings and the
trial receives the list back. Every problem is reported with the file, the key and the fix.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Iterable

import yaml

from ..evaluation.score_postprocessing import SCORE_POSTPROCESSING
from ..evaluation.thresholds import PROTOCOLS
from .safe_yaml import YAMLLimitError, load_yaml_file

SEARCH_SPACE_DIR = Path(__file__).resolve().parent
DISTRIBUTION_TYPES = ("int", "float", "categorical")
TOP_LEVEL_KEYS = ("model", "params", "fixed", "first_points", "smoke", "resources", "paper_protocol",
                  "extra_protocols", "protocol_settings")
PROTOCOL_SETTING_KEYS = ("pot_q", "pot_level", "epsilon_reg_level", "score_postprocessing")
RESOURCE_KEYS = ("cpu", "gpu", "memory_gb")
DEFAULT_RESOURCES = {"cpu": 1.0, "gpu": 0.0}


class SearchSpaceError(ValueError):
    """A search-space file that cannot be used; the message names the file, key and fix."""


def _encode(choice: Any) -> Any:
    return json.dumps(choice) if isinstance(choice, (list, dict)) else choice


@dataclasses.dataclass(frozen=True)
class Distribution:
    """One tunable parameter."""

    name: str
    type: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """Ask an Optuna trial (or Ray's captor of one) for a value; lists come back as lists."""
        if self.type == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        if self.type == "float":
            return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)
        encoded = trial.suggest_categorical(self.name, [_encode(c) for c in self.choices])
        return self.decode(encoded)

    def decode(self, encoded: Any) -> Any:
        """The trial-side value of an Optuna-side value."""
        for choice in self.choices:
            if _encode(choice) == encoded:
                return choice
        return encoded

    def contains(self, value: Any) -> bool:
        """Whether `value` lies in this distribution."""
        if self.type == "categorical":
            return any(value == choice for choice in self.choices)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.type == "int" and int(value) != value:
            return False
        inside = self.low <= value <= self.high
        if self.step and inside:
            offset = (value - self.low) / self.step
            inside = math.isclose(offset, round(offset), abs_tol=1e-9)
        return inside


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """The parsed contents of one search-space file."""

    model: str
    path: Path
    params: dict[str, Distribution]
    fixed: dict[str, Any]
    first_points: dict[str, dict[str, Any]]
    smoke: dict[str, Any] = dataclasses.field(default_factory=dict)
    resources: dict[str, float] = dataclasses.field(default_factory=lambda: dict(DEFAULT_RESOURCES))
    paper_protocol: str = "at-compat"
    extra_protocols: tuple[str, ...] = ()
    protocol_settings: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def define_by_run(self, trial: Any) -> dict[str, Any]:
        """Optuna define-by-run function: suggests every parameter and returns the trial-side
        values that differ from Optuna's (decoded lists) plus the fixed constants."""
        decoded = {}
        for name, distribution in self.params.items():
            value = distribution.suggest(trial)
            if value is not _encode(value):
                decoded[name] = value
        return {**decoded, **self.fixed}

    def first_points_for(self, dataset: str) -> list[dict[str, Any]]:
        """Optuna-side points to evaluate first on `dataset` ("*" point, then the dataset's own)."""
        family = dataset.partition("/")[0]
        points = [self.first_points[key] for key in ("*", family) if key in self.first_points]
        return [{k: _encode(v) for k, v in point.items()} for point in points]

    def paper_point(self, dataset: str) -> dict[str, Any]:
        """The repository's own settings for `dataset`: its first point, else the "*" one."""
        family = dataset.partition("/")[0]
        return dict(self.first_points.get(family) or self.first_points.get("*") or {})

    def protocol_settings_for(self, dataset: str) -> dict[str, Any]:
        """The repository's evaluation settings on `dataset`: the "*" ones, updated by the dataset's."""
        family = dataset.partition("/")[0]
        return {**self.protocol_settings.get("*", {}), **self.protocol_settings.get(family, {})}

    def keys(self) -> set[str]:
        """Every key a trial config built from this space carries."""
        return set(self.params) | set(self.fixed)


def load_search_space(model: str, directory: Path = SEARCH_SPACE_DIR,
                      allowed_keys: Iterable[str] | None = None) -> SearchSpace:
    """Read and check `<directory>/<model>.yaml`; `allowed_keys` limits the parameter names."""
    path = Path(directory) / f"{model}.yaml"
    if not path.is_file():
        raise SearchSpaceError(f"no search space for model '{model}': create {path}")
    try:
        document = load_yaml_file(path)
    except YAMLLimitError as error:
        raise SearchSpaceError(f"{path}: refused ({error}); a search space is a few KiB of plain YAML") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise SearchSpaceError(f"{path}: not valid YAML ({error})") from None
    return parse_search_space(document, path, model, None if allowed_keys is None else set(allowed_keys))


def parse_search_space(document: Any, path: Path, model: str, allowed: set[str] | None) -> SearchSpace:
    """Check a loaded YAML document and build the SearchSpace (errors name `path`)."""
    def fail(key: str, problem: str) -> SearchSpaceError:
        return SearchSpaceError(f"{path}: key '{key}': {problem}")

    if not isinstance(document, dict):
        raise SearchSpaceError(f"{path}: expected a mapping with keys {TOP_LEVEL_KEYS}")
    unknown = sorted(set(document) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise fail(unknown[0], f"unknown top-level key; allowed: {TOP_LEVEL_KEYS}")
    if document.get("model") != model:
        raise fail("model", f"says {document.get('model')!r} but the file is for '{model}'")
    raw_params = document.get("params") or {}
    fixed = document.get("fixed") or {}
    if not isinstance(raw_params, dict) or not isinstance(fixed, dict):
        raise fail("params" if not isinstance(raw_params, dict) else "fixed", "must be a mapping")
    params = {name: _parse_distribution(name, spec, fail) for name, spec in raw_params.items()}
    for name in [*params, *fixed]:
        if allowed is not None and name not in allowed:
            raise fail(name, f"'{model}' has no such hyperparameter; allowed: {sorted(allowed)}")
    both = sorted(set(params) & set(fixed))
    if both:
        raise fail(both[0], "is both tuned (params) and fixed: keep one")
    first_points = document.get("first_points") or {}
    if not isinstance(first_points, dict):
        raise fail("first_points", 'must map "*" or a dataset name to a parameter mapping')
    for dataset, point in first_points.items():
        if not isinstance(point, dict):
            raise fail(f"first_points.{dataset}", "must be a mapping of parameter values")
        for name, value in point.items():
            if name not in params:
                raise fail(f"first_points.{dataset}.{name}", f"is not a tuned parameter; tuned: {sorted(params)}")
            if not params[name].contains(value):
                raise fail(f"first_points.{dataset}.{name}", f"value {value!r} lies outside its distribution")
    smoke = document.get("smoke") or {}
    if not isinstance(smoke, dict):
        raise fail("smoke", "must be a mapping of the values the smoke grid fixes")
    for name in smoke:
        if allowed is not None and name not in params and name not in fixed and name not in allowed:
            raise fail(f"smoke.{name}", f"'{model}' has no such hyperparameter")
    resources = {**DEFAULT_RESOURCES, **(document.get("resources") or {})}
    for name, value in resources.items():
        if name not in RESOURCE_KEYS:
            raise fail(f"resources.{name}", f"unknown resource; allowed: {RESOURCE_KEYS}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise fail(f"resources.{name}", f"must be a number >= 0, got {value!r}")
    if resources["cpu"] <= 0:
        raise fail("resources.cpu", "a trial needs more than 0 CPUs")
    paper_protocol = document.get("paper_protocol", "at-compat")
    if paper_protocol not in PROTOCOLS:
        raise fail("paper_protocol", f"unknown threshold protocol {paper_protocol!r}; known: {', '.join(PROTOCOLS)}")
    extra_protocols = document.get("extra_protocols") or []
    if not isinstance(extra_protocols, list):
        raise fail("extra_protocols", "must be a list of threshold protocol names")
    for name in extra_protocols:
        if name not in PROTOCOLS:
            raise fail("extra_protocols", f"unknown threshold protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    return SearchSpace(model, path, params, dict(fixed), {str(k): dict(v) for k, v in first_points.items()},
                       dict(smoke), {k: float(v) for k, v in resources.items()}, paper_protocol,
                       tuple(extra_protocols), _parse_protocol_settings(document.get("protocol_settings"), fail))


def _parse_protocol_settings(raw: Any, fail) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise fail("protocol_settings", 'must map "*" or a dataset name to evaluation settings')
    for dataset, values in raw.items():
        where = f"protocol_settings.{dataset}"
        if not isinstance(values, dict):
            raise fail(where, f"must be a mapping with keys among {PROTOCOL_SETTING_KEYS}")
        for key, value in values.items():
            if key not in PROTOCOL_SETTING_KEYS:
                raise fail(f"{where}.{key}", f"unknown setting; allowed: {PROTOCOL_SETTING_KEYS}")
            if key == "score_postprocessing":
                if value not in SCORE_POSTPROCESSING:
                    raise fail(f"{where}.{key}", f"unknown post-processing {value!r}; known: {', '.join(SCORE_POSTPROCESSING)}")
            elif key == "epsilon_reg_level":
                if value not in (0, 1, 2) or isinstance(value, bool):
                    raise fail(f"{where}.{key}", f"must be 0, 1 or 2, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
                raise fail(f"{where}.{key}", f"must be a number in (0, 1), got {value!r}")
    return {str(dataset): dict(values) for dataset, values in raw.items()}


def _parse_distribution(name: str, spec: Any, fail) -> Distribution:
    if not isinstance(spec, dict) or spec.get("type") not in DISTRIBUTION_TYPES:
        raise fail(name, f"needs a mapping with 'type' one of {DISTRIBUTION_TYPES}")
    kind = spec["type"]
    allowed = {"type", "choices"} if kind == "categorical" else {"type", "low", "high", "step", "log"}
    extra = sorted(set(spec) - allowed)
    if extra:
        raise fail(name, f"unknown field '{extra[0]}' for a {kind} distribution; allowed: {sorted(allowed)}")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise fail(name, "a categorical distribution needs a non-empty list 'choices'")
        return Distribution(name, kind, choices=tuple(choices))
    low, high, step, log = spec.get("low"), spec.get("high"), spec.get("step"), bool(spec.get("log", False))
    numbers = [v for v in (low, high, step) if v is not None]
    if low is None or high is None or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in numbers):
        raise fail(name, "needs numeric 'low' and 'high' (and optional numeric 'step')")
    if kind == "int" and any(int(v) != v for v in numbers):
        raise fail(name, "an int distribution needs integer low/high/step")
    if low > high:
        raise fail(name, f"low ({low}) is above high ({high})")
    if log and (low <= 0 or step is not None):
        raise fail(name, "log: true needs low > 0 and no step")
    if step is not None and step <= 0:
        raise fail(name, f"step must be > 0, got {step}")
    return Distribution(name, kind, float(low) if kind == "float" else int(low),
                        float(high) if kind == "float" else int(high), step, log)
