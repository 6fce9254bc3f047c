"""Official checkpoints in our networks: a documented map from a release's `state_dict` keys to ours.

A model whose release we follow declares `official_keys` (an `OfficialKeyMap`); then
`detector.load_official_state_dict(state_or_path)` loads a checkpoint saved by the official code
(`torch.save(model.state_dict(), path)`) so that it can be scored and evaluated here. The same map
is what the fidelity tests (`tests/test_fidelity.py`, data in `tests/fidelity/`) load the official
initialisation through, before comparing outputs, losses, scores and gradients to 1e-9.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Callable, Mapping, Union

import numpy as np
import torch
from torch import nn


Replacement = Union[str, Callable[["re.Match[str]"], str]]


class OfficialCheckpointError(ValueError):
    """An official checkpoint does not fit the network it is loaded into."""


@dataclasses.dataclass(frozen=True)
class OfficialKeyMap:
    """How a release names its tensors, and which of them have no counterpart here.

    rules: (regex on the official key, replacement: a template or a function of the match) pairs,
    the first full match wins; the result is
    our key (`network.named_parameters()`/`named_buffers()`, non-persistent buffers included).
    unused: regexes of official tensors the release creates and never uses; loaded when we build
    them (`build_unused_parameters`), skipped otherwise.
    not_built: regexes of official tensors we never build (documented in the model's docstring).
    A fixed position table stored as [1, n, d] fills the first n rows of ours.
    """

    repository: str
    commit: str
    rules: tuple[tuple[str, Replacement], ...]
    unused: tuple[str, ...] = ()
    not_built: tuple[str, ...] = ()

    def our_key(self, official: str) -> str:
        """Our name of an official key; OfficialCheckpointError if no rule covers it."""
        for pattern, replacement in self.rules:
            match = re.fullmatch(pattern, official)
            if match:
                return replacement(match) if callable(replacement) else match.expand(replacement)
        raise OfficialCheckpointError(
            f"official key {official!r} is not part of {self.repository}@{self.commit[:7]}'s model: "
            "is this a checkpoint of that release, built with the same options?"
        )

    def is_unused(self, official: str) -> bool:
        return any(re.fullmatch(p, official) for p in self.unused)

    def is_not_built(self, official: str) -> bool:
        return any(re.fullmatch(p, official) for p in self.not_built)


def read_official_state(source: Mapping[str, Any] | str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict from a mapping (tensors or numpy arrays) or a file saved by `torch.save`
    (read with `weights_only=True`; a checkpoint that pickles a whole model is refused by torch)."""
    if isinstance(source, (str, os.PathLike)):
        source = torch.load(os.fspath(source), map_location="cpu", weights_only=True)
        if "model_state_dict" in source:  # a training checkpoint dict rather than a bare state dict
            source = source["model_state_dict"]
    return {key: torch.as_tensor(np.asarray(value) if not torch.is_tensor(value) else value)
            for key, value in source.items()}


def load_official(network: nn.Module, source: Mapping[str, Any] | str | os.PathLike, key_map: OfficialKeyMap) -> None:
    """Copy every tensor of an official state dict into `network` through `key_map`.

    Refuses (OfficialCheckpointError, naming the key) an official key no rule covers, a shape that
    does not fit, and any persistent tensor of ours that the checkpoint leaves unset.
    """
    state = read_official_state(source)
    targets = {**dict(network.named_parameters()), **dict(network.named_buffers())}
    assigned: set[str] = set()
    for official, value in state.items():
        if key_map.is_not_built(official):
            continue
        ours = key_map.our_key(official)
        if ours not in targets:
            if key_map.is_unused(official):
                continue
            raise OfficialCheckpointError(
                f"official key {official!r} maps to {ours!r}, which this network does not have "
                "(a different configuration than the checkpoint's?)"
            )
        target = targets[ours]
        value = _fit(value, target, official)
        with torch.no_grad():
            (target if value.shape == target.shape else target[: value.shape[0]]).copy_(value)
        assigned.add(ours)
    missing = sorted(set(network.state_dict()) - assigned)
    if missing:
        raise OfficialCheckpointError(
            f"the official checkpoint of {key_map.repository} leaves {missing} unset: "
            "was it saved from the same configuration?"
        )


def _fit(value: torch.Tensor, target: torch.Tensor, official: str) -> torch.Tensor:
    """`value` in the target's dtype and shape (a [1, n, d] position table becomes n rows)."""
    value = value.to(dtype=target.dtype, device=target.device)
    if value.shape == target.shape:
        return value
    if value.dim() == 3 and value.shape[0] == 1 and target.dim() == 2 and value.shape[2] == target.shape[1]:
        return value[0, : target.shape[0]]
    raise OfficialCheckpointError(
        f"official {official!r} has shape {tuple(value.shape)}, ours {tuple(target.shape)}: "
        "build the model with the checkpoint's hyperparameters (d_model, n_heads, win_size, ...)"
    )
