"""``results/published.json``: every file autokr published, and how it tells them from a user's.

Every file written is recorded with its size, modification time and SHA-256.
A file is replaced or removed only when it is still byte for byte what autokr
wrote there (or already holds what would be written); any other file is the
user's and is left alone, with a line in the log. The manifest is read and
written through ``autokr.core.records`` (``read_record``/``write_record``),
under a lock beside it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autokr.core.errors import AutokrError, RecordError
from autokr.core.file_lock import NO_FLOCK, NoFileLocks, open_lock, take_lock
from autokr.core.record_files import VERSION, read_record, write_record
from autokr.core.results_layout import PUBLISHED
from autokr.publishing.own_files import unchanged_since_written

log = logging.getLogger("autokr.publish")

#: Where the manifest lives, under the project.
MANIFEST = Path(PUBLISHED)
#: What a damaged manifest means, said after its cause.
DAMAGED = (
    "autokr cannot tell its own files from yours until it is fixed or removed "
    "(then it takes as its own only the copies that hold what it would write)"
)


class PublishError(AutokrError):
    """A video's subtitles cannot be published: a folder that cannot be written, streams
    ffmpeg cannot copy."""


@dataclass(frozen=True)
class Published:
    """One file autokr published: its video (id and file), how, from which subtitle
    files, and its SHA-256, size and modification time as written (size -1: not
    recorded, by an autokr before 2026-12)."""

    video: str
    kind: str
    input: str
    sources: tuple[str, ...]
    sha256: str
    size: int = -1
    mtime_ns: int = 0


@dataclass(frozen=True)
class Manifest:
    """``results/published.json``: every file autokr published and still owns, by path."""

    files: dict[str, Published] = field(default_factory=dict)
    version: int = VERSION


def published_entry(
    video_id: str, kind: str, video: Path, sources: Sequence[Path], file: Path, sha256: str
) -> Published:
    """The manifest's entry for ``file``, just written: what it holds, its size and time."""
    stat = file.stat()
    return Published(
        video_id,
        kind,
        str(video),
        tuple(str(s) for s in sources),
        sha256,
        stat.st_size,
        stat.st_mtime_ns,
    )


def read_manifest(path: str | os.PathLike = MANIFEST) -> Manifest:
    """The manifest, or an empty one before anything was published.

    RecordError, naming the file, when it cannot be read or is damaged.
    """
    try:
        return read_record(Manifest, path) if Path(path).exists() else Manifest()
    except OSError as exc:
        raise RecordError(f"{path}: cannot be read ({exc.strerror})") from None


@contextlib.contextmanager
def manifest_files(path: str | os.PathLike = MANIFEST) -> Iterator[dict[str, Published]]:
    """The manifest's files, to change in place; written back (atomically) on leaving,
    also after an error, so a file written before it is never forgotten.

    A lock beside it keeps publish jobs running at once from losing each
    other's changes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with manifest_lock(path.with_name(f".{path.name}.lock")):
        files = dict(read_manifest(path).files)
        before = dict(files)
        try:
            yield files
        finally:
            if files != before:
                write_record(Manifest(dict(sorted(files.items()))), path)


#: How long a lock file (the fallback) may stand before it is taken as a killed job's.
STALE_LOCK_SECONDS = 300


@contextlib.contextmanager
def manifest_lock(lock: Path) -> Iterator[None]:
    """Hold ``lock`` exclusively: flock, or where the share has none, a lock file made
    with O_EXCL (atomic on every file system autokr writes to)."""
    try:
        fd = open_lock(lock, 0o666, writable=True)  # the umask has its say, as with open()
    except OSError as exc:
        raise PublishError(f"{lock}: cannot lock ({exc.strerror})") from None
    try:
        take_lock(fd, block=True)
    except NoFileLocks as exc:
        os.close(fd)
        if exc.errno not in NO_FLOCK:
            raise PublishError(f"{lock}: cannot lock ({exc.strerror})") from None
    else:
        try:
            yield
        finally:
            os.close(fd)
        return
    log.info("%s: the file system has no flock; a lock file stands in", lock)
    with _exclusive_file(lock.with_name(lock.name + ".held")):
        yield


@contextlib.contextmanager
def _exclusive_file(held: Path) -> Iterator[None]:
    """Create ``held`` (failing if it exists) for as long as the block runs; wait while
    another job holds it, and take it over once it is older than STALE_LOCK_SECONDS.

    The holder touches it every tenth of that time, so a job that holds it long
    (hashing a large muxed copy on a slow share) is never taken for a killed one.
    """
    while True:
        try:
            os.close(os.open(held, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            break
        except FileExistsError:
            with contextlib.suppress(FileNotFoundError):
                if time.time() - held.stat().st_mtime > STALE_LOCK_SECONDS:
                    log.warning("%s: left by a job that was killed; taken over", held)
                    held.unlink()
            time.sleep(0.1)
        except OSError as exc:
            raise PublishError(f"{held}: cannot lock ({exc.strerror})") from None
    done = threading.Event()

    def keep_fresh() -> None:
        while not done.wait(STALE_LOCK_SECONDS / 10):
            with contextlib.suppress(OSError):
                os.utime(held)

    heartbeat = threading.Thread(target=keep_fresh, name="publish-lock", daemon=True)
    heartbeat.start()
    try:
        yield
    finally:
        done.set()
        heartbeat.join()
        held.unlink(missing_ok=True)


def published_by_autokr(path: str | os.PathLike = MANIFEST) -> Callable[[Path], bool]:
    """A check that a file is one autokr published and nobody changed since.

    A file that cannot be read is not (it may be anyone's). A damaged manifest
    says so in one line, and then no file is autokr's: a user's file must never
    be taken for one.
    """
    try:
        files = read_manifest(path).files
    except RecordError as exc:
        print(f"autokr: {exc}; {DAMAGED}", file=sys.stderr)
        files = {}

    def check(file: Path) -> bool:
        entry = files.get(str(file))
        try:
            return entry is not None and unchanged_since_written(file, entry)
        except OSError:
            return False

    return check
