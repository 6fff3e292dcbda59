"""Known Japanese sentences, their Korean, and test media spoken from them.

pyopenjtalk speaks the sentences offline; ffmpeg (the one autokr itself finds)
muxes them into videos. The tiny NLLB fixture is trained on the same pairs, so
a test can tell which Korean line belongs under which stretch of speech.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autokr.speech.media import ffmpeg_executable

#: (Japanese, Korean) pairs the test model learns. Each is spoken on its own,
#: with long pauses between, so that VAD gives one segment per sentence.
PAIRS: list[tuple[str, str]] = [
    ("今日はとても良い天気ですね。", "오늘은 정말 날씨가 좋네요."),
    ("駅まで歩いて十分かかります。", "역까지 걸어서 십 분 걸립니다."),
    ("明日の朝、友達と映画を見に行きます。", "내일 아침에 친구와 영화를 보러 갑니다."),
    ("この本はとても面白かったです。", "이 책은 정말 재미있었어요."),
    ("私は毎朝コーヒーを飲みます。", "저는 매일 아침 커피를 마십니다."),
    ("週末は家族と海に行きました。", "주말에는 가족과 바다에 갔습니다."),
]
KOREAN = dict(PAIRS)

SAMPLE_RATE = 48000
LEAD_IN = 0.5  # seconds of silence before the first sentence
PAUSE = 2.5  # seconds between sentences: longer than the VAD's 2 s merge gap


@dataclass(frozen=True)
class Spoken:
    """A sentence placed in a recording: its text and where it is heard."""

    text: str
    start: float
    end: float


def synthesize(sentences: list[str], wav: Path) -> list[Spoken]:
    """Speak ``sentences`` into a 48 kHz mono WAV; return where each one is."""
    import pyopenjtalk

    chunks = [np.zeros(int(LEAD_IN * SAMPLE_RATE))]
    spoken, t = [], LEAD_IN
    for text in sentences:
        samples, rate = pyopenjtalk.tts(text)
        assert rate == SAMPLE_RATE
        spoken.append(Spoken(text, t, t + len(samples) / rate))
        chunks += [samples, np.zeros(int(PAUSE * SAMPLE_RATE))]
        t += len(samples) / rate + PAUSE
    write_wav(wav, np.concatenate(chunks) / 32768.0)
    return spoken


def music(seconds: float = 20.0, seed: int = 0) -> np.ndarray:
    """A tune with a beat: plucked chords and noise hits, no voice (48 kHz samples)."""
    rng = np.random.default_rng(seed)
    notes = [261.6, 329.6, 392.0, 523.3, 440.0, 349.2, 293.7, 246.9]
    t = np.arange(int(SAMPLE_RATE * 0.5)) / SAMPLE_RATE
    beats = []
    for i in range(int(seconds * 2)):
        f = notes[i % len(notes)]
        tone = sum(np.sin(2 * np.pi * f * k * t) / k for k in (1, 2, 3)) * np.exp(-3 * t)
        hit = rng.normal(0, 1, len(t)) * np.exp(-40 * t) * (i % 2 == 0)
        beats.append(0.25 * tone + 0.15 * hit)
    return np.concatenate(beats)


def write_wav(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write float samples in [-1, 1] as 16-bit PCM."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def mux_video(
    audio: Path | None,
    out: Path,
    seconds: float | None = None,
    audio_delay: float = 0.0,
    tracks: list[tuple[Path, str]] | None = None,
) -> None:
    """Make a small video (black frames, 24 fps) with ``audio``, or with no audio track.

    ``audio_delay`` starts the audio that many seconds after the video;
    ``tracks`` gives several audio tracks, each (file, language tag).
    """
    args = [ffmpeg_executable(), "-nostdin", "-loglevel", "error", "-y"]
    args += ["-f", "lavfi", "-i", "color=c=black:s=64x48:r=24"]
    if tracks:
        for path, _ in tracks:
            args += ["-i", str(path)]
        args += ["-map", "0:v", *[a for i in range(len(tracks)) for a in ("-map", f"{i + 1}:a")]]
        args += [
            a
            for i, (_, tag) in enumerate(tracks)
            for a in (f"-metadata:s:a:{i}", f"language={tag}")
        ]
        args += ["-shortest"]
    elif audio is not None:
        args += ["-itsoffset", str(audio_delay)] if audio_delay else []
        args += ["-i", str(audio), "-t" if audio_delay else "-shortest"]
        args += [str(audio_delay + 20)] if audio_delay else []
    else:
        args += ["-t", str(seconds or 3)]
    codecs = {
        ".webm": ["-c:v", "libvpx", "-c:a", "libopus"],
        ".mkv": ["-c:v", "libx264", "-c:a", "flac"],
    }.get(out.suffix, ["-c:v", "libx264", "-c:a", "aac"])
    if audio is None:
        codecs = [c for c in codecs[:2]]
    subprocess.run([*args, *codecs, "-pix_fmt", "yuv420p", f"file:{out}"], check=True)


#: Real recordings of Japanese read aloud (Common Voice, CC0; see the README there).
RECORDINGS = Path(__file__).resolve().parents[1] / "tests" / "data" / "speech"
#: Silence between two speakers in the joined recording, as in quick dialogue.
DIALOGUE_GAP = 0.8


def real_sentences() -> dict[str, str]:
    """Each recording's file name and the sentence its speaker read, in order."""
    import json

    return json.loads((RECORDINGS / "transcripts.json").read_text(encoding="utf-8"))


def join_recordings(wav: Path, gap: float = DIALOGUE_GAP) -> list[Spoken]:
    """The real recordings one after another with ``gap`` s between, as 16 kHz WAV."""
    from faster_whisper.audio import decode_audio

    rate = 16000
    chunks, spoken, t = [], [], 0.0
    for name, text in real_sentences().items():
        samples = decode_audio(str(RECORDINGS / name), sampling_rate=rate)
        if chunks:
            chunks.append(np.zeros(int(gap * rate), dtype=np.float32))
            t += gap
        spoken.append(Spoken(text, round(t, 3), round(t + len(samples) / rate, 3)))
        chunks.append(samples)
        t += len(samples) / rate
    write_wav(wav, np.concatenate(chunks), rate)
    return spoken


_PUNCT = re.compile(r"[\s\W]+")


def kana(text: str) -> str:
    """Katakana reading of Japanese text, punctuation and spaces removed."""
    import pyopenjtalk

    reading = pyopenjtalk.g2p(unicodedata.normalize("NFKC", text), kana=True)
    return _PUNCT.sub("", reading)


def kana_cer(reference: str, hypothesis: str) -> float:
    """Character error rate over katakana readings: edit distance / reference length."""
    ref, hyp = kana(reference), kana(hypothesis)
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1] / max(len(ref), 1)
