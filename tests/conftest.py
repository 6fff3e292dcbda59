"""Session fixtures: the real Whisper base model, the tiny NLLB model, test media.

Everything that costs time is built once and cached outside the repository
(``$AUTOKR_TEST_CACHE``, default ``~/.cache/autokr-tests``), keyed by what it
was built from, so a second test run starts in seconds.
"""

from __future__ import annotations

import json
import os
import sys
import wave
from pathlib import Path

import pytest

import assets
import speech

ROOT = Path(__file__).resolve().parents[1]
CACHE = assets.CACHE
# Models the tests convert for CTranslate2 stay with the other test fixtures
# (the workflow runs under test inherit this too).
os.environ["AUTOKR_CACHE"] = str(CACHE / "autokr")

#: The groups of sentences that make the test videos.
GROUPS = {
    "three": [ja for ja, _ in speech.PAIRS[0:3]],
    "two": [ja for ja, _ in speech.PAIRS[3:5]],
    "one": [ja for ja, _ in speech.PAIRS[5:6]],
}


@pytest.fixture(scope="session")
def whisper_model() -> Path:
    """OpenAI Whisper base for faster-whisper, joined from its two PyPI wheels."""
    return assets.whisper_base()


@pytest.fixture(scope="session")
def nllb_model() -> Path:
    """A tiny NLLB-architecture model trained to translate the test pairs exactly."""
    return assets.tiny_nllb_model()


@pytest.fixture(scope="session")
def media() -> dict[str, Path]:
    """Test media by name; ``spoken[name]`` tells where each sentence is heard."""
    return _media()[0]


@pytest.fixture(scope="session")
def spoken() -> dict[str, list[speech.Spoken]]:
    """For each speech group, the sentences and where they are heard."""
    return _media()[1]


_MEDIA: tuple[dict[str, Path], dict[str, list[speech.Spoken]]] | None = None


def _media():
    global _MEDIA
    if _MEDIA is None:
        key = [GROUPS, assets.source_hash("speech.py", "conftest.py")]
        folder = assets.cached("media", key, _build_media)
        timings = json.loads((folder / "spoken.json").read_text(encoding="utf-8"))
        spoken = {g: [speech.Spoken(**s) for s in items] for g, items in timings.items()}
        files = {p.name: p for p in folder.iterdir() if p.suffix not in {".json", ""}}
        _MEDIA = (files, spoken)
    return _MEDIA


def _build_media(folder: Path) -> None:
    import numpy as np

    timings = {}
    for group, sentences in GROUPS.items():
        wav = folder / f"{group}.wav"
        timings[group] = [s.__dict__ for s in speech.synthesize(sentences, wav)]
    silence = folder / "silence.wav"
    speech.write_wav(silence, np.zeros(speech.SAMPLE_RATE * 4))
    speech.mux_video(folder / "three.wav", folder / "three.mp4")
    speech.mux_video(folder / "two.wav", folder / "two.webm")
    speech.mux_video(folder / "one.wav", folder / "one.mkv")
    speech.mux_video(silence, folder / "silent.mp4")
    speech.write_wav(folder / "music.wav", speech.music())
    speech.mux_video(folder / "music.wav", folder / "music.mp4")
    noise = np.random.default_rng(0).normal(0, 0.05, speech.SAMPLE_RATE * 10)
    speech.write_wav(folder / "noise.wav", noise)
    speech.mux_video(folder / "one.wav", folder / "late.mp4", audio_delay=2.0)
    speech.mux_video(
        None,
        folder / "tracks.mkv",
        tracks=[(folder / "music.wav", "eng"), (folder / "three.wav", "jpn")],
    )
    speech.mux_video(None, folder / "noaudio.mp4", seconds=2)
    # Real voices: four speakers reading one after another, 0.8 s apart.
    timings["dialogue"] = [s.__dict__ for s in speech.join_recordings(folder / "dialogue.wav")]
    # Speech, three minutes of music, speech: the batched pipeline glues both
    # stretches of speech into one segment.
    rate = speech.SAMPLE_RATE
    said = folder / "one.wav"
    with wave.open(str(said)) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16) / 32768.0
    speech.write_wav(folder / "glued.wav", np.concatenate([samples, speech.music(180.0), samples]))
    later = len(samples) / rate + 180.0
    timings["glued"] = [
        *timings["one"],
        *({**s, "start": s["start"] + later, "end": s["end"] + later} for s in timings["one"]),
    ]
    (folder / "spoken.json").write_text(json.dumps(timings, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="session")
def python() -> str:
    """The interpreter the tests run under (the project's venv under `make test`)."""
    return sys.executable


#: Where the sentences of the one-hour test video are spoken, in minutes.
HOUR_SENTENCES = {5: 3, 30: 4, 55: 5}  # minute -> index in speech.PAIRS


@pytest.fixture(scope="session")
def hour_video() -> Path:
    """A one-hour video, silent but for three sentences (at 5, 30 and 55 minutes)."""
    key = [HOUR_SENTENCES, assets.source_hash("speech.py")]
    return assets.cached("hour", key, _build_hour) / "hour.mp4"


def _build_hour(folder: Path) -> None:
    import subprocess

    import numpy as np
    import pyopenjtalk

    from autokr.speech.media import ffmpeg_executable

    rate = 16000
    audio = np.zeros(rate * 3600, dtype=np.float32)
    for minute, pair in HOUR_SENTENCES.items():
        samples, _ = pyopenjtalk.tts(speech.PAIRS[pair][0])
        samples = samples[: len(samples) // 3 * 3].reshape(-1, 3).mean(axis=1) / 32768  # 48->16k
        audio[minute * 60 * rate : minute * 60 * rate + len(samples)] = samples
    speech.write_wav(folder / "hour.wav", audio, rate)
    args = [ffmpeg_executable(), "-nostdin", "-v", "error", "-y"]
    args += ["-f", "lavfi", "-i", "color=c=black:s=64x48:r=1", "-i", str(folder / "hour.wav")]
    args += ["-shortest", "-c:v", "libx264", "-c:a", "aac", "-b:a", "32k", "-pix_fmt", "yuv420p"]
    subprocess.run([*args, str(folder / "hour.mp4")], check=True)
    (folder / "hour.wav").unlink()
