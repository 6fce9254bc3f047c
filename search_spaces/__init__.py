"""Per-model Optuna search spaces (`<model>.yaml`) and their loader."""
from .loader import Distribution, SearchSpace, SearchSpaceError, load_search_space
from .locate import search_space_folder

__all__ = ["Distribution", "SearchSpace", "SearchSpaceError", "load_search_space", "search_space_folder"]
