"""The config's defaults, read from ``config/schema.yaml``: the one place they are written.

The options records take their defaults from here, so a default changed in the
schema changes what a step runs with, what ``docs/config.md`` says and what
decides reruns, all at once.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

SCHEMA = Path(__file__).resolve().parents[3] / "config" / "schema.yaml"


@functools.cache
def _schema() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))


def schema_default(key: str) -> Any:
    """The default of a config key, dotted for a nested one (``translate.sentences.max_pause``)."""
    node = _schema()
    for part in key.split("."):
        node = node["properties"][part]
    return copy.deepcopy(node["default"])
