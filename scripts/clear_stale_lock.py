"""Remove Snakemake's lock when the run that left it is gone (killed, power cut).

``make run`` calls this first. A lock held by a live Snakemake in this folder
is left alone, so a second run started beside a first still refuses.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def lock_files(workdir: Path) -> list[Path]:
    """Snakemake's lock files in ``workdir``."""
    return sorted((workdir / ".snakemake" / "locks").glob("*.lock"))


def live_snakemake_pids(workdir: Path) -> list[int]:
    """Processes other than this one that run Snakemake, or a job of it, in ``workdir``."""
    here = workdir.resolve()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            cwd = Path(os.readlink(proc / "cwd")).resolve()
        except OSError:  # gone, or not ours to read
            continue
        if b"snakemake" in cmdline and cwd == here:
            pids.append(int(proc.name))
    return pids


def clear_stale_lock(workdir: Path) -> bool:
    """Delete the locks in ``workdir`` if no live process holds them; True when it did."""
    locks = lock_files(workdir)
    if not locks or live_snakemake_pids(workdir):
        return False
    for lock in locks:
        lock.unlink(missing_ok=True)
    return True


def main() -> None:
    """Clear a stale lock in the current folder, and say so."""
    if clear_stale_lock(Path.cwd()):
        print(
            "autokr: removed a stale lock left by a run that was killed; going on",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
