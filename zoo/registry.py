"""Name -> detector class. Models register themselves with `@register`; nothing else lists them."""
from __future__ import annotations

from .base import AnomalyDetector

MODELS: dict[str, type[AnomalyDetector]] = {}


class UnknownModelError(KeyError):
    """A model name that no detector registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def register(cls: type[AnomalyDetector]) -> type[AnomalyDetector]:
    """Class decorator: make a detector available under its `name`."""
    if cls.name in MODELS and MODELS[cls.name] is not cls:
        raise ValueError(f"two detectors are registered as '{cls.name}'")
    MODELS[cls.name] = cls
    return cls


def get_model(name: str) -> type[AnomalyDetector]:
    """The detector class registered as `name`."""
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model '{name}': known models are {', '.join(sorted(MODELS))}"
        ) from None
