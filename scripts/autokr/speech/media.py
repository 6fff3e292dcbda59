"""ffmpeg and PyAV: find the tools, probe a file, extract 16 kHz mono audio."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from autokr.core.errors import MediaError
from autokr.core.memory import run_child
from autokr.core.switches import hold
from autokr.speech import mono_wav

SAMPLE_RATE = 16000
CHANGED = "changed while it was read (still being copied?); run again when it is complete"


@dataclass(frozen=True)
class AudioTrack:
    """One audio stream: its number among the audio streams, language tag and timing."""

    number: int
    language: str
    start: float
    duration: float | None
    codec: str = ""
    #: ffmpeg's name of the channel layout ("5.1(side)", "stereo") and its channels ("FC" ...).
    layout: str = ""
    channel_names: tuple[str, ...] = ()


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


def _track_facts(stream) -> tuple[str, float, float | None, str, str, tuple[str, ...]]:
    """Language tag, start, duration (seconds), codec and channels of an audio stream."""
    tags = {k.lower(): v for k, v in stream.metadata.items()}
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    duration = float(stream.duration * stream.time_base) if stream.duration else None
    if duration is None and "duration" in tags:  # Matroska keeps it as a tag
        h, m, sec = tags["duration"].split(":")
        duration = int(h) * 3600 + int(m) * 60 + float(sec)
    layout = stream.codec_context.layout
    names = tuple(channel.name for channel in layout.channels)
    codec = stream.codec_context.name or ""
    return tags.get("language", "").lower(), start, duration, codec, layout.name, names


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


#: What ``audio_channels`` may ask for.
CHANNEL_CHOICES = ("auto", "downmix", "center", "left", "right")
#: The channel each choice takes, by ffmpeg's channel names.
_CHANNEL = {"center": "FC", "left": "FL", "right": "FR"}
#: A stretch with no audio packets that is at least this long is a hole. It is
#: aresample's own threshold (min_hard_comp): shorter jitter is left as it is.
MIN_HOLE = 0.1
#: What ffmpeg says when an MPEG-TS clock jumps by more than 10 s (a spliced
#: recording, or a long drop-out): it closes the jump up.
_CLOCK_JUMP = b"timestamp discontinuity"


@dataclass(frozen=True)
class Extraction:
    """What ``extract_audio`` did: the track, its channels, and the holes it filled."""

    probe: Probe
    track: AudioTrack
    #: How the mono WAV was made, e.g. "center of 5.1(side)", "downmix of stereo".
    heard: str
    #: Stretches of the track's timeline with no audio packets (seconds on the
    #: video's clock), filled with silence so later speech keeps its time.
    holes: tuple[tuple[float, float], ...] = ()
    #: What the user should know about the channels or the clock, or "".
    note: str = ""


def extract_audio(
    video: str | os.PathLike,
    wav: str | os.PathLike,
    track: int | str = "auto",
    source_tags: frozenset[str] = frozenset(),
    channels: str = "auto",
) -> Extraction:
    """Decode one audio track of ``video`` to a 16 kHz mono WAV at ``wav``.

    The WAV follows the track's own timestamps on the video's clock: audio that
    starts later than the video is preceded by silence, holes in the timestamps
    are filled with silence where they are, and overlapping packets are trimmed.
    ``channels`` picks what becomes the mono signal (see ``choose_channels``).
    Raises MediaError naming the file when it is empty, unreadable, cut short,
    has no audio, or changes while it is read. The WAV appears under its final
    name only when whole.
    """
    video, wav = Path(video), Path(wav)
    before = _fingerprint(video)
    info = probe(video)
    if not info.audio:
        raise MediaError(f"{video}: no audio stream")
    chosen = choose_track(info, track, source_tags)
    take = choose_channels(chosen, channels, video)
    wav.parent.mkdir(parents=True, exist_ok=True)
    tmp = wav.with_name(wav.name + ".tmp")
    parts = Takes(*(wav.with_name(f"{wav.name}.{part}.tmp") for part in ("a", "b", "packets")))
    lead_in = max(chosen.start - info.start, 0.0)
    try:
        err = _decode(video, parts, chosen, take, fallback=channels == "auto" and take == "center")
        holes = _holes(parts.packets.read_text(encoding="utf-8", errors="replace"))
        problem = _truncation(err, parts.main, chosen)
        if problem is None and _fingerprint(video) != before:
            problem = CHANGED
        if problem:
            raise MediaError(f"{video}: {problem}")
        fallback = parts.fallback if parts.fallback.exists() else None
        mixed = mono_wav.assemble(tmp, parts.main, fallback, lead_in if lead_in >= 0.001 else 0)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        for part in parts:
            part.unlink(missing_ok=True)
    hold("extract_audio.written")
    os.replace(tmp, wav)
    heard = "mono" if len(chosen.channel_names) <= 1 else f"{take} of {chosen.layout}"
    return Extraction(info, chosen, heard, holes, _note(mixed, mono_wav.seconds(wav), err))


def _note(mixed: float, total: float, stderr: bytes) -> str:
    """What to tell of the channels mixed in for a silent centre, and of clock jumps."""
    notes = []
    if mixed >= 0.05:
        notes.append(
            f"the centre channel is silent for {mixed:.1f} s of {total:.1f} s: "
            "all channels mixed there"
        )
    jumps = (stderr or b"").count(_CLOCK_JUMP)
    if jumps:
        notes.append(
            f"the track's clock jumps {jumps} time(s) by over 10 s (a spliced recording, "
            "or a long drop-out): closed up, so cues after a drop-out may come early"
        )
    return "; ".join(notes)


def choose_channels(track: AudioTrack, wanted: str, video: Path) -> str:
    """Which channel(s) of ``track`` make the mono signal: downmix, center, left or right.

    ``auto`` takes the centre channel of a track that has one besides others
    (5.1, 7.1, 3.0 ...), where films keep the dialogue, and mixes all channels
    otherwise. A mono track is used as it is, whatever is asked.
    """
    if wanted not in CHANNEL_CHOICES:
        raise MediaError(f"audio_channels: {wanted!r} is not one of {', '.join(CHANNEL_CHOICES)}")
    if len(track.channel_names) <= 1:
        return "downmix"
    if wanted == "auto":
        return "center" if "FC" in track.channel_names else "downmix"
    if wanted != "downmix" and _CHANNEL[wanted] not in track.channel_names:
        raise MediaError(
            f"{video}: audio_channels is {wanted}, but audio track {track.number} "
            f"({track.layout}) has no {wanted} channel"
        )
    return wanted


class Takes(NamedTuple):
    """The files one ffmpeg run writes: the chosen channels, all channels mixed
    (where a silent centre falls back to them), and the track's packet list."""

    main: Path
    fallback: Path
    packets: Path


