"""Test media as recordings and rips come: timestamp holes, surround and bilingual tracks.

Everything is built from the real recordings in ``data/speech`` (CC0; see
its README) with the ffmpeg autokr itself finds:

- ``gapped``: the four speakers one after another, with a long silence after
  the second, where a drop-out can take packets away without cutting a word;
- ``clean.mkv`` / ``hole.mkv``: it as AAC in Matroska, and the same file with
  the packets of 3 s removed (ffmpeg's ``noise`` bitstream filter, ``drop``);
- ``clean.ts`` / ``hole.ts``: likewise in MPEG-TS, with an 8 s drop-out;
- ``late.mp4`` / ``early.mp4``: audio starting 1.5 s after / 0.5 s before the video;
- ``surround51.mkv``, ``surround71.mkv``: dialogue on the centre channel, music
  on the front pair and noise on the others, each as loud as a film mixes them;
  ``silentcentre.mkv``: 5.1 with the dialogue on the front pair, the centre silent;
- ``bilingual.ts``: a stereo AAC track with other speakers on each side;
- ``spliced.ts``: a 5.1 recording and a stereo one joined, the clock starting again.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

import assets
import speech
from autokr.speech.media import ffmpeg_executable

RATE = 16000
#: Silence after the second speaker, long enough for the widest drop-out.
LONG_GAP = 9.0
#: Drop-outs (start, end) in seconds, inside the long silence.
HOLES = {"hole.mkv": (14.0, 17.0), "hole.ts": (13.6, 21.6)}
LATE, EARLY = 1.5, 0.5


def build_all() -> Path:
    """The cached folder of every file above, with ``spoken.json`` (where each sentence is)."""
    key = [speech.real_sentences(), assets.source_hash("broadcast.py")]
    return assets.cached("broadcast", key, _build)


def spoken(folder: Path) -> dict[str, list[speech.Spoken]]:
    """For ``gapped`` and ``dialogue``, the sentences and where they are heard."""
    data = json.loads((folder / "spoken.json").read_text(encoding="utf-8"))
    return {name: [speech.Spoken(**s) for s in items] for name, items in data.items()}


def _build(folder: Path) -> None:
    recordings = _recordings()
    gapped, said = _join(recordings, [speech.DIALOGUE_GAP, LONG_GAP, speech.DIALOGUE_GAP])
    dialogue, talk = _join(recordings, [speech.DIALOGUE_GAP] * 3)
    _encode(folder / "clean.mkv", [gapped], [])
    _encode(folder / "clean.ts", [gapped], ["-f", "mpegts"])
    for name, (start, end) in HOLES.items():
        source = folder / name.replace("hole", "clean")
        drop = f"noise=drop=between(pts*tb\\,{start}\\,{end})"
        fmt = ["-f", "mpegts"] if name.endswith(".ts") else []
        _ffmpeg(["-i", source, "-map", "0", "-c", "copy", "-bsf:a", drop, *fmt, folder / name])
    _encode(folder / "late.mp4", [gapped], [], audio_offset=LATE)
    _encode(folder / "early.mp4", [gapped], [], audio_offset=-EARLY)
    rng = np.random.default_rng(1)
    n = len(dialogue)
    music = np.resize(speech.music(n / RATE + 1)[:: speech.SAMPLE_RATE // RATE], n) * 0.6
    noise = [rng.normal(0, 0.03, n).astype(np.float32) for _ in range(7)]
    # ffmpeg's channel order: FL FR FC LFE BL BR (SL SR).
    _encode(folder / "surround51.mkv", [music, music, dialogue, *noise[:3]], [], "5.1")
    _encode(folder / "surround71.mkv", [music, music, dialogue, *noise[:5]], [], "7.1")
    # A 5.1 track whose centre is silent: the dialogue is on the front pair.
    quiet = np.zeros(n, dtype=np.float32)
    _encode(folder / "silentcentre.mkv", [dialogue, dialogue, quiet, quiet, *noise[:2]], [], "5.1")
    _splice(folder, dialogue, noise)
    half = len(recordings) // 2
    left, _ = _join(recordings[:half], [speech.DIALOGUE_GAP])
    right, _ = _join(recordings[half:], [speech.DIALOGUE_GAP])
    width = max(len(left), len(right))
    sides = [np.pad(side, (0, width - len(side))) for side in (left, right)]
    _encode(folder / "bilingual.ts", sides, ["-f", "mpegts"], "stereo")
    (folder / "spoken.json").write_text(
        json.dumps(
            {"gapped": [s.__dict__ for s in said], "dialogue": [s.__dict__ for s in talk]},
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )


def _splice(folder: Path, dialogue: np.ndarray, noise: list[np.ndarray]) -> None:
    """``spliced.ts``: two MPEG-TS recordings joined byte for byte (``cat``), as people
    join the parts of a broadcast: 15 s of 5.1 (the first speakers on the centre),
    then stereo (the dialogue on both sides); the second part's clock starts again."""
    first = dialogue[: 15 * RATE]
    quiet = noise[0][: len(first)]
    _encode(
        folder / "part1.ts", [quiet, quiet, first, quiet, quiet, quiet], ["-f", "mpegts"], "5.1"
    )
    second = dialogue[15 * RATE :]
    _encode(folder / "part2.ts", [second, second], ["-f", "mpegts"], "stereo")
    with open(folder / "spliced.ts", "wb") as out:
        for part in ("part1.ts", "part2.ts"):
            out.write((folder / part).read_bytes())
            (folder / part).unlink()


