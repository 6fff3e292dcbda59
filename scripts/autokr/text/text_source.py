"""Where a video's text comes from: subtitles it already has in its language, or speech.

``transcribe.source`` decides. ``auto`` reads a source-language text subtitle
the video already has (a file beside it, else a track inside it) and falls
back to speech where it has none or none can be read; ``subtitles`` requires
one; ``speech`` never looks. Files are found as ``skip_existing`` finds them
(``discovery``), so ``NAME.ja.srt``, ``NAME.jpn.ass`` and ``NAME.Japanese.vtt``
all count, and files autokr published itself never do.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from autokr.batch.existing_subtitles import names_language, sidecar_files, subtitle_tracks
from autokr.core import languages
from autokr.core.errors import SubtitleError
from autokr.core.memory import step_memory
from autokr.core.record_files import write_record
from autokr.core.records import WORDS_FROM_TEXT, Run, Segment, TextSource, Transcript, Word
from autokr.text.subtitle_formats import SubtitleText, TextCue, parse_text, read_subtitles

# The step's name in the log: read_subtitles runs read_video_subtitles.
log = logging.getLogger("autokr.read_subtitles")

MODES = ("auto", "speech", "subtitles")
#: Subtitle files autokr reads, in the order it prefers them.
READABLE = (".srt", ".ass", ".ssa", ".vtt")
#: Subtitle files players load that hold no text autokr can read, and why.
UNREADABLE = {
    ".sup": "pictures of text (PGS), not text",
    ".sub": "pictures of text (VobSub), not text",
    ".idx": "pictures of text (VobSub), not text",
    ".smi": "SAMI, which autokr does not read: convert it to SRT",
}


def choose_text(
    video: Path, language: str, mode: str, published: Callable[[Path], bool]
) -> TextSource:
    """The subtitles ``video``'s transcript is read from, or ``speech``; with what was passed
    over in ``skipped``, one ``file: cause`` line each.

    Files beside the video come first (they are what a user adds on purpose),
    then text tracks inside it tagged with ``language``. A file is read here,
    so that one that cannot be (not text, no cues) is passed over; a track is
    only looked at (reading it means reading the whole video).
    """
    if mode == "speech" or language == languages.AUTO:
        return TextSource()
    tags = languages.subtitle_tags(language)
    skipped: list[str] = []
    for path in _sidecars(video, tags, published):
        problem = UNREADABLE.get(path.suffix.lower())
        if problem:
            skipped.append(f"{path}: {problem}")
            continue
        try:
            text = read_subtitles(path.read_bytes(), str(path))
        except SubtitleError as exc:
            skipped.append(str(exc))
            continue
        except OSError as exc:
            skipped.append(f"{path}: cannot be read ({exc.strerror})")
            continue
        return TextSource("file", str(path), None, text.format, text.encoding, tuple(skipped))
    for track in subtitle_tracks(video):
        if track.forced or not names_language(track.language, tags):
            continue
        if not track.text:
            where = f"subtitle track {track.number} ({track.language}, {track.codec})"
            skipped.append(f"{video}: {where}: pictures of text, not text")
            continue
        return TextSource("track", str(video), track.number, track.codec, "", tuple(skipped))
    return TextSource(skipped=tuple(skipped))


def _sidecars(video: Path, tags: frozenset[str], published) -> list[Path]:
    """The video's subtitle files in ``tags``' language: readable ones first (SRT before
    ASS before WebVTT), plain names (``NAME.ja.srt``) before longer ones."""
    try:
        names = sorted(os.listdir(video.parent))
    except OSError:  # the folder went away: the steps report the video itself
        return []
    found = sidecar_files(video, names, tags, published)
    order = [*READABLE, *UNREADABLE]

    def rank(name: str) -> tuple[int, int, str]:
        suffix = Path(name).suffix.lower()
        return (order.index(suffix) if suffix in order else len(order), name.count("."), name)

    return [video.parent / name for name in sorted(found, key=rank)]


def read_video_subtitles(
    video: str,
    out: str,
    language: str,
    mode: str = "subtitles",
    published: Callable[[Path], bool] = lambda path: False,
    expected: tuple[str, int | None] | None = None,
) -> None:
    """Write the transcript of ``video`` made from its own ``language`` subtitles.

    ``mode`` is transcribe.source (``subtitles`` by hand). SubtitleError when
    there are none to read (under ``subtitles``, the line says why), and when
    ``expected`` (the file, or "" and the track, the workflow planned with) is
    no longer what would be read.
    """
    started = time.time()
    source = choose_text(Path(video), language, "subtitles", published)
    for line in source.skipped:
        log.info("passed over: %s", line)
    planned = (source.path if source.kind == "file" else "", source.track)
    if source.kind == "speech" and mode == "subtitles":
        raise SubtitleError(missing_line(video, language, source.skipped))
    if source.kind == "speech" or (expected is not None and expected != planned):
        raise SubtitleError(f"{video}: its subtitles changed while the run went on; run again")
    text = read_text(source)
    run = Run("cpu", "", started, time.time(), host=socket.gethostname(), **step_memory())
    transcript = subtitle_transcript(text, source, language, media_duration(Path(video)), run)
    write_record(transcript, out)
    log.info("%d cues from %s", len(transcript.segments), describe(source))


def describe(source: TextSource) -> str:
    """One line for the QA and the summary: ``speech``, or the file or the track."""
    if source.kind == "file":
        return f"{source.path} ({source.format}, {source.encoding})"
    if source.kind == "track":
        return f"{source.path}, subtitle track {source.track} ({source.format})"
    return "speech"


def read_text(source: TextSource) -> SubtitleText:
    """The cues of a chosen file or track (SubtitleError when there are none to read)."""
    if source.kind == "file":
        try:
            data = Path(source.path).read_bytes()
        except OSError as exc:
            raise SubtitleError(f"{source.path}: cannot be read ({exc.strerror})") from None
        return read_subtitles(data, source.path)
    if source.kind == "track" and source.track is not None:
        return track_text(Path(source.path), source.track, source.format)
    raise ValueError(f"no subtitles to read in {source!r}")  # a bug in the caller


def track_text(video: Path, track: int, codec: str) -> SubtitleText:
    """The cues of a text subtitle track, through ffmpeg.

    ASS and SSA tracks come out as ASS, so their override codes and drawings
    are removed here the same way as in a file; any other text track (SubRip,
    WebVTT, mov_text) is converted to SRT, whose tags ffmpeg keeps and
    ``subtitle_formats`` removes.
    """
    from autokr.speech.media import ffmpeg_executable

    fmt = "ass" if codec in ("ass", "ssa") else "srt"
    where = f"{video}: subtitle track {track}"
    # "file:" keeps ffmpeg from reading a colon in a name as a protocol.
    args = [ffmpeg_executable(), "-nostdin", "-hide_banner", "-v", "error"]
    args += ["-i", f"file:{video}", "-map", f"0:s:{track}", "-f", fmt, "-"]
    done = subprocess.run(args, capture_output=True, timeout=3600)
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise SubtitleError(f"{where}: ffmpeg cannot read it ({lines[-1] if lines else 'failed'})")
    cues, _ = parse_text(done.stdout.decode("utf-8", errors="replace"), where)
    return SubtitleText(tuple(cues), codec, "UTF-8")


def subtitle_transcript(
    text: SubtitleText, source: TextSource, language: str, duration: float, run: Run
) -> Transcript:
    """A transcript of the same shape as Whisper's, one segment per cue, so that
    translation, layout and QA take it as they take speech."""
    lang = languages.language(language)
    spaced = languages.uses_spaces(lang.nllb) if lang.nllb else True
    segments = tuple(cue_segment(cue, spaced) for cue in text.cues)
    last = max((seg.end for seg in segments), default=0.0)
    return Transcript(
        language=lang.whisper or language,
        language_probability=1.0,
        duration=max(duration, last),
        segments=segments,
        settings={"source": "subtitles", "language": language},
        run=run,
        mode="subtitles",
        source=source,
    )


def cue_segment(cue: TextCue, spaced: bool) -> Segment:
    """A cue as a segment with its timing; its words are cut from its text and timed by
    character over the cue (flagged ``words_from_text``), for the sentence splitter.

    Words are space-separated words where the language uses spaces, else single
    characters. A cue's lines are joined as its language writes on: by a space,
    or directly in Japanese and Chinese, where a break only wraps the sentence.
    """
    text = (" " if spaced else "").join(cue.text.split("\n"))
    pieces = re.findall(r"\s*\S+" if spaced else r"\s*\S", text)
    weights = [len(piece.strip()) for piece in pieces]
    total = sum(weights) or 1
    start, end = cue.start, max(cue.end, cue.start)
    words, done = [], 0
    for piece, weight in zip(pieces, weights, strict=True):
        at = start + (end - start) * done / total
        done += weight
        words.append(Word(round(at, 3), round(start + (end - start) * done / total, 3), piece, 1.0))
    return Segment(start, end, text, 0.0, 0.0, 0.0, tuple(words), (WORDS_FROM_TEXT,))


def media_duration(video: Path) -> float:
    """The length of ``video`` in seconds as its container gives it; 0.0 where it does not."""
    import av

    try:
        with av.open(str(video), metadata_errors="ignore") as container:
            return round((container.duration or 0) / av.time_base, 3)
    except (av.FFmpegError, OSError):
        return 0.0


def missing_line(video: str, language: str, skipped: tuple[str, ...]) -> str:
    """Why ``transcribe.source: subtitles`` has nothing to read for ``video``: one line."""
    if skipped:
        more = f" (and {len(skipped) - 1} more, see the log)" if len(skipped) > 1 else ""
        return f"{skipped[0]}{more}; transcribe.source is subtitles"
    name = languages.language_name(language)
    return (
        f"{video}: no {name} text subtitles beside it or inside it; transcribe.source is "
        "subtitles (auto would transcribe its speech)"
    )


def speech_source(
    video: Path, language: str, mode: str, published: Callable[[Path], bool]
) -> TextSource:
    """What a transcript Whisper made records as its source: speech, with the subtitles
    passed over (broken files, pictures of text) and why."""
    found = choose_text(video, language, mode, published)
    if found.kind == "speech":
        return found
    # Found after the workflow chose to transcribe (added while it ran).
    late = f"{describe(found)}: appeared after the run started; the next run reads it"
    return TextSource(skipped=(*found.skipped, late))
