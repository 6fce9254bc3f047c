"""Where a model's search space lies: `--search-spaces` folders first (they may override a
built-in model's space), then the plug-in's own folder, then this package's folder."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .loader import SEARCH_SPACE_DIR, SearchSpaceError


def search_space_folder(model: str, overrides: Sequence[Path] = (), plugin_folder: Path | None = None) -> Path:
    """The first folder holding `<model>.yaml` among `overrides`, the plug-in's folder (for a plug-in
    model) or the package's folder (for a built-in one); raises naming where to create it."""
    own = plugin_folder if plugin_folder is not None else SEARCH_SPACE_DIR
    for folder in (*map(Path, overrides), own):
        if (folder / f"{model}.yaml").is_file():
            return folder
    if plugin_folder is None:
        return SEARCH_SPACE_DIR
    tried = ", ".join(str(Path(folder) / f"{model}.yaml") for folder in overrides)
    raise SearchSpaceError(
        f"no search space for plug-in model '{model}': create {plugin_folder / f'{model}.yaml'} beside the plug-in "
        "(the schema of search_spaces/loader.py: model, params, fixed, smoke, ...) or pass --search-spaces DIR "
        f"holding {model}.yaml" + (f" (looked for {tried})" if tried else "")
    )
