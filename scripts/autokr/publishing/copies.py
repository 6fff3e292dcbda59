"""Subtitles where players find them: copies beside the video, a muxed copy, and the
manifest that tells autokr's own files from a user's.

``next_to_video`` copies ``results/subtitles/ep.01.ko.srt`` to ``videos/ep.01.ko.srt``:
``NAME.TAG.srt``, with the tag Plex, Jellyfin, Kodi and mpv read (``ko``, ``ja``,
``zh-Hant``). ``mux`` writes ``results/muxed/ep.01.mkv``: the video's streams
copied as they are, the subtitles added as tracks with language tags and
titles, the first target language the default track.

Every file written is recorded with its size, modification time and SHA-256
in ``results/published.json``. A file is replaced or removed only when it is
still byte for byte what autokr wrote there (or already holds what would be
written); any other file is the user's and is left alone, with a line in the
log. Removals are ``autokr.unpublish``'s, in a run that holds the lock.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autokr.core import languages
from autokr.core.errors import AutokrError, RecordError
from autokr.core.records import VERSION, read_record, write_record

log = logging.getLogger("autokr.publish")

#: What config ``publish`` may list.
KINDS = ("next_to_video", "mux")
#: Where the manifest lives, under the project.
MANIFEST = Path("results") / "published.json"
#: Subtitle codecs Matroska holds as they are, and text ones ffmpeg turns into SubRip.
_MATROSKA_SUBTITLES = frozenset(
    "subrip srt ass ssa webvtt hdmv_pgs_subtitle dvd_subtitle dvb_subtitle".split()
)
_TEXT_SUBTITLES = frozenset({"mov_text", "text", "microdvd", "sami", "subviewer", "realtext"})


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
class Subtitle:
    """One subtitle file to publish: its language code, file, and whether it is a translation."""

    code: str
    path: Path
    translated: bool

    @property
    def title(self) -> str:
        """The track title players show: the language and what autokr made."""
        made = "translation" if self.translated else "transcript"
        return f"{languages.language_name(self.code)} (autokr {made})"


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


#: flock's answers on a file system that has no such locks (NFS without lockd, some
#: SMB and FUSE mounts).
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
#: How long a lock file (the fallback) may stand before it is taken as a killed job's.
STALE_LOCK_SECONDS = 300


@contextlib.contextmanager
def manifest_lock(lock: Path) -> Iterator[None]:
    """Hold ``lock`` exclusively: flock, or where the share has none, a lock file made
    with O_EXCL (atomic on every file system autokr writes to)."""
    import fcntl

    try:
        handle = open(lock, "a")  # noqa: SIM115 (held across the yield below)
    except OSError as exc:
        raise PublishError(f"{lock}: cannot lock ({exc.strerror})") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno not in _NO_FLOCK:
                raise PublishError(f"{lock}: cannot lock ({exc.strerror})") from None
        else:
            yield
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


#: What a damaged manifest means, said after its cause.
DAMAGED = (
    "autokr cannot tell its own files from yours until it is fixed or removed "
    "(then it takes as its own only the copies that hold what it would write)"
)


def subtitles_to_publish(
    files: list[tuple[str, str]], targets: list[str], detected: str | None
) -> list[Subtitle]:
    """The subtitles of a video worth publishing, target languages first.

    ``files`` pairs each subtitle file's label (``ko``, ``ja``, ``orig``) with
    its path; ``orig`` (source_language: auto) stands for ``detected``, the
    language Whisper heard. An empty file (a video without speech) is left out,
    and so is a second file whose language would take the same name.
    """
    chosen: dict[str, Subtitle] = {}
    for label, path in sorted(files, key=lambda item: item[0] not in targets):
        code = detected if label == "orig" else label
        if not code:
            log.warning("%s: left out: the language Whisper heard is not known", path)
            continue
        if Path(path).stat().st_size == 0:
            log.info("%s: left out: no cues", path)
            continue
        tag = languages.player_tag(code)
        if tag in chosen:
            log.warning("%s: left out: %s is published from %s", path, tag, chosen[tag].path)
            continue
        chosen[tag] = Subtitle(code, Path(path), label in targets)
    return list(chosen.values())


def sidecar_path(video: Path, subtitle: Subtitle) -> Path:
    """Where a subtitle goes beside its video: ``ep.01.mkv`` -> ``ep.01.ko.srt``."""
    return video.with_name(
        f"{video.stem}.{languages.player_tag(subtitle.code)}{subtitle.path.suffix}"
    )


def publish_next_to_video(
    video_id: str, video: Path, subtitles: list[Subtitle], manifest: str | os.PathLike = MANIFEST
) -> list[Outcome]:
    """Copy each subtitle beside ``video``, never over a file autokr did not write.

    Copies this video had before that it publishes no more (a target language
    taken out of the config) are removed, if they are still what autokr wrote.
    """
    plan = {str(sidecar_path(video, s)): s for s in subtitles}
    with manifest_files(manifest) as files:
        outcomes = [_place(Path(dest), s, video_id, video, files) for dest, s in plan.items()]
        stale = [
            path
            for path, entry in files.items()
            if entry.video == video_id
            and entry.kind == "next_to_video"
            and path not in plan
            # Only this video's: another with the same id (publish.py by
            # hand on a copy elsewhere, ep.02 in another folder) keeps its own.
            and _same_video(entry.input, video)
        ]
        planned = {os.path.realpath(dest) for dest in plan}
        for path in stale:
            if os.path.realpath(path) in planned:
                # The same file under an older spelling of its folder (a link, an
                # absolute path): recorded above under its real name, never removed.
                del files[path]
                continue
            outcomes.append(take_back(path, files, "its language is no longer published"))
    return outcomes


def _place(
    dest: Path, subtitle: Subtitle, video_id: str, video: Path, files: dict[str, Published]
) -> Outcome:
    """Copy one subtitle to ``dest`` unless a file autokr did not write is there."""
    data = subtitle.path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    action = "written"
    if dest.is_symlink() or (dest.exists() and not dest.is_file()):
        return _left_alone(dest, subtitle, files, "not a plain file")
    if dest.exists():
        try:
            # What autokr would write, whoever wrote it, is autokr's from now on.
            same = file_sha256(dest) == digest
            known = files.get(str(dest))
            ours = same or (known is not None and unchanged_since_written(dest, known))
        except OSError as exc:
            return _left_alone(dest, subtitle, files, f"cannot be read: {exc.strerror}")
        if not ours:
            return _left_alone(dest, subtitle, files, "not written by autokr")
        action = "unchanged" if same else "updated"
    if action != "unchanged" and not _write_beside(dest, data, replace=action == "updated"):
        return _left_alone(dest, subtitle, files, "appeared while autokr wrote it")
    files[str(dest)] = published_entry(
        video_id, "next_to_video", video, [subtitle.path], dest, digest
    )
    if action != "unchanged":
        log.info("%s: %s from %s", dest, action, subtitle.path)
    return Outcome(str(dest), action)


def _left_alone(dest: Path, subtitle: Subtitle, files: dict[str, Published], why: str) -> Outcome:
    """Leave a user's file where autokr would publish; it is the user's from now on."""
    files.pop(str(dest), None)
    log.warning("%s: left alone (%s); autokr's is %s", dest, why, subtitle.path)
    return Outcome(str(dest), "left alone", f"{why}; autokr's is {subtitle.path}")


def _write_beside(dest: Path, data: bytes, replace: bool) -> bool:
    """Write ``data`` to ``dest`` whole, through a hidden temporary file beside it.

    A new file is linked into place, which fails rather than overwrite a file
    that appeared meanwhile (False); ``replace`` replaces autokr's own.
    """
    try:
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
        # mkstemp makes it private; a media server running as another user must read it.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            if replace:
                os.replace(tmp, dest)
                return True
            try:
                os.link(tmp, dest)
            except FileExistsError:
                return False
            except OSError:  # a filesystem without hard links (some network shares)
                if dest.exists():
                    return False
                os.replace(tmp, dest)
            return True
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as exc:
        raise PublishError(f"{dest}: cannot write beside the video ({exc.strerror})") from None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_own(path: str, entry: Published, why: str) -> Outcome:
    """Remove a file autokr published if it is still byte for byte what autokr wrote.

    Outcomes: ``removed``; ``gone`` (nothing there); ``kept`` (changed since:
    it is the user's now); ``not removed`` (it cannot be read or removed: a
    read-only folder, say; still autokr's, for a later run).
    """
    file = Path(path)
    if not file.exists() and not file.is_symlink():
        return Outcome(path, "gone", why)
    try:
        ours = unchanged_since_written(file, entry)
        if ours:
            file.unlink()
    except OSError as exc:
        reason = f"cannot remove it: {exc.strerror}; {why}"
        log.warning("%s: not removed (%s)", path, reason)
        return Outcome(path, "not removed", reason)
    if not ours:
        reason = f"changed since autokr wrote it, so it is yours; {why}"
        log.warning("%s: kept (%s)", path, reason)
        return Outcome(path, "kept", reason)
    log.info("%s: removed (%s)", path, why)
    return Outcome(path, "removed", why)


def take_back(path: str, files: dict[str, Published], why: str) -> Outcome:
    """``remove_own`` for a file of the manifest ``files``, which forgets it unless it
    could not be removed (it is still autokr's then, and a later run tries again)."""
    outcome = remove_own(path, files[path], why)
    if outcome.action != "not removed":
        del files[path]
    return outcome


def mux(
    video_id: str,
    video: Path,
    subtitles: list[Subtitle],
    out: Path,
    manifest: str | os.PathLike = MANIFEST,
) -> Outcome:
    """Write ``out``: the streams of ``video`` copied into Matroska, with ``subtitles`` as
    tracks (language tag, title), the first translation the default subtitle track.

    Never over a file that is not autokr's own unchanged muxed copy: one changed
    since (a title fixed with mkvpropedit) is left alone.
    """
    from autokr.speech.media import ffmpeg_executable

    with manifest_files(manifest) as files:
        problem = _not_ours(out, files, video)
    if problem:
        return _mux_left_alone(out, problem)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        streams, start = _input_streams(video)
        command = [ffmpeg_executable(), *mux_arguments(video, subtitles, streams, tmp, start)]
        done = subprocess.run(command, capture_output=True, text=True, errors="replace")
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or ["no message"]
            raise PublishError(f"{video}: ffmpeg could not mux the subtitles ({lines[-1].strip()})")
        digest = file_sha256(tmp)
        with manifest_files(manifest) as files:
            problem = _not_ours(out, files, video)  # again: the user had all that time
            if problem:
                return _mux_left_alone(out, problem)
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, out)
            sources = [s.path for s in subtitles]
            files[str(out)] = published_entry(video_id, "mux", video, sources, out, digest)
    finally:
        tmp.unlink(missing_ok=True)
    for s in subtitles:
        log.info("%s: track %s (%s)", out, languages.matroska_tag(s.code), s.title)
    return Outcome(str(out), "written")


def _not_ours(out: Path, files: dict[str, Published], video: Path) -> str:
    """Why ``out`` may not be written over ("" when it may): it is there and is not
    autokr's own copy, unchanged, of ``video``. One changed since is forgotten: it
    is the user's. One of a video that is gone may be the only copy of it left."""
    if not out.exists() and not out.is_symlink():
        return ""
    entry = files.get(str(out))
    try:
        if entry is not None and not _same_video(entry.input, video):
            if not Path(entry.input).exists():
                return f"the only copy of {entry.input}, which is gone"
            return f"a copy of {entry.input}"
        if entry is not None and unchanged_since_written(out, entry):
            return ""
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    files.pop(str(out), None)
    return "not written by autokr" if entry is None else "changed since autokr wrote it"


def _same_video(recorded: str, video: Path) -> bool:
    """Whether the video a copy was made from is ``video``, however either is spelled."""
    return os.path.realpath(recorded) == os.path.realpath(video)


def _mux_left_alone(out: Path, why: str) -> Outcome:
    """Leave a file where the muxed copy goes: the user's, as one beside a video is."""
    log.warning("%s: left alone (%s); not muxed again: move it away for autokr's", out, why)
    return Outcome(str(out), "left alone", f"{why}; move it away for autokr's")


def check_mux_target(out: Path, video: Path, results: Path = Path("results")) -> None:
    """Refuse a muxed copy's path that is the video itself or outside ``results``.

    The mux replaces its output, and only autokr's own folder may hold a file
    that autokr replaces without asking.
    """
    with contextlib.suppress(OSError):
        if out.exists() and out.samefile(video):
            raise PublishError(
                f"{out}: is the input video itself; a muxed copy goes under {results}/"
            )
    where = out.resolve()
    if not where.is_relative_to(results.resolve()) or where == results.resolve():
        raise PublishError(
            f"{out}: outside {results}/; autokr writes muxed copies only under {results}/ "
            "(copy it elsewhere yourself)"
        )


def _input_streams(video: Path) -> tuple[list[tuple[int, str, str, bool]], float]:
    """Each stream of ``video`` (index, type, codec, whether a cover picture), and where
    the video's clock starts, in seconds (what the subtitles' 0 stands for)."""
    import av

    from autokr.core.errors import MediaError

    try:
        with av.open(str(video), metadata_errors="ignore") as container:
            streams = [
                (
                    s.index,
                    s.type,
                    (s.codec_context.name if s.codec_context else "") or "",
                    bool(s.disposition & av.stream.Disposition.attached_pic),
                )
                for s in container.streams
            ]
            start = container.start_time / 1_000_000 if container.start_time else 0.0
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"{video}: not a readable video or audio file ({exc})") from None
    return streams, start


