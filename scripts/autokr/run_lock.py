"""Snakemake's lock on a project folder: who holds it, and whether it is provably stale.

A run killed outright (power cut, ``kill -9``) leaves Snakemake's lock behind,
and the next run refuses to start. ``make run`` removes such a lock, but only
one it can prove dead: the workflow records the host and process of every run
as it starts (``record_owner``, from the Snakefile's ``onstart``), and a lock
is stale only when its run was on this host and that process is gone. On a
folder shared between machines a lock from another host is never removed.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

OWNER = Path(".snakemake") / "autokr-owner.json"


def lock_files(workdir: Path) -> list[Path]:
    """Snakemake's lock files in ``workdir``."""
    return sorted((workdir / ".snakemake" / "locks").glob("*.lock"))


def record_owner(workdir: Path, pid: int | None = None) -> None:
    """Record that the Snakemake process ``pid`` on this host holds ``workdir``'s lock."""
    path = workdir / OWNER
    path.parent.mkdir(parents=True, exist_ok=True)
    owner = {"host": socket.gethostname(), "pid": pid or os.getpid()}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(owner) + "\n", encoding="utf-8")
    os.replace(tmp, path)


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
    if _is_snakemake(pid):
        return f"held by a live run (process {pid})"
    return None


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


def _is_snakemake(pid: int) -> bool:
    """True when process ``pid`` on this host is alive and runs Snakemake."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # gone (or not ours to read: then not a run of ours either)
        return False
    return b"snakemake" in cmdline
