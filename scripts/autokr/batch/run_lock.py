"""Snakemake's lock on a project folder: who holds it, and whether it is provably stale.

A run killed outright (power cut, ``kill -9``) leaves Snakemake's lock behind,
and the next run refuses to start. ``make run`` removes such a lock, but only
one it can prove dead: every run records its host and process as it starts
(``record_owner``, from the Snakefile's ``onstart``) and holds a lock on
``.snakemake/autokr-owner.lock`` for as long as it lives, which the system
drops when the process ends, however it ends. A lock is stale only when its
run was on this host and nobody holds that file lock any more: the process
table (``/proc``) is never asked, since a live run may be invisible there
(``hidepid``, another PID namespace). On a folder shared between machines a
lock from another host is never removed.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from autokr.core.file_lock import (
    NO_FLOCK,
    NoFileLocks,
    held_elsewhere,
    held_here,
    keep_for_life,
    open_lock,
    take_lock,
)
from autokr.core.record_files import write_text_atomic

OWNER = Path(".snakemake") / "autokr-owner.json"
#: The file lock a live run holds (``record_owner``); free once the run is gone.
OWNER_LOCK = Path(".snakemake") / "autokr-owner.lock"


def lock_files(workdir: Path) -> list[Path]:
    """Snakemake's lock files in ``workdir``."""
    return sorted((workdir / ".snakemake" / "locks").glob("*.lock"))


def record_owner(workdir: Path, wait: float = 10.0) -> bool:
    """Record that this process on this host holds ``workdir``'s lock, and hold OWNER_LOCK
    for the rest of this process's life as the proof that the run is alive.

    A check (``why_kept``) holds OWNER_LOCK only for a moment: the lock is
    tried again for up to ``wait`` seconds. False, with nothing recorded, when
    another run holds it all that time: Snakemake's own lock covers only the
    files a run writes, and two autokr runs at once in one folder would each
    judge the other's unfinished videos at their end.
    """
    path = workdir / OWNER
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = workdir / OWNER_LOCK
    if not held_here(lock):
        fd = open_lock(lock, writable=True)
        deadline = time.monotonic() + wait
        while True:
            try:
                if take_lock(fd):
                    break
            except NoFileLocks:  # a file system without locks: checks cannot tell, and keep it
                break
            if time.monotonic() > deadline:
                os.close(fd)
                return False
            time.sleep(0.05)
        keep_for_life(lock, fd)
    owner = {"host": socket.gethostname(), "pid": os.getpid()}
    write_text_atomic(path, json.dumps(owner) + "\n")
    return True


def why_kept(workdir: Path) -> str | None:
    """Why the lock in ``workdir`` must be kept, or None when it is provably stale.

    The record is written once the run holds its lock, so one older than the
    lock files belongs to an earlier run: a run that locked the folder and has
    not reached ``onstart`` yet (still building its job graph) has none.
    """
    try:
        record = workdir / OWNER
        owner = json.loads(record.read_text(encoding="utf-8"))
        host, pid = str(owner["host"]), int(owner["pid"])
        newest_lock = max((lock.stat().st_mtime for lock in lock_files(workdir)), default=0)
        if record.stat().st_mtime < newest_lock:
            return "no record of the run that holds it (the last record is older than the lock)"
    except (OSError, ValueError, KeyError, TypeError):
        return "no record of the run that holds it"
    if host != socket.gethostname():
        return f"held by a run on host {host} (process {pid})"
    return _alive(workdir / OWNER_LOCK, pid)


def _alive(lock: Path, pid: int) -> str | None:
    """Why the run that holds ``lock`` (process ``pid``) counts as alive, or None when
    nobody holds it."""
    try:
        held = held_elsewhere(lock)
    except FileNotFoundError:
        return f"no proof that its run (process {pid}) has ended (an older autokr's run?)"
    except NoFileLocks as exc:
        if exc.errno in NO_FLOCK:
            return f"cannot tell whether its run (process {pid}) has ended (no file locks here)"
        raise
    except OSError as exc:
        return f"cannot tell whether its run (process {pid}) has ended ({exc.strerror})"
    return f"held by a live run (process {pid})" if held else None


def clear_stale_lock(workdir: Path) -> tuple[bool, str]:
    """Delete ``workdir``'s locks when provably stale; (removed, why kept if not)."""
    locks = lock_files(workdir)
    if not locks:
        return False, ""
    reason = why_kept(workdir)
    if reason:
        return False, reason
    for lock in locks:
        lock.unlink(missing_ok=True)
    return True, ""
