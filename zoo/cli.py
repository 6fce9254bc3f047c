"""`python -m tsadbench.zoo check PATH_OR_NAME`: run the conformance check on a detector.

PATH_OR_NAME is a registered model name, or a plug-in (.py file, folder or module) whose every
detector is checked. Tiny hyperparameters come from the model's search space (its `fixed` and
`smoke` values), then `--set KEY=VALUE`. Exit status: 0 every check passed, 1 a check failed,
2 the detector could not be found or loaded.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any, Sequence

import yaml

from ..search_spaces import SearchSpaceError, load_search_space, search_space_folder
from .conformance import check_detector
from .plugins import PluginError, load_installed_plugins, load_plugin, plugin_folder
from .registry import MODELS, get_model


def _assignment(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}'")
    return key.strip(), yaml.safe_load(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tsadbench.zoo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="run the conformance check on a detector or plug-in")
    check.add_argument("target", metavar="PATH_OR_NAME", help="a registered model name, or a plug-in file, folder or module")
    check.add_argument("--set", dest="values", type=_assignment, action="append", default=[], metavar="KEY=VALUE",
                       help="a hyperparameter for the check (repeatable; default: the search space's smoke values)")
    check.add_argument("--search-spaces", type=Path, action="append", default=[], metavar="DIR",
                       help="a folder of <model>.yaml files to take the tiny values from")
    return parser


def _models(target: str) -> list[str]:
    load_installed_plugins()
    if target in MODELS and not Path(target).exists():
        return [target]
    return [model for plugin in load_plugin(target) for model in plugin.models]


def check_values(model: str, overrides: Sequence[Path] = ()) -> tuple[dict[str, Any], str]:
    """The tiny hyperparameters for the check: the search space's fixed and smoke values that are
    the model's own, and where they came from."""
    fields = {f.name for f in dataclasses.fields(get_model(model).Config)}
    try:
        space = load_search_space(model, search_space_folder(model, overrides, plugin_folder(model)))
    except SearchSpaceError as error:
        return {}, f"the Config defaults ({error})"
    values = {k: v for k, v in {**space.fixed, **space.smoke}.items() if k in fields}
    return values, f"fixed and smoke values of {space.path}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        models = _models(args.target)
    except (PluginError, SearchSpaceError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = 0
    for model in models:
        values, origin = check_values(model, args.search_spaces)
        values.update(dict(args.values))
        print(f"checking {model} with {values or 'its defaults'} (from {origin})")
        for result in check_detector(get_model(model), values):
            print(result.line(model), flush=True)
            failed += not result.passed
    print(f"{'FAILED' if failed else 'passed'}: {failed} failed check(s) over {len(models)} detector(s)")
    return 1 if failed else 0
