"""Per-model Optuna search spaces (`<model>.yaml`) and their loader."""
from .loader import Distribution, SearchSpace, SearchSpaceError, load_search_space

__all__ = ["Distribution", "SearchSpace", "SearchSpaceError", "load_search_space"]
