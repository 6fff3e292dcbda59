"""File events under the videos folder, as the watch takes them from watchfiles.

Events arrive in batches, with an empty batch at least every second so that
waiting files are looked at. A folder on a network share (where another
machine's writes raise no event here) is polled instead; where the system
refuses file events, the watch falls back to polling. An error from watchfiles
restarts it, after telling the watch that events may have been lost.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import watchfiles
from watchfiles import Change

from autokr.core.errors import AutokrError

#: Filesystems where changes made by another machine raise no event here.
NETWORK_FILESYSTEMS = frozenset(
    "nfs nfs4 cifs smb smb3 smbfs ncpfs afs 9p ceph glusterfs lustre gpfs beegfs "
    "davfs fuse.sshfs fuse.rclone fuse.s3fs fuse.gcsfuse fuse.davfs2 fuse.glusterfs".split()
)
POLLING_ENV = "WATCHFILES_FORCE_POLLING"


@dataclass(frozen=True)
class WatchOptions:
    """How the folder is watched.

    settle: seconds a changed file must stay unchanged before a run takes it.
    poll: look for changes every ``poll_interval`` seconds instead of waiting
        for file events (a network share, where another machine's writes raise
        none); also on when the folder is on a network filesystem or
        WATCHFILES_FORCE_POLLING is set.
    retry: seconds before a failed run is tried again, doubled on each failure in a row.
    """

    settle: float = 30.0
    poll: bool = False
    poll_interval: float = 5.0
    retry: float = 60.0


class WatchError(AutokrError):
    """The folder cannot be watched any more."""


def filesystem_type(path: Path, mounts: str) -> str:
    """The filesystem type of ``path`` from ``/proc/self/mounts`` text ('' if unknown)."""
    real = os.path.realpath(path)
    best, kind = "", ""
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def polling_reason(folder: Path, forced: bool, environ=os.environ, mounts: str | None = None):
    """Why the folder is polled rather than watched for events, or None.

    ``--poll`` wins; then WATCHFILES_FORCE_POLLING (``false`` turns polling
    off even on a share); then a network filesystem, where another machine's
    writes raise no event here.
    """
    if forced:
        return "--poll"
    setting = environ.get(POLLING_ENV, "")
    if setting:
        return None if setting.lower() in {"false", "disable", "disabled"} else POLLING_ENV
    if mounts is None:
        try:
            mounts = Path("/proc/self/mounts").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    kind = filesystem_type(folder, mounts)
    return f"{kind} network share" if kind in NETWORK_FILESYSTEMS else None


@dataclass(frozen=True)
class EventsLost:
    """What file_changes yields after watchfiles failed and was started again: changes
    made since ``since`` (a time.time()) may have raised no event here."""

    since: float


#: The longest pause before watchfiles is started again after errors in a row.
MOST_PAUSE = 30.0


def file_changes(
    folder: Path,
    shown: str,
    options: WatchOptions,
    stop: threading.Event,
    say: Callable[[str], None],
) -> Iterator[set[tuple[Change, str]] | EventsLost]:
    """watchfiles' batches of changes under ``folder``, and an empty one at least every second.

    Polls where events do not arrive (see ``polling_reason``), and falls back
    to polling when the system refuses file events (inotify's watch limit, say).
    Any other error of watchfiles (a name it cannot decode raises RuntimeError)
    yields EventsLost and starts it again after a pause that doubles while the
    errors go on; WatchError once the folder itself is gone.
    """
    reason = polling_reason(folder, options.poll)
    tick_ms = int(min(1000, max(100, options.settle * 250)))
    errors, said, heard = 0, set(), time.time()
    while True:
        how = f" (polling every {options.poll_interval:g} s: {reason})" if reason else ""
        if not errors:
            say(f"watching {shown}/ for new videos{how}")
        try:
            for batch in _watchfiles(folder, options, stop, tick_ms, reason):
                errors, heard = 0, time.time()
                yield batch
            return
        except OSError as exc:
            if reason or not folder.is_dir():
                raise
            say(f"file events are not available here ({exc}); polling instead")
            reason = "no file events"
        except Exception as exc:  # watchfiles' own: RuntimeError and its kin
            if not folder.is_dir():
                raise WatchError(f"{shown}/ is gone (a share unmounted?)") from None
            cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if cause not in said:  # a file that keeps failing says so once
                said.add(cause)
                say(f"watching failed ({cause}); watching again, and running for what it missed")
            errors += 1
            yield EventsLost(heard - 2)
            yield from _pause(min(MOST_PAUSE, 2.0 ** (errors - 1)), stop)


def _watchfiles(folder: Path, options: WatchOptions, stop, tick_ms: int, reason: str | None):
    """watchfiles.watch as the watch uses it."""
    return watchfiles.watch(
        folder,
        watch_filter=None,  # every batch comes back, so waiting files are looked at
        debounce=500,
        rust_timeout=tick_ms,
        yield_on_timeout=True,
        stop_event=stop,
        raise_interrupt=False,
        force_polling=bool(reason),
        poll_delay_ms=int(options.poll_interval * 1000),
        ignore_permission_denied=True,
    )


def _pause(seconds: float, stop: threading.Event) -> Iterator[set]:
    """Wait ``seconds`` (less when stopped), with an empty batch every second meanwhile."""
    end = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < end:
        stop.wait(min(1.0, max(0.0, end - time.monotonic())))
        yield set()
