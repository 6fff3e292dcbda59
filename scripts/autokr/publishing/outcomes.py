"""What became of each published file, and the records the publish and unpublish jobs write.

Both records are written and read through ``autokr.core.records``
(``write_record``/``read_record``); the summary reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autokr.core.record_files import VERSION


@dataclass(frozen=True)
class Outcome:
    """What became of one file: written, updated, unchanged, left alone, removed or kept."""

    path: str
    action: str
    reason: str = ""


@dataclass(frozen=True)
class PublishRecord:
    """What a ``publish`` job writes: ``results/videos/{video}/publish.json``."""

    video: str
    files: tuple[Outcome, ...]
    settings: dict[str, Any]
    version: int = VERSION


@dataclass(frozen=True)
class UnpublishRecord:
    """What a job of rule ``unpublish`` did: ``results/unpublish/{run}.{what}.json``.

    ``what`` is ``gone`` (copies of videos that are gone) or the kind taken
    back (``next_to_video``, ``mux``, ``all``).
    """

    what: str
    files: tuple[Outcome, ...]
    version: int = VERSION


def outcome_line(outcome: Outcome) -> str:
    """One line for the user: ``autokr: FILE: ACTION (REASON)``."""
    return f"autokr: {outcome.path}: {outcome.action}" + (
        f" ({outcome.reason})" if outcome.reason else ""
    )
