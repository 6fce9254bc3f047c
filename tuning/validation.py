"""Checks that run before Ray starts: every numeric flag, every trial value (through the model's
own Config, the same check a trial makes), and run names that stay inside the storage folder.

A value that would only fail inside a trial (a negative learning rate, an anomaly ratio of 500 %)
is refused here with one line naming the flag and the fix, so a grid never runs every trial into
the same error.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from ..zoo import get_model
from ..zoo.base import ModelConfigError


class FlagError(ValueError):
    """A command-line value that cannot run; the message names the flag and the fix."""


# destination -> (flag, integer?, lowest allowed value, whether the lowest value itself is allowed)
NUMERIC_FLAGS: dict[str, tuple[str, bool, float, bool]] = {
    "num_samples": ("--num-samples", True, 1, True),
    "max_concurrent": ("--max-concurrent", True, 1, True),
    "max_concurrent_experiments": ("--max-concurrent-experiments", True, 1, True),
    "cpus_per_trial": ("--cpus-per-trial", False, 0, False),
    "gpus_per_trial": ("--gpus-per-trial", False, 0, True),
    "seeds": ("--seeds", True, 0, True),
    "seed": ("--seed", True, 0, True),
    "epochs_cap": ("--epochs-cap", True, 1, True),
    "max_windows_per_epoch": ("--max-windows-per-epoch", True, 1, True),
    "eval_every": ("--eval-every", True, 1, True),
    "time_budget": ("--time-budget", False, 0, False),
    "num_cpus": ("--num-cpus", True, 1, True),
}


def check_numeric_flags(values: Mapping[str, Any]) -> None:
    """Raise FlagError for the first numeric flag in `values` (argparse destinations) that is not
    finite or lies below its bound; None means "not given" and passes."""
    for key, (flag, integer, lowest, inclusive) in NUMERIC_FLAGS.items():
        value = values.get(key)
        if value is None:
            continue
        bound = f">= {lowest:g}" if inclusive else f"> {lowest:g}"
        kind = "an integer" if integer else "a number"
        fine = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
                and (not integer or int(value) == value) and (value >= lowest if inclusive else value > lowest))
        if not fine:
            raise FlagError(f"{flag} must be {kind} {bound}, got {value!r}")


def check_run_values(run: Mapping[str, Any]) -> None:
    """Raise ModelConfigError for run-level trial values (epochs, anomaly_ratio, seed, flags)
    that no trial can use."""
    def number(key: str) -> float:
        value = run[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ModelConfigError(f"{key} must be a finite number, got {value!r}")
        return value

    if "epochs" in run and (number("epochs") < 1 or int(run["epochs"]) != run["epochs"]):
        raise ModelConfigError(f"epochs must be an integer >= 1, got {run['epochs']!r}")
    if "anomaly_ratio" in run and not 0 < number("anomaly_ratio") < 100:
        raise ModelConfigError(f"anomaly_ratio is a percentage of points and must lie in (0, 100), "
                               f"got {run['anomaly_ratio']!r} (the papers use 0.1 to 3)")
    if "seed" in run and (number("seed") < 0 or int(run["seed"]) != run["seed"]):
        raise ModelConfigError(f"seed must be an integer >= 0, got {run['seed']!r}")
    for key in ("seed_repeat", "untrained"):
        if key in run and not isinstance(run[key], bool):
            raise ModelConfigError(f"{key} must be true or false, got {run[key]!r}")


def check_trial_values(model: str, values: Mapping[str, Any], run_keys: tuple[str, ...]) -> None:
    """Check a trial configuration as the trial itself will: the model's values through its
    Config (types, ranges, cross-field rules), the run-level ones through `check_run_values`."""
    model_values = {key: value for key, value in values.items() if key not in run_keys}
    get_model(model).Config.from_dict(model_values)
    check_run_values({key: values[key] for key in run_keys if key in values})


def confined_run_folder(storage: Path, name: str) -> Path:
    """`storage/name` when `name` is one plain folder name, else FlagError: a run never writes
    outside --storage, and `--name a/b` or `..` would."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or name != name.strip() or "\0" in name:
        raise FlagError(f"--name {name!r} must be a single folder name under --storage (no '/', '..' or "
                        "leading/trailing spaces): choose a plain name such as smoke-1")
    folder = (storage / name).resolve()
    if folder.parent != storage.resolve():
        raise FlagError(f"--name {name!r} resolves to {folder}, outside --storage {storage}: choose a plain name")
    return folder
