"""ffmpeg and PyAV: find the tools, probe a file, extract 16 kHz mono audio."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from autokr.errors import MediaError
from autokr.memory import run_child
from autokr.switches import hold

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class AudioTrack:
    """One audio stream: its number among the audio streams, language tag and timing."""

    number: int
    language: str
    start: float
    duration: float | None


@dataclass(frozen=True)
class Probe:
    """What a media file holds, as far as autokr cares."""

    audio: tuple[AudioTrack, ...]
    duration: float | None
    frame_rate: float | None
    start: float = 0.0

    @property
    def audio_streams(self) -> int:
        return len(self.audio)


def ffmpeg_executable() -> str:
    """``ffmpeg`` from PATH, else the binary shipped in the imageio-ffmpeg wheel."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        raise MediaError(
            "ffmpeg not found: install it (apt-get install ffmpeg) or pip install imageio-ffmpeg"
        ) from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def probe(path: str | os.PathLike) -> Probe:
    """Read a file's streams with PyAV (the imageio-ffmpeg wheel has no ffprobe)."""
    import av

    path = Path(path)
    _check_readable(path)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            audio = tuple(
                AudioTrack(n, *_track_facts(stream))
                for n, stream in enumerate(s for s in container.streams if s.type == "audio")
            )
            video = [s for s in container.streams if s.type == "video"]
            duration = container.duration / 1_000_000 if container.duration else None
            start = container.start_time / 1_000_000 if container.start_time else 0.0
            rate = float(video[0].average_rate) if video and video[0].average_rate else None
    except av.FFmpegError as exc:
        raise MediaError(f"{path}: not a readable video or audio file ({_short(exc)})") from None
    return Probe(audio=audio, duration=duration, frame_rate=rate, start=start)


def _track_facts(stream) -> tuple[str, float, float | None]:
    """Language tag, start and duration (seconds) of a stream, where the file says."""
    tags = {k.lower(): v for k, v in stream.metadata.items()}
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    duration = float(stream.duration * stream.time_base) if stream.duration else None
    if duration is None and "duration" in tags:  # Matroska keeps it as a tag
        h, m, sec = tags["duration"].split(":")
        duration = int(h) * 3600 + int(m) * 60 + float(sec)
    return tags.get("language", "").lower(), start, duration


def choose_track(info: Probe, wanted: int | str, source_tags: frozenset[str]) -> AudioTrack:
    """The audio track to transcribe.

    ``wanted`` is a track number (0 is the first audio track) or ``auto``: the
    first track tagged with the source language when tracks carry tags, else
    the first track.
    """
    if wanted == "auto":
        tagged = [t for t in info.audio if t.language in source_tags]
        return tagged[0] if tagged else info.audio[0]
    if not 0 <= int(wanted) < len(info.audio):
        raise MediaError(f"audio_track {wanted} asked for, but there are {len(info.audio)}")
    return info.audio[int(wanted)]


def extract_audio(
    video: str | os.PathLike,
    wav: str | os.PathLike,
    track: int | str = "auto",
    source_tags: frozenset[str] = frozenset(),
) -> tuple[Probe, AudioTrack]:
    """Decode one audio track of ``video`` to a 16 kHz mono WAV at ``wav``.

    The WAV follows the video's timeline: audio that starts later than the
    video is preceded by silence. Raises MediaError naming the file when it is
    empty, unreadable, cut short, has no audio, or changes while it is read.
    The WAV appears under its final name only when whole.
    """
    import ffmpeg

    video, wav = Path(video), Path(wav)
    before = _fingerprint(video)
    info = probe(video)
    if not info.audio:
        raise MediaError(f"{video}: no audio stream")
    chosen = choose_track(info, track, source_tags)
    offset = max(chosen.start - info.start, 0.0)
    wav.parent.mkdir(parents=True, exist_ok=True)
    tmp = wav.with_name(wav.name + ".tmp")
    # "file:" keeps ffmpeg from reading a colon in a name as a protocol; the
    # arguments go to ffmpeg as a list, never through a shell.
    audio = ffmpeg.input(f"file:{video}")[f"a:{chosen.number}"]
    if offset >= 0.001:
        audio = audio.filter("adelay", delays=f"{round(offset * 1000)}", all=1)
    stream = audio.output(
        f"file:{tmp}", ac=1, ar=SAMPLE_RATE, acodec="pcm_s16le", format="wav"
    ).global_args("-nostdin", "-hide_banner", "-v", "error")
    try:
        done = run_child(stream.overwrite_output().compile(cmd=ffmpeg_executable()))
        if done.returncode != 0:
            raise ffmpeg.Error("ffmpeg", done.stdout, done.stderr)
        err = done.stderr
    except ffmpeg.Error as exc:
        tmp.unlink(missing_ok=True)
        raise MediaError(
            f"{video}: ffmpeg could not decode the audio ({_last_line(exc.stderr)})"
        ) from None
    problem = _truncation(err, tmp, chosen, offset)
    if problem is None and _fingerprint(video) != before:
        problem = "changed while it was read (still being copied?); run again when it is complete"
    if problem:
        tmp.unlink(missing_ok=True)
        raise MediaError(f"{video}: {problem}")
    hold("extract_audio.written")
    os.replace(tmp, wav)
    return info, chosen


def _fingerprint(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        raise MediaError(f"{path}: file not found") from None
    return stat.st_size, stat.st_mtime_ns


def _truncation(stderr: bytes, wav: Path, track: AudioTrack, offset: float) -> str | None:
    """Why the decoded audio is not the whole track, or None."""
    messages = (stderr or b"").decode("utf-8", "replace")
    if "ended prematurely" in messages or "Truncat" in messages:
        return "file is cut short (truncated download?)"
    if track.duration:
        import wave

        with wave.open(str(wav)) as w:
            decoded = w.getnframes() / w.getframerate() - offset
        if decoded < track.duration * 0.9 - 1.0:
            return f"file is cut short: {decoded:.1f} s of {track.duration:.1f} s decoded"
    return None


def _check_readable(path: Path) -> None:
    if not path.is_file():
        raise MediaError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: file is empty (0 bytes)")


def _short(exc: Exception) -> str:
    # PyAV's message repeats the errno and the file name; strerror is the cause alone.
    return getattr(exc, "strerror", None) or type(exc).__name__


def _last_line(stderr: bytes | None) -> str:
    lines = (stderr or b"").decode("utf-8", "replace").strip().splitlines()
    return lines[-1].strip() if lines else "no message"
