"""Subtitles where players find them: copies beside the video, a muxed copy, and the
manifest that tells autokr's own files from a user's.

``next_to_video`` copies ``results/subtitles/ep.01.ko.srt`` to ``videos/ep.01.ko.srt``:
``NAME.TAG.srt``, with the tag Plex, Jellyfin, Kodi and mpv read (``ko``, ``ja``,
``zh-Hant``). ``mux`` writes ``results/muxed/ep.01.mkv``: the video's streams
copied as they are, the subtitles added as tracks with language tags and
titles, the first target language the default track.

Every file written is recorded with its SHA-256 in ``results/published.json``.
A file beside a video is replaced only when the manifest holds it unchanged
since autokr wrote it (or it already holds what would be written); any other
file there is the user's and is left alone, with a line in the log.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autokr import languages
from autokr.errors import AutokrError
from autokr.records import VERSION, read_record, write_record, write_text_atomic

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
    files, and its SHA-256 as written."""

    video: str
    kind: str
    input: str
    sources: tuple[str, ...]
    sha256: str


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


def read_manifest(path: str | os.PathLike = MANIFEST) -> Manifest:
    """The manifest, or an empty one before anything was published."""
    return read_record(Manifest, path) if Path(path).exists() else Manifest()


@contextlib.contextmanager
def manifest_files(path: str | os.PathLike = MANIFEST) -> Iterator[dict[str, Published]]:
    """The manifest's files, to change in place; written back (atomically) on leaving,
    also after an error, so a file written before it is never forgotten.

    A lock file beside it keeps publish jobs running at once from losing each
    other's changes.
    """
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        files = dict(read_manifest(path).files)
        before = dict(files)
        try:
            yield files
        finally:
            if files != before:
                write_record(Manifest(dict(sorted(files.items()))), path)


