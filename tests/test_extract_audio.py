import os
import shutil
import subprocess
import wave

import pytest

from autokr.errors import MediaError
from autokr.media import SAMPLE_RATE, extract_audio, probe
from conftest import ROOT


def wav_info(path):
    with wave.open(str(path)) as w:
        return w.getframerate(), w.getnchannels(), w.getnframes() / w.getframerate()


@pytest.mark.parametrize("name", ["three.mp4", "two.webm", "one.mkv"])
def test_video_becomes_16k_mono_wav_of_the_same_length(media, tmp_path, name):
    info = extract_audio(media[name], tmp_path / "audio.wav")
    rate, channels, seconds = wav_info(tmp_path / "audio.wav")
    assert (rate, channels) == (SAMPLE_RATE, 1)
    spoken_seconds = wav_info(media[name.split(".")[0] + ".wav"])[2]
    assert seconds == pytest.approx(spoken_seconds, abs=0.05)
    assert info.frame_rate == pytest.approx(24)
    assert not (tmp_path / "audio.wav.tmp").exists()


def test_probe_reads_audio_only_files(media):
    info = probe(media["three.wav"])
    assert info.audio_streams == 1 and info.frame_rate is None


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (b"", "file is empty (0 bytes)"),
        (os.urandom(4096), "not a readable video or audio file"),
    ],
)
def test_broken_input_names_the_file_and_the_cause(tmp_path, content, cause):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(MediaError) as caught:
        extract_audio(bad, tmp_path / "out.wav")
    assert str(caught.value).startswith(f"{bad}: {cause}")
    assert not (tmp_path / "out.wav").exists()


def test_truncated_video_fails_or_gives_whole_wav(media, tmp_path):
    data = media["three.mp4"].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    try:
        extract_audio(cut, tmp_path / "out.wav")
    except MediaError as exc:
        assert str(exc).startswith(str(cut))
    else:
        wav_info(tmp_path / "out.wav")  # whatever was decodable, as a valid WAV


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


def test_by_hand_failure_is_one_line_and_exit_1(tmp_path, python):
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(b"")
    cmd = [python, ROOT / "scripts" / "extract_audio.py", bad, tmp_path / "o.wav"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 1
    assert f"autokr: {bad}: file is empty (0 bytes)" in result.stderr.splitlines()
    assert "Traceback" not in result.stderr
