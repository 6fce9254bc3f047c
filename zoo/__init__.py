"""The model zoo: every detector registers itself here on import (see `registry.py`).

The public plug-in API, stable under semantic versioning (README, "Benchmark your own model"):
`AnomalyDetector`, `DetectorConfig`, `TorchWindowDetector`, `TorchWindowConfig`,
`ModelConfigError`, `register`, and the hooks those base classes document.
"""
from .base import AnomalyDetector, DetectorConfig, ModelConfigError, TorchWindowConfig, TorchWindowDetector
from .registry import MODELS, UnknownModelError, get_model, register
from . import random_score  # noqa: F401  (registers "random")
from . import mlp_autoencoder  # noqa: F401  (registers "mlp_autoencoder")
from . import dual_stf  # noqa: F401  (registers "dual_stf")
from . import twavefussion  # noqa: F401  (registers "twavefussion")
from . import slmr  # noqa: F401  (registers "slmr")
from . import one_liner  # noqa: F401  (registers "one_liner")
from . import anomaly_transformer  # noqa: F401  (registers "anomaly_transformer")
from . import transmamba  # noqa: F401  (registers "transmamba")
from . import stformer  # noqa: F401  (registers "stformer")

__all__ = ["AnomalyDetector", "DetectorConfig", "MODELS", "ModelConfigError", "TorchWindowConfig",
           "TorchWindowDetector", "UnknownModelError", "get_model", "register"]
