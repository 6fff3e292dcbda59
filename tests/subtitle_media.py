"""Test videos with subtitles of their own: text tracks (SRT, ASS) and a picture track (PGS).

The speech in them is one of the test recordings (``media``); the subtitles
say other sentences of ``speech.PAIRS``, so a test can tell whether a
transcript came from the subtitles or from the speech. Built once with the
ffmpeg autokr finds, and cached (``assets.cached``).
"""

from __future__ import annotations

import struct
import subprocess
import wave
from pathlib import Path

import srt

import assets
from autokr.speech.media import ffmpeg_executable
from speech import PAIRS

#: Sentences of the subtitle tracks: none of them is spoken in one.wav (PAIRS[5]).
SRT_TRACK = [PAIRS[0][0]]
ASS_TRACK = [PAIRS[1][0], PAIRS[2][0]]
#: A Comment event: in the script, never shown, so never read.
ASS_COMMENT = PAIRS[4][0]


def srt_text(lines: list[str], start: float = 1.0, step: float = 3.0) -> str:
    """An SRT file with one cue per line, ``step`` seconds apart, each 2.5 s long."""
    from datetime import timedelta

    cues = [
        srt.Subtitle(
            i + 1,
            timedelta(seconds=start + i * step),
            timedelta(seconds=start + i * step + 2.5),
            line,
        )
        for i, line in enumerate(lines)
    ]
    return srt.compose(cues)


def ass_script(sentences: list[str]) -> str:
    """An ASS script saying ``sentences`` through override codes, a line break and a
    drawing, with a Comment event that a player never shows."""
    first, second = sentences
    cut = second.index("、") + 1
    return "\n".join(
        [
            "[Script Info]",
            "ScriptType: v4.00+",
            "PlayResX: 640",
            "PlayResY: 360",
            "",
            "[V4+ Styles]",
            "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
            "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
            "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
            "Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,"
            "100,100,0,0,1,1,0,2,10,10,10,1",
            "",
            "[Events]",
            "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
            f"Dialogue: 0,0:00:00.50,0:00:02.50,Default,,0,0,0,,{{\\an8}}{{\\i1}}{first}{{\\i0}}",
            "Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,{\\p1}m 0 0 l 100 0 100 100{\\p0}",
            f"Comment: 0,0:00:03.00,0:00:04.00,Default,,0,0,0,,{ASS_COMMENT}",
            f"Dialogue: 0,0:00:03.00,0:00:05.50,Default,Sato,0,0,0,,{{\\fad(200,200)}}"
            f"{{\\c&H00FFFF&}}{second[:cut]}\\N{{\\b1}}{second[cut:]}{{\\b0}}",
            "",
        ]
    )


def pgs_stream() -> bytes:
    """A PGS (Blu-ray) subtitle stream with one picture shown from 1 s to 3 s: a small
    block of one colour, which is all a picture track needs to be one."""

    def segment(pts: float, kind: int, data: bytes) -> bytes:
        ticks = int(pts * 90000)
        return b"PG" + struct.pack(">IIBH", ticks, ticks, kind, len(data)) + data

    width, height = 8, 2
    rle = (b"\x01" * width + b"\x00\x00") * height

    def display(pts: float, shown: bool, number: int) -> bytes:
        objects = struct.pack(">HBBHH", 0, 0, 0, 10, 10) if shown else b""
        pcs = struct.pack(">HHBHBBBB", 64, 48, 0x10, number, 0x80, 0, 0, int(shown)) + objects
        wds = struct.pack(">BBHHHH", 1, 0, 10, 10, width, height)
        out = segment(pts, 0x16, pcs) + segment(pts, 0x17, wds)
        if shown:
            out += segment(pts, 0x14, struct.pack(">BB", 0, 0) + bytes([1, 235, 128, 128, 255]))
            size = len(rle) + 4
            ods = struct.pack(">HBB", 0, 0, 0xC0) + size.to_bytes(3, "big")
            out += segment(pts, 0x15, ods + struct.pack(">HH", width, height) + rle)
        return out + segment(pts, 0x80, b"")

    return display(1.0, True, 0) + display(3.0, False, 1)


def mux_subtitled(audio: Path, out: Path, tracks: list[tuple[Path, str, str]]) -> None:
    """A small video (black frames) with ``audio`` and subtitle ``tracks``, each
    (file, codec to write: srt, ass or copy, language tag)."""
    args = [ffmpeg_executable(), "-nostdin", "-loglevel", "error", "-y"]
    args += ["-f", "lavfi", "-i", "color=c=black:s=64x48:r=24", "-i", str(audio)]
    for path, _, _ in tracks:
        args += ["-i", str(path)]
    args += ["-map", "0:v", "-map", "1:a"]
    args += [a for i in range(len(tracks)) for a in ("-map", f"{i + 2}:s")]
    for i, (_, codec, tag) in enumerate(tracks):
        args += [f"-c:s:{i}", codec, f"-metadata:s:s:{i}", f"language={tag}"]
    # The audio's length, not -shortest, which drops subtitle events near the end.
    with wave.open(str(audio)) as w:
        seconds = w.getnframes() / w.getframerate()
    args += ["-t", f"{seconds:.3f}", "-c:v", "libx264", "-c:a", "flac", "-pix_fmt", "yuv420p"]
    subprocess.run([*args, f"file:{out}"], check=True)


def subtitled_videos(media: dict[str, Path]) -> dict[str, Path]:
    """The test videos with subtitle tracks, by name (built once, cached)."""
    key = ["subtitled", assets.source_hash("subtitle_media.py"), media["one.wav"].parent.name]
    folder = assets.cached("subtitled", key, lambda f: _build(f, media["one.wav"]))
    return {p.name: p for p in folder.iterdir() if p.suffix == ".mkv"}


def _build(folder: Path, audio: Path) -> None:
    english = folder / "eng.srt"
    english.write_text(srt_text(["Hello there."]), encoding="utf-8")
    japanese = folder / "jpn.srt"
    japanese.write_text(srt_text([f"<i>{SRT_TRACK[0]}</i>"]), encoding="utf-8")
    script = folder / "jpn.ass"
    script.write_text(ass_script(ASS_TRACK), encoding="utf-8")
    pictures = folder / "jpn.sup"
    pictures.write_bytes(pgs_stream())
    srt_tracks = [(english, "srt", "eng"), (japanese, "srt", "jpn")]
    mux_subtitled(audio, folder / "srt-track.mkv", srt_tracks)
    mux_subtitled(audio, folder / "ass-track.mkv", [(script, "ass", "jpn")])
    mux_subtitled(audio, folder / "pgs-track.mkv", [(pictures, "copy", "jpn")])
