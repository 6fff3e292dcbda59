"""File locks (``flock``) that the system drops when their holder ends, however it ends.

That is what makes them proof of life: a run's owner lock (``batch.run_lock``)
and a GPU card's lock (``core.devices``) are held for the whole life of the
process, and a lock nobody holds any more belongs to a process that is gone,
without asking the process table (a live process may be invisible there:
``hidepid``, another PID namespace).
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

#: flock's answers on a file system that has no such locks (NFS without lockd, some
#: SMB and FUSE mounts).
NO_FLOCK = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL})
_held: dict[str, int] = {}  # lock files this process holds, by real path, for its life


class NoFileLocks(OSError):
    """flock gave no answer on this file (its errno says why; NO_FLOCK: none on this file
    system)."""


def open_lock(path: Path, mode: int = 0o644, *, writable: bool = False) -> int:
    """Open ``path`` for locking, created with ``mode`` when missing; never through a link.

    Read-only is enough for flock on a local disk, so a lock file in a shared
    folder made by another user locks too (the GPU card locks). ``writable``
    for a lock in the project or the results (the run's owner lock, the publish
    manifest's): on NFS and CIFS the kernel takes flock as a POSIX lock, and an
    exclusive one there needs a file open for writing.
    """
    access = os.O_RDWR if writable else os.O_RDONLY
    return os.open(path, access | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, mode)


def take_lock(fd: int, *, shared: bool = False, block: bool = False) -> bool:
    """Lock the open file ``fd``: True once taken, False while another holds it (not blocking).

    Raises NoFileLocks when flock fails otherwise (``exc.errno in NO_FLOCK``:
    this file system has no locks).
    """
    kind = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        fcntl.flock(fd, kind if block else kind | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        raise NoFileLocks(exc.errno, exc.strerror) from None
    return True


def keep_for_life(path: Path, fd: int) -> None:
    """Keep ``fd`` (the lock on ``path``) open until this process ends: the lock with it."""
    _held[os.path.realpath(path)] = fd


def held_here(path: Path) -> bool:
    """True when this process keeps the lock on ``path`` for its life (``keep_for_life``)."""
    return os.path.realpath(path) in _held


def held_elsewhere(path: Path) -> bool:
    """True while a process holds a lock on ``path``; False when nobody does.

    Only looks: the file is not created (FileNotFoundError when missing) and a
    lock taken to find out is let go at once. NoFileLocks when flock cannot
    tell.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return not take_lock(fd, shared=True)
    finally:
        os.close(fd)  # also lets go of the lock, if taken