def published_by_autokr(path: str | os.PathLike = MANIFEST) -> Callable[[Path], bool]:
    """A check that a file is one autokr published and nobody changed since."""
    files = read_manifest(path).files

    def check(file: Path) -> bool:
        entry = files.get(str(file))
        return entry is not None and file.is_file() and file_sha256(file) == entry.sha256

    return check


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
    taken out of the config) are removed, if nobody changed them.
    """
    plan = {str(sidecar_path(video, s)): s for s in subtitles}
    with manifest_files(manifest) as files:
        outcomes = [_place(Path(dest), s, video_id, video, files) for dest, s in plan.items()]
        stale = [
            path
            for path, entry in files.items()
            if entry.video == video_id and entry.kind == "next_to_video" and path not in plan
        ]
        for path in stale:
            outcomes.append(remove_own(path, files.pop(path), "no longer published"))
    return outcomes


def _place(
    dest: Path, subtitle: Subtitle, video_id: str, video: Path, files: dict[str, Published]
) -> Outcome:
    """Copy one subtitle to ``dest`` unless a file autokr did not write is there."""
    data = subtitle.path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    entry = Published(video_id, "next_to_video", str(video), (str(subtitle.path),), digest)
    action = "written"
    if dest.is_symlink() or (dest.exists() and not dest.is_file()):
        return _left_alone(dest, subtitle, files, "not a plain file")
    if dest.exists():
        current = file_sha256(dest)
        if current == digest:  # what autokr would write, whoever wrote it
            files[str(dest)] = entry
            return Outcome(str(dest), "unchanged")
        known = files.get(str(dest))
        if known is None or known.sha256 != current:
            return _left_alone(dest, subtitle, files, "not written by autokr")
        action = "updated"
    if not _write_beside(dest, data, replace=action == "updated"):
        return _left_alone(dest, subtitle, files, "appeared while autokr wrote it")
    files[str(dest)] = entry
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
    """Remove a file autokr published, unless someone changed it since (then it is theirs)."""
    file = Path(path)
    if not file.is_file() or file.is_symlink():
        return Outcome(path, "gone", why)
    # A muxed copy is under results/, which is autokr's alone: no need to read it all.
    if entry.kind != "mux" and file_sha256(file) != entry.sha256:
        log.warning("%s: kept (changed since autokr wrote it; %s)", path, why)
        return Outcome(path, "kept", f"changed since autokr wrote it; {why}")
    file.unlink()
    log.info("%s: removed (%s)", path, why)
    return Outcome(path, "removed", why)


def mux(
    video_id: str,
    video: Path,
    subtitles: list[Subtitle],
    out: Path,
    manifest: str | os.PathLike = MANIFEST,
) -> Outcome:
    """Write ``out``: the streams of ``video`` copied into Matroska, with ``subtitles`` as
    tracks (language tag, title), the first translation the default subtitle track."""
    from autokr.media import ffmpeg_executable

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    command = [ffmpeg_executable(), *mux_arguments(video, subtitles, _input_streams(video), tmp)]
    done = subprocess.run(command, capture_output=True, text=True, errors="replace")
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        lines = done.stderr.strip().splitlines() or ["no message"]
        raise PublishError(f"{video}: ffmpeg could not mux the subtitles ({lines[-1].strip()})")
    os.replace(tmp, out)
    entry = Published(
        video_id, "mux", str(video), tuple(str(s.path) for s in subtitles), file_sha256(out)
    )
    with manifest_files(manifest) as files:
        files[str(out)] = entry
    for s in subtitles:
        log.info("%s: track %s (%s)", out, languages.matroska_tag(s.code), s.title)
    return Outcome(str(out), "written")


def _input_streams(video: Path) -> list[tuple[int, str, str, bool]]:
    """Each stream of ``video``: index, type, codec, and whether it is a cover picture."""
    import av

    from autokr.errors import MediaError

    try:
        with av.open(str(video), metadata_errors="ignore") as container:
            return [
                (
                    s.index,
                    s.type,
                    (s.codec_context.name if s.codec_context else "") or "",
                    bool(s.disposition & av.stream.Disposition.attached_pic),
                )
                for s in container.streams
            ]
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"{video}: not a readable video or audio file ({exc})") from None


def mux_arguments(
    video: Path, subtitles: list[Subtitle], streams: list[tuple[int, str, str, bool]], out: Path
) -> list[str]:
    """ffmpeg's arguments for ``mux``: a list, never a shell string.

    The video's video, audio, attachment and subtitle streams are copied
    (text subtitles Matroska cannot hold become SubRip; others, data streams
    and cover pictures are left out), its subtitle tracks lose their default
    flag, and each subtitle file becomes a track.
    """
    args = ["-nostdin", "-hide_banner", "-v", "error", "-y", "-i", f"file:{video}"]
    for s in subtitles:
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


def prune(
    kinds: list[str],
    results: Path = Path("results"),
    manifest: str | os.PathLike = MANIFEST,
    sources: bool = True,
) -> list[Outcome]:
    """Remove the published files autokr no longer keeps.

    A file goes when its video is gone, when config ``publish`` no longer
    lists its kind, or (with ``sources``, at the end of a run) when its
    subtitles are gone: a video that failed after its file was replaced loses
    the subtitles of the old file, and so its published copies. A copy
    someone changed since is kept and forgotten. The video's publish record
    goes too, so a later run publishes it again.
    """
    if not Path(manifest).exists():
        return []
    outcomes = []
    with manifest_files(manifest) as files:
        for path, entry in list(files.items()):
            why = _why_remove(entry, kinds, sources)
            if why:
                outcomes.append(remove_own(path, files.pop(path), why))
                (results / "videos" / entry.video / "publish.json").unlink(missing_ok=True)
    return outcomes


def _why_remove(entry: Published, kinds: list[str], sources: bool) -> str | None:
    if not Path(entry.input).exists():
        return f"its video {entry.input} is gone"
    if entry.kind not in kinds:
        return f"publish no longer lists {entry.kind}"
    if sources and not all(Path(source).exists() for source in entry.sources):
        return "its subtitles were removed (the video failed after its file was replaced)"
    return None


def report_publishing(
    results: Path,
    summary: str,
    videos: dict[str, Path],
    kinds: list[str],
    run_started: float,
    earlier: Sequence[Outcome] = (),
) -> str:
    """Tidy the published files (``prune``) and add what needs a look to the summary.

    ``earlier`` are the files the start of the run removed. Returns the
    summary's text, with a Published section when autokr published anything;
    ``results/summary.md`` is written again with it.
    """
    manifest = results / MANIFEST.name
    if not kinds and not manifest.exists():
        return summary
    removed = [*earlier, *prune(kinds, results, manifest)]
    rows = [[o.path, f"{o.action}: {o.reason}"] for o in removed if o.action != "gone"]
    for video in videos:
        rows += _attention(results, video, run_started)
    files = read_manifest(manifest).files.values()
    beside = sum(1 for e in files if e.kind == "next_to_video")
    muxed = sum(1 for e in files if e.kind == "mux")
    lines = [
        "## Published",
        "",
        f"{beside} subtitle files beside their videos, {muxed} muxed videos in "
        f"results/muxed/ (autokr's own files are listed in {manifest}).",
        "",
    ]
    if rows:
        lines += ["| file | what happened |", "| --- | --- |"]
        lines += [f"| {path} | {what} |" for path, what in rows] + [""]
    text = summary.rstrip("\n") + "\n\n" + "\n".join(lines)
    write_text_atomic(results / "summary.md", text)
    return text


def _attention(results: Path, video: str, run_started: float) -> list[list[str]]:
    """A video's published files that need a look: those left alone, and a publish
    job that failed in this run."""
    rows = []
    record = results / "videos" / video / "publish.json"
    if record.exists():
        for o in read_record(PublishRecord, record).files:
            if o.action in ("left alone", "kept"):
                rows.append([o.path, f"{o.action}: {o.reason}"])
    job_log = results / "logs" / "publish" / f"{video}.log"
    if job_log.exists() and job_log.stat().st_mtime >= run_started:
        errors = [
            line
            for line in job_log.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.startswith("autokr: ")
        ]
        if errors:
            rows.append([video, f"failed: {errors[-1].removeprefix('autokr: ')} ({job_log})"])
    return rows
