"""A copy of the video with its subtitles as tracks: ``results/muxed/ep.01.mkv``.

The video's streams are copied as they are, the subtitles added as tracks with
language tags and titles, the first target language the default track. Only
under ``results/``, and never over a file that is not autokr's own unchanged
muxed copy.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import tempfile
from pathlib import Path

from autokr.core import languages
from autokr.core.results_layout import RESULTS_DIR
from autokr.publishing import own_files
from autokr.publishing.manifest import (
    MANIFEST,
    Published,
    PublishError,
    manifest_files,
    published_entry,
)
from autokr.publishing.outcomes import Outcome
from autokr.publishing.subtitle_choice import Subtitle

log = logging.getLogger("autokr.publish")

#: Subtitle codecs Matroska holds as they are, and text ones ffmpeg turns into SubRip.
_MATROSKA_SUBTITLES = frozenset(
    "subrip srt ass ssa webvtt hdmv_pgs_subtitle dvd_subtitle dvb_subtitle".split()
)
_TEXT_SUBTITLES = frozenset({"mov_text", "text", "microdvd", "sami", "subviewer", "realtext"})


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
        digest = own_files.file_sha256(tmp)
        with manifest_files(manifest) as files:
            problem = _not_ours(out, files, video)  # again: the user had all that time
            if problem:
                return _mux_left_alone(out, problem)
            os.chmod(tmp, own_files.published_mode())
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
        if entry is not None and not own_files.same_video(entry.input, video):
            if not Path(entry.input).exists():
                return f"the only copy of {entry.input}, which is gone"
            return f"a copy of {entry.input}"
        if entry is not None and own_files.unchanged_since_written(out, entry):
            return ""
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    files.pop(str(out), None)
    return "not written by autokr" if entry is None else "changed since autokr wrote it"


def _mux_left_alone(out: Path, why: str) -> Outcome:
    """Leave a file where the muxed copy goes: the user's, as one beside a video is."""
    log.warning("%s: left alone (%s); not muxed again: move it away for autokr's", out, why)
    return Outcome(str(out), "left alone", f"{why}; move it away for autokr's")


def check_mux_target(out: Path, video: Path, results: Path = RESULTS_DIR) -> None:
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
