import json
import subprocess

import pytest

from autokr import asr
from autokr.devices import Placement
from autokr.errors import ModelError
from autokr.records import read_transcript
from conftest import GROUPS, ROOT
from speech import kana_cer

CPU = Placement("cpu", "int8")


@pytest.fixture(scope="module")
def model(whisper_model):
    return asr.load_model(str(whisper_model), CPU, cpu_threads=2)


@pytest.fixture(scope="module")
def transcripts(model, media):
    options = asr.TranscribeOptions(model="base", language="ja", beam_size=1)
    return {group: asr.transcribe(model, media[f"{group}.wav"], options, CPU) for group in GROUPS}


@pytest.mark.parametrize("group", list(GROUPS))
def test_japanese_speech_is_transcribed_within_kana_cer(transcripts, group):
    transcript = transcripts[group]
    text = "".join(s.text for s in transcript.segments)
    assert kana_cer("".join(GROUPS[group]), text) <= 0.15, text
    assert transcript.language == "ja"


def test_segments_carry_words_and_the_decoders_signals(transcripts, spoken):
    transcript = transcripts["three"]
    assert len(transcript.segments) == len(spoken["three"])
    for segment, said in zip(transcript.segments, spoken["three"], strict=True):
        assert segment.words, segment
        assert segment.start == pytest.approx(said.start, abs=0.6)
        assert segment.end == pytest.approx(said.end, abs=0.6)
        assert 0 <= segment.no_speech_prob <= 1
        assert segment.avg_logprob < 0
        assert all(w.start <= w.end for w in segment.words)
    assert transcript.duration == pytest.approx(spoken["three"][-1].end + 2.5, abs=0.1)
    assert transcript.settings["vad"] is True
    assert transcript.settings["condition_on_previous_text"] is False
    assert (transcript.run.device, transcript.run.compute_type) == ("cpu", "int8")


def test_silence_gives_no_segments(model, media):
    options = asr.TranscribeOptions(model="base", language="ja", beam_size=1)
    assert asr.transcribe(model, media["silence.wav"], options, CPU).segments == ()


def test_by_hand_with_detected_language(whisper_model, media, tmp_path, python):
    out = tmp_path / "transcript.json"
    cmd = [python, ROOT / "scripts" / "transcribe.py", media["two.wav"], out]
    cmd += ["--model", whisper_model, "--language", "auto", "--beam-size", "1", "--device", "cpu"]
    subprocess.run(cmd, check=True, capture_output=True)
    transcript = read_transcript(out)
    assert transcript.language == "ja" and transcript.language_probability > 0.5
    assert transcript.settings["language"] is None
    assert (transcript.settings["device"], transcript.run.device) == ("cpu", "cpu")
    assert json.loads(out.read_text(encoding="utf-8"))["segments"][0]["text"]


def test_a_model_that_cannot_be_found_says_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelError) as caught:
        asr.load_model("large-v3", CPU, cpu_threads=1)
    message = str(caught.value)
    assert "'large-v3'" in message and "transcribe.model" in message
    assert "make models" in message and "local folder" in message


def test_a_folder_that_is_no_model_is_named(tmp_path):
    with pytest.raises(ModelError, match=f"{tmp_path}: not a faster-whisper model folder"):
        asr.load_model(str(tmp_path), CPU, cpu_threads=1)