def mux_arguments(
    video: Path,
    subtitles: list[Subtitle],
    streams: list[tuple[int, str, str, bool]],
    out: Path,
    start: float = 0.0,
) -> list[str]:
    """ffmpeg's arguments for ``mux``: a list, never a shell string.

    The video's video, audio, attachment and subtitle streams are copied
    (text subtitles Matroska cannot hold become SubRip; others, data streams
    and cover pictures are left out), its subtitle tracks lose their default
    flag, and each subtitle file becomes a track.

    Everything stays on the video's own clock: its streams keep their
    timestamps (``-copyts``; ffmpeg would otherwise move them by the file's
    start, or not, by ffmpeg version and by how far a stream starts before
    zero), and a subtitle's time 0 is where the video's clock starts
    (``start``), as it is in the SRT, whose times count from the first frame
    as the extracted audio's do.
    """
    args = ["-nostdin", "-hide_banner", "-v", "error", "-y", "-copyts", "-i", f"file:{video}"]
    for s in subtitles:
        args += ["-itsoffset", f"{start:.6f}"] if start else []
        args += ["-i", f"file:{s.path}"]
    maps, codecs, kept = [], ["-c", "copy"], 0
    for index, kind, codec, cover in streams:
        if kind in ("video", "audio", "attachment") and not cover:
            maps += ["-map", f"0:{index}"]
        elif kind == "subtitle" and (codec in _MATROSKA_SUBTITLES or codec in _TEXT_SUBTITLES):
            maps += ["-map", f"0:{index}"]
            if codec in _TEXT_SUBTITLES:
                codecs += [f"-c:s:{kept}", "srt"]
            codecs += [f"-disposition:s:{kept}", "-default"]
            kept += 1
        else:
            log.info("%s: stream %d (%s %s) left out of the muxed copy", video, index, kind, codec)
    default = next((s for s in subtitles if s.translated), None)
    for n, s in enumerate(subtitles):
        track = kept + n
        maps += ["-map", f"{n + 1}:0"]
        if s.path.suffix != ".srt":
            codecs += [f"-c:s:{track}", "srt"]
        codecs += [f"-metadata:s:s:{track}", f"language={languages.matroska_tag(s.code)}"]
        codecs += [f"-metadata:s:s:{track}", f"title={s.title}"]
        codecs += [f"-disposition:s:{track}", "default" if s is default else "0"]
    return [*args, *maps, *codecs, "-f", "matroska", f"file:{out}"]
