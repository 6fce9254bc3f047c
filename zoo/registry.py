"""Name -> detector class. Models register themselves with `@register`; nothing else lists them.
Installed plug-ins (entry-point group `tsadbench.detectors`) are loaded the first time a name is
not found."""
from __future__ import annotations

from .base import AnomalyDetector

MODELS: dict[str, type[AnomalyDetector]] = {}


class UnknownModelError(KeyError):
    """A model name that no detector registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def register(cls: type[AnomalyDetector]) -> type[AnomalyDetector]:
    """Class decorator: make a detector available under its `name` (its `display_name`, the tables'
    row label, defaults to the name)."""
    if not (isinstance(cls, type) and issubclass(cls, AnomalyDetector)):
        raise TypeError(f"@register needs an AnomalyDetector subclass, got {cls!r}")
    if not isinstance(getattr(cls, "name", None), str) or not cls.name:
        raise ValueError(f"{cls.__qualname__} needs a class attribute `name` (the registry name, e.g. 'my_detector')")
    if not isinstance(getattr(cls, "display_name", None), str):
        cls.display_name = cls.name
    if cls.name in MODELS and MODELS[cls.name] is not cls:
        raise ValueError(f"two detectors are registered as '{cls.name}'")
    MODELS[cls.name] = cls
    return cls


def get_model(name: str) -> type[AnomalyDetector]:
    """The detector class registered as `name` (built in, a loaded plug-in or an installed one)."""
    if name not in MODELS:
        from .plugins import load_installed_plugins

        load_installed_plugins()
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model '{name}': known models are {', '.join(sorted(MODELS))}; a model of your own is "
            "loaded with --plugin FILE (see README, 'Benchmark your own model')"
        ) from None