def _recordings() -> list[tuple[str, np.ndarray]]:
    from faster_whisper.audio import decode_audio

    return [
        (text, decode_audio(str(speech.RECORDINGS / name), sampling_rate=RATE))
        for name, text in speech.real_sentences().items()
    ]


def _join(
    recordings: list[tuple[str, np.ndarray]], gaps: list[float]
) -> tuple[np.ndarray, list[speech.Spoken]]:
    """The recordings one after another, ``gaps[i]`` seconds after the i-th."""
    chunks, said, t = [], [], 0.0
    for i, (text, samples) in enumerate(recordings):
        if i:
            chunks.append(np.zeros(int(gaps[i - 1] * RATE), dtype=np.float32))
            t += gaps[i - 1]
        said.append(speech.Spoken(text, round(t, 3), round(t + len(samples) / RATE, 3)))
        chunks.append(samples)
        t += len(samples) / RATE
    return np.concatenate(chunks), said


def _encode(
    out: Path,
    channels: list[np.ndarray],
    fmt: list[str],
    layout: str = "mono",
    audio_offset: float = 0.0,
) -> None:
    """A small video (black frames, 24 fps) with ``channels`` as one AAC track."""
    pcm = np.clip(np.stack(channels, axis=1), -1, 1)
    raw, track = out.with_suffix(".pcm"), out.with_suffix(".track.mka")
    raw.write_bytes((pcm * 32767).astype("<i2").tobytes())
    pcm_in = ["-f", "s16le", "-ar", str(RATE), "-ch_layout", layout, "-i", raw]
    # 64 kb/s a channel, as releases encode surround (384 kb/s for 5.1).
    _ffmpeg([*pcm_in, "-c:a", "aac", "-b:a", f"{64 * len(channels)}k", track])
    seconds = len(pcm) / RATE
    video = ["-f", "lavfi", "-i", f"color=c=black:s=64x48:r=24:d={seconds:.3f}"]
    audio = ["-i", track]
    # -itsoffset shifts the input after it: the audio for a late start, the
    # video (so that the audio comes first) for an early one.
    if audio_offset > 0:
        audio = ["-itsoffset", str(audio_offset), *audio]
    elif audio_offset < 0:
        video = ["-itsoffset", str(-audio_offset), *video]
    codecs = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "copy"]
    _ffmpeg([*video, *audio, "-map", "0:v", "-map", "1:a", *codecs, *fmt, out])
    raw.unlink()
    track.unlink()


def _ffmpeg(args: list) -> None:
    command = [ffmpeg_executable(), "-nostdin", "-v", "error", "-y", *map(str, args)]
    subprocess.run(command, check=True)
