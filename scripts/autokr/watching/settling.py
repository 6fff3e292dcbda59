"""Changed files, each waiting until it has stopped changing before a run takes it.

A file that changed is run only once it has stopped changing: its size and
modification time the same, and no event for it, for ``settle`` seconds, so a
copy in progress is not taken half-written. A file that keeps changing (a
recording in progress) waits on its own while the others go.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Pending:
    """A file that changed, until a run has taken it."""

    path: Path
    label: str  # new, changed or removed
    since: float  # when it was last seen to change
    signature: tuple[int, int] | None = None  # (size, mtime_ns) when last looked at
    settled: bool = False


class Settling:
    """Changed files, each waiting until it has not changed for ``settle`` seconds."""

    def __init__(
        self,
        settle: float,
        clock: Callable[[], float] = time.monotonic,
        stat: Callable[[Path], os.stat_result] = os.stat,
    ) -> None:
        self.settle = settle
        self.clock = clock
        self.stat = stat
        self.pending: dict[Path, Pending] = {}

    def note(self, path: Path, label: str) -> bool:
        """Record a change to ``path``; True when it was not waiting already."""
        known = self.pending.get(path)
        if label == "removed":
            if known is not None and known.label == "new":
                del self.pending[path]  # came and went before any run took it
                return False
            self.pending[path] = Pending(path, "removed", self.clock(), settled=False)
            return known is None
        if known is None or known.label == "removed":
            self.pending[path] = Pending(path, label, self.clock())
            return known is None
        known.since, known.settled = self.clock(), False
        return False

    def check(self) -> list[Pending]:
        """Look at every unsettled file; return those that have just settled."""
        now = self.clock()
        newly = []
        for item in list(self.pending.values()):
            if item.settled:
                continue
            if item.label != "removed":
                signature = self._signature(item)
                if signature is None:
                    continue
                if signature != item.signature:
                    if item.signature is not None:  # the first look only sets the mark
                        item.since = now
                    item.signature = signature
                if now - item.since < self.settle:
                    continue
            item.settled = True
            newly.append(item)
        return newly

    @property
    def ready(self) -> bool:
        """True when a changed file has settled (others may still be changing)."""
        return any(item.settled for item in self.pending.values())

    def take(self) -> list[Pending]:
        """Hand every settled file to a run, in path order; the others go on waiting."""
        taken = sorted(
            (item for item in self.pending.values() if item.settled), key=lambda item: item.path
        )
        for item in taken:
            del self.pending[item.path]
        return taken

    def changing(self) -> list[Path]:
        """The files still changing, in path order: a run now must leave them out."""
        return sorted(
            item.path
            for item in self.pending.values()
            if not item.settled and item.label != "removed"
        )

    def _signature(self, item: Pending) -> tuple[int, int] | None:
        """(size, mtime) of ``item``; None when it is gone (then it is dropped or removed)."""
        try:
            stat = self.stat(item.path)
        except FileNotFoundError:
            if item.label == "new":
                del self.pending[item.path]
                return None
            item.label, item.since = "removed", self.clock()
            return None
        except OSError as exc:  # unreadable: unchanged, so a run reports what is wrong
            return (-1, exc.errno or 0)
        return (stat.st_size, stat.st_mtime_ns)
