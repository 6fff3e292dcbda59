import json
import random
import shutil
import subprocess
import threading
import time
import wave

import numpy as np
import pytest

from autokr.core.errors import MediaError
from autokr.speech.media import SAMPLE_RATE, extract_audio, probe
from conftest import ROOT


def first_sound(path) -> float:
    """Seconds until the first clearly audible sample."""
    with wave.open(str(path)) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        return float(np.argmax(np.abs(samples) > 1000) / w.getframerate())


def wav_info(path):
    with wave.open(str(path)) as w:
        return w.getframerate(), w.getnchannels(), w.getnframes() / w.getframerate()


@pytest.mark.parametrize("name", ["three.mp4", "two.webm", "one.mkv"])
def test_video_becomes_16k_mono_wav_of_the_same_length(media, tmp_path, name):
    done = extract_audio(media[name], tmp_path / "audio.wav")
    info, track = done.probe, done.track
    rate, channels, seconds = wav_info(tmp_path / "audio.wav")
    assert (rate, channels) == (SAMPLE_RATE, 1)
    spoken_seconds = wav_info(media[name.split(".")[0] + ".wav"])[2]
    assert seconds == pytest.approx(spoken_seconds, abs=0.05)
    assert info.frame_rate == pytest.approx(24)
    assert (track.number, info.audio_streams) == (0, 1)
    assert not (tmp_path / "audio.wav.tmp").exists()


def test_probe_reads_audio_only_files(media):
    info = probe(media["three.wav"])
    assert info.audio_streams == 1 and info.frame_rate is None


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (b"", "file is empty (0 bytes)"),
        (random.Random(0).randbytes(4096), "not a readable video or audio file"),
    ],
)
def test_broken_input_names_the_file_and_the_cause(tmp_path, content, cause):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(MediaError) as caught:
        extract_audio(bad, tmp_path / "out.wav")
    assert str(caught.value).startswith(f"{bad}: {cause}")
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("name", ["three.mp4", "two.webm", "one.mkv"])
def test_truncated_file_fails_with_its_name(media, tmp_path, name):
    data = media[name].read_bytes()
    cut = tmp_path / f"cut{media[name].suffix}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(MediaError) as caught:
        extract_audio(cut, tmp_path / "out.wav")
    assert str(caught.value).startswith(f"{cut}: ")
    assert "cut short" in str(caught.value) or "not a readable" in str(caught.value)
    assert not (tmp_path / "out.wav").exists() and not (tmp_path / "out.wav.tmp").exists()


def test_the_track_tagged_with_the_source_language_is_chosen(media, tmp_path):
    done = extract_audio(media["tracks.mkv"], tmp_path / "a.wav", "auto", frozenset({"jpn"}))
    info, track = done.probe, done.track
    assert [t.language for t in info.audio] == ["eng", "jpn"]
    assert track.number == 1
    assert wav_info(tmp_path / "a.wav")[2] == pytest.approx(
        wav_info(media["three.wav"])[2], abs=0.1
    )
    first = extract_audio(media["tracks.mkv"], tmp_path / "b.wav", "auto", frozenset()).track
    assert first.number == 0
    chosen = extract_audio(media["tracks.mkv"], tmp_path / "c.wav", 0, frozenset({"jpn"})).track
    assert chosen.number == 0
    with pytest.raises(MediaError, match="audio_track 5 asked for, but there are 2"):
        extract_audio(media["tracks.mkv"], tmp_path / "d.wav", 5)


def test_audio_that_starts_late_keeps_the_video_timeline(media, tmp_path):
    done = extract_audio(media["late.mp4"], tmp_path / "a.wav")
    info, track = done.probe, done.track
    assert track.start - info.start == pytest.approx(2.0, abs=0.05)
    spoken = first_sound(media["one.wav"])
    assert first_sound(tmp_path / "a.wav") == pytest.approx(spoken + 2.0, abs=0.05)


def test_a_file_that_changes_while_read_fails_and_leaves_nothing(media, tmp_path):
    video = tmp_path / "copying.mkv"
    shutil.copy(media["one.mkv"], video)
    tmp = tmp_path / "a.wav.a.tmp"  # what ffmpeg writes while it reads the video

    def keep_copying():
        deadline = time.time() + 20
        while not tmp.exists() and time.time() < deadline:
            time.sleep(0.001)
        with open(video, "ab") as f:
            f.write(b"\0" * 1024)

    writer = threading.Thread(target=keep_copying)
    writer.start()
    try:
        with pytest.raises(MediaError, match="changed while it was read"):
            extract_audio(video, tmp_path / "a.wav")
    finally:
        writer.join()
    assert not (tmp_path / "a.wav").exists()
    assert list(tmp_path.glob("a.wav*")) == []  # no part left behind


def test_video_without_audio(media, tmp_path):
    with pytest.raises(MediaError, match="no audio stream"):
        extract_audio(media["noaudio.mp4"], tmp_path / "out.wav")


def test_awkward_names_reach_ffmpeg_intact(media, tmp_path):
    # A colon would read as a protocol, a leading dash as an option, $() as a command.
    video = tmp_path / "-x: it's $(touch PWNED) & co.mp4"
    shutil.copy(media["one.mkv"], video)
    extract_audio(video, tmp_path / "a: b.wav")
    assert wav_info(tmp_path / "a: b.wav")[0] == SAMPLE_RATE
    assert not list(tmp_path.rglob("PWNED")) and not (ROOT / "PWNED").exists()


def test_by_hand_missing_file_is_one_line(tmp_path, python):
    cmd = [python, ROOT / "scripts" / "extract_audio.py", tmp_path / "nope.mp4", tmp_path / "o.wav"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 1
    assert f"autokr: {tmp_path / 'nope.mp4'}: no such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_by_hand_failure_is_one_line_and_exit_1(tmp_path, python):
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(b"")
    cmd = [python, ROOT / "scripts" / "extract_audio.py", bad, tmp_path / "o.wav"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 1
    assert f"autokr: {bad}: file is empty (0 bytes)" in result.stderr.splitlines()
    assert "Traceback" not in result.stderr


def test_by_hand_the_audio_track_option_is_used(media, tmp_path, python):
    # tracks.mkv: English music first, Japanese speech second. auto would pick
    # the Japanese one; the option asks for the first.
    out, record = tmp_path / "a.wav", tmp_path / "media.json"
    cmd = [python, ROOT / "scripts" / "extract_audio.py", media["tracks.mkv"], out]
    subprocess.run([*cmd, "--media", record, "--audio-track", "0"], check=True)
    assert json.loads(record.read_text(encoding="utf-8"))["audio_track"] == 0
    subprocess.run([*cmd, "--media", record, "--source-language", "ja"], check=True)
    assert json.loads(record.read_text(encoding="utf-8"))["audio_track"] == 1