def _decode(video: Path, parts: Takes, track: AudioTrack, take: str, fallback: bool) -> bytes:
    """Run ffmpeg once over the file; return what it said."""
    done = run_child(decode_args(video, parts, track, take, fallback))
    if done.returncode != 0:
        raise MediaError(f"{video}: ffmpeg could not decode the audio ({_last_line(done.stderr)})")
    return done.stderr


def decode_args(
    video: Path, parts: Takes, track: AudioTrack, take: str, fallback: bool
) -> list[str]:
    """extract_audio's ffmpeg command: ``take`` of ``track`` to ``parts.main`` (and all
    channels mixed to ``parts.fallback``), its packets (``framecrc``) to ``parts.packets``."""
    args = [ffmpeg_executable(), "-nostdin", "-hide_banner", "-v", "warning", "-y"]
    if track.codec == "aac":
        # A Japanese bilingual broadcast's dual-mono AAC (which its MPEG-TS
        # marks): the decoder puts the main language on both channels, or the
        # second one where the right channel is asked for. Stereo AAC decodes
        # as it is.
        args += ["-dual_mono_mode", "sub" if take == "right" else "main"]
    # "file:" keeps ffmpeg from reading a colon in a name as a protocol; the
    # arguments go to ffmpeg as a list, never through a shell.
    args += ["-i", f"file:{video}"]
    # async=1 fills holes with silence and trims overlaps. Where the track
    # starts is added afterwards (mono_wav): ffmpeg rebuilds its filters when
    # the channel layout changes (5.1 film, stereo advert), and first_pts or
    # adelay would then pad from the start again.
    resample = f"aresample={SAMPLE_RATE}:async=1"
    pan = f"pan=mono|c0={_CHANNEL[take]}," if take in _CHANNEL else ""
    wav = ["-ac", "1", "-ar", str(SAMPLE_RATE), "-acodec", "pcm_s16le", "-f", "wav"]
    source = f"[0:a:{track.number}]"
    if fallback:
        graph = f"{source}asplit=2[x][y];[x]{pan}{resample}[main];[y]{resample}[mixed]"
        args += ["-filter_complex", graph, "-map", "[main]", *wav, f"file:{parts.main}"]
        args += ["-map", "[mixed]", *wav, f"file:{parts.fallback}"]
    else:
        args += ["-map", source.strip("[]"), "-af", f"{pan}{resample}", *wav, f"file:{parts.main}"]
    args += ["-map", f"0:a:{track.number}", "-c", "copy", "-f", "framecrc"]
    return [*args, f"file:{parts.packets}"]


def _holes(framecrc: str) -> tuple[tuple[float, float], ...]:
    """Stretches between packets of ffmpeg's ``framecrc`` listing, as (start, end) seconds."""
    tb, holes, end = 1.0, [], None
    for line in framecrc.splitlines():
        if line.startswith("#tb 0:"):
            num, den = line.split(":", 1)[1].strip().split("/")
            tb = int(num) / int(den)
        if line.startswith("#") or not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        pts, duration = int(fields[2]) * tb, int(fields[3]) * tb
        if end is not None and pts - end >= MIN_HOLE:
            holes.append((round(end, 3), round(pts, 3)))
        # An overlapping packet (trimmed by aresample) never moves the end back.
        end = pts + duration if end is None else max(end, pts + duration)
    return tuple(holes)


def _fingerprint(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        raise MediaError(f"{path}: file not found") from None
    return stat.st_size, stat.st_mtime_ns


def _truncation(stderr: bytes, wav: Path, track: AudioTrack) -> str | None:
    """Why the decoded audio is not the whole track, or None.

    Holes are filled with silence, so a WAV shorter than the track means its
    data really ends early; the slack allows for durations a container only
    estimates (MPEG-TS, VBR audio).
    """
    messages = (stderr or b"").decode("utf-8", "replace")
    if "ended prematurely" in messages or "Truncat" in messages:
        return "file is cut short (truncated download?)"
    if track.duration:
        decoded = mono_wav.seconds(wav)
        if decoded < track.duration * 0.97 - 1.0:
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
