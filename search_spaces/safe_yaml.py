"""Reading YAML we did not write (search-space and plug-in files, `--fix` values) with limits:
safe tags only, a size cap, and a cap on aliases and nodes, so an 800-byte alias bomb ("billion
laughs") is refused in milliseconds instead of filling memory."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 256 * 1024
MAX_ALIASES = 100
MAX_NODES = 100_000


class YAMLLimitError(yaml.YAMLError):
    """A YAML text over one of the limits."""


class _LimitedLoader(yaml.SafeLoader):
    """SafeLoader that counts aliases while composing and refuses a document whose aliases
    expand to too many values before anything is constructed."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise YAMLLimitError(f"more than {MAX_ALIASES} aliases (*name): write the values out")
        return super().compose_node(parent, index)

    def construct_document(self, node: Any) -> Any:
        if _expanded_size(node, MAX_NODES) > MAX_NODES:
            raise YAMLLimitError(f"the document expands to more than {MAX_NODES} values (aliases of aliases?)")
        return super().construct_document(node)


def _expanded_size(node: Any, limit: int) -> int:
    """How many nodes `node` stands for once every alias is expanded, counting up to `limit` + 1."""
    count = 0
    stack = [node]
    while stack and count <= limit:
        current = stack.pop()
        count += 1
        if isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                stack.extend((key, value))
    return count


def load_yaml_text(text: str, source: str) -> Any:
    """Parse `text` (from `source`, named in errors) with the limits; raises yaml.YAMLError."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise YAMLLimitError(f"{source} is larger than {MAX_BYTES // 1024} KiB")
    loader = _LimitedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_yaml_file(path: Path) -> Any:
    """Read and parse a YAML file with the limits; raises yaml.YAMLError or OSError."""
    path = Path(path)
    if path.stat().st_size > MAX_BYTES:
        raise YAMLLimitError(f"{path} is larger than {MAX_BYTES // 1024} KiB")
    return load_yaml_text(path.read_text(encoding="utf-8"), str(path))
