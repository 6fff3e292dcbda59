"""How autokr tells its own published files from a user's: their bytes, their video, their mode.

A file autokr published is its own while it holds exactly what autokr wrote
there (``unchanged_since_written``, against its entry in
``results/published.json``: see ``autokr.publishing.manifest``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autokr.publishing.manifest import Published


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def unchanged_since_written(file: Path, entry: Published) -> bool:
    """True when ``file`` is a plain file holding exactly what autokr wrote (``entry``).

    A size other than the one recorded settles it; the same size and
    modification time stand for the same bytes (a change that keeps both is
    deliberate) where the file system keeps time finer than a second; anything
    else is settled by the SHA-256. On FAT, ext3 or a
    share that keeps whole seconds, an edit in the second autokr wrote the file
    keeps both, so there the bytes are always read. OSError when the file
    cannot be read.
    """
    if file.is_symlink() or not file.is_file():
        return False
    stat = file.stat()
    if entry.size >= 0 and stat.st_size != entry.size:
        return False
    fine_clock = entry.mtime_ns % 1_000_000_000 != 0
    if fine_clock and stat.st_size == entry.size and stat.st_mtime_ns == entry.mtime_ns:
        return True
    return file_sha256(file) == entry.sha256


def same_video(recorded: str, video: Path) -> bool:
    """Whether the video a copy was made from is ``video``, however either is spelled."""
    return os.path.realpath(recorded) == os.path.realpath(video)


def published_mode() -> int:
    """The mode of a file autokr publishes: readable by all, as the umask allows.

    A temporary file is private; a media server running as another user must
    read the file it becomes.
    """
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask
