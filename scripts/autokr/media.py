"""ffmpeg and PyAV: find the tools, probe a file, extract 16 kHz mono audio."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from autokr.errors import MediaError

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Probe:
    """What a media file holds, as far as autokr cares."""

    audio_streams: int
    duration: float | None
    frame_rate: float | None


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
            audio = [s for s in container.streams if s.type == "audio"]
            video = [s for s in container.streams if s.type == "video"]
            duration = container.duration / 1_000_000 if container.duration else None
            rate = float(video[0].average_rate) if video and video[0].average_rate else None
    except av.FFmpegError as exc:
        raise MediaError(f"{path}: not a readable video or audio file ({_short(exc)})") from None
    return Probe(audio_streams=len(audio), duration=duration, frame_rate=rate)


def extract_audio(video: str | os.PathLike, wav: str | os.PathLike) -> Probe:
    """Decode the first audio track of ``video`` to a 16 kHz mono WAV at ``wav``.

    Raises MediaError naming the file when it is empty, unreadable or silent
    of any audio stream. The WAV appears under its final name only when whole.
    """
    import ffmpeg

    video, wav = Path(video), Path(wav)
    info = probe(video)
    if info.audio_streams == 0:
        raise MediaError(f"{video}: no audio stream")
    wav.parent.mkdir(parents=True, exist_ok=True)
    tmp = wav.with_name(wav.name + ".tmp")
    # "file:" keeps ffmpeg from reading a colon in a name as a protocol; the
    # arguments go to ffmpeg as a list, never through a shell.
    stream = ffmpeg.input(f"file:{video}").output(
        f"file:{tmp}", map="0:a:0", ac=1, ar=SAMPLE_RATE, acodec="pcm_s16le", format="wav"
    )
    try:
        stream.global_args("-nostdin", "-hide_banner").overwrite_output().run(
            cmd=ffmpeg_executable(), capture_stdout=True, capture_stderr=True
        )
    except ffmpeg.Error as exc:
        tmp.unlink(missing_ok=True)
        raise MediaError(
            f"{video}: ffmpeg could not decode the audio ({_last_line(exc.stderr)})"
        ) from None
    os.replace(tmp, wav)
    return info


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
