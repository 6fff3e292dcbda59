"""bench/gpu.sh's CPU-side parts: the models it builds (scaled down), its table, no-GPU exit."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import gpu

#: The real shapes with small widths and depths: same vocabularies, mel bins, positions.
SCALE = {
    "whisper": {
        "d_model": 64,
        "encoder_layers": 2,
        "decoder_layers": 2,
        "encoder_attention_heads": 4,
        "decoder_attention_heads": 4,
        "encoder_ffn_dim": 128,
        "decoder_ffn_dim": 128,
    },
    "nllb": {
        "d_model": 32,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "encoder_attention_heads": 4,
        "decoder_attention_heads": 4,
        "encoder_ffn_dim": 64,
        "decoder_ffn_dim": 64,
    },
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("gpu-bench")
    assert gpu.main(["build", "--work", str(work), "--scale", json.dumps(SCALE)]) == 0
    return work


def test_whisper_of_large_v3_shape_loads_in_faster_whisper(built):
    import numpy as np
    from faster_whisper import WhisperModel

    folder = built / "whisper-large-v3-random"
    model = WhisperModel(str(folder), device="cpu", compute_type="int8")
    assert model.model.n_mels == 128
    assert model.model.num_languages == 100  # large-v3 adds Cantonese
    assert model.hf_tokenizer.get_vocab_size() == 51866
    assert model.hf_tokenizer.token_to_id("<|yue|>") == 50358
    assert model.hf_tokenizer.token_to_id("<|notimestamps|>") == 50364
    noise = np.random.default_rng(0).standard_normal(16000 * 3).astype("float32") * 0.1
    segments, info = model.transcribe(noise, language="ja", beam_size=1, temperature=0.0)
    list(segments)  # random weights write noise; decoding must still finish
    assert info.language == "ja"


def test_whisper_tokenizer_of_base_size_is_kept():
    base = json.loads(gpu._whisper_base_tokenizer().read_text("utf-8"))
    assert gpu.whisper_tokenizer(base, 51865)["added_tokens"] == base["added_tokens"]
    with pytest.raises(ValueError, match="51900"):
        gpu.whisper_tokenizer(base, 51900)


def test_nllb_of_real_vocabulary_loads_in_both_translate_backends(built, tmp_path, monkeypatch):
    from autokr.core.devices import Placement
    from autokr.translation import mt

    folder = built / "nllb-200-1.3B-random"
    config = json.loads((folder / "config.json").read_text())
    assert config["vocab_size"] == 256206 and config["model_type"] == "m2m_100"
    monkeypatch.setenv("AUTOKR_CACHE", str(tmp_path))
    for backend, compute in (("transformers", "float32"), ("ctranslate2", "int8")):
        options = mt.TranslateOptions(model=str(folder), backend=backend, max_length=8)
        # The CTranslate2 backend converts into AUTOKR_CACHE, as a step run by hand does.
        translator = mt.load_translator(options, Placement("cpu", compute), 1)
        out = translator.translate(["今日はいい天気です。"], "jpn_Jpan", "kor_Hang", 1)
        assert len(out) == 1


def sample(t: float, mb: float) -> gpu.Sample:
    return gpu.Sample(t, mb)


def test_table_gives_each_steps_peak_and_the_memory_between_steps(tmp_path):
    idle = 500.0
    samples = [sample(t / 10, idle) for t in range(0, 20)]  # 0-2 s idle
    samples += [sample(2 + t / 10, idle + 4000 + 10 * t) for t in range(0, 30)]  # 2-5 transcribe
    samples += [sample(5.05 + t / 10, idle + 3) for t in range(0, 5)]  # 5-5.5 gap, given back
    samples += [sample(5.6 + t / 10, idle + 2500) for t in range(0, 20)]  # 5.6-7.6 translate
    samples += [sample(7.7 + t / 10, idle) for t in range(0, 10)]  # after
    steps = [
        gpu.Step("transcribe", "clip1", 2.0, 4.95, 2, 4, 4300.0),
        gpu.Step("translation.ko", "clip1", 5.6, 7.6, 1, 16, 2500.0),
    ]
    report = gpu.RunReport("Plain run", steps, {"clip1": {"transcribe": 2}}, 0.0, 7.65, 0)
    assert gpu.baseline(samples, 0, 2.0) == idle
    text = gpu.write_table(tmp_path / "gpu.md", samples, idle, [report], {"card": "test"})
    assert text == (tmp_path / "gpu.md").read_text()
    assert "| transcribe | clip1 | 2 | 4 | 4,790 | 4,290 | 4,300 |" in text
    assert "| translation.ko | clip1 | 1 | 16 | 3,000 | 2,500 | 2,500 |" in text
    assert "| transcribe clip1 → translation.ko clip1 | 503 | yes |" in text
    assert "| after the run | 500 | yes |" in text
    assert "| clip1 | transcribe: 2 |" in text
    assert "- idle baseline (median before any step): 500 MiB" in text


def test_memory_not_given_back_between_steps_shows(tmp_path):
    samples = [sample(t / 10, 100 if t < 10 else 3000) for t in range(40)]
    steps = [gpu.Step("transcribe", "a", 1.0, 2.0), gpu.Step("transcribe", "b", 3.0, 3.9)]
    report = gpu.RunReport("r", steps, {}, 0.0, 3.9, 0)
    text = gpu.write_table(tmp_path / "t.md", samples, 100.0, [report], {})
    assert "| transcribe a → transcribe b | 3,000 | no |" in text


def test_step_records_and_tries_are_read_from_the_runs_results(tmp_path):
    video = tmp_path / "videos" / "clip1"
    video.mkdir(parents=True)
    run = {"started": 10.0, "finished": 12.0, "attempt": 2, "batch_size": 4, "gpu_peak_mb": 9.0}
    (video / "transcript.json").write_text(json.dumps({"run": run}))
    (video / "translation.ko.json").write_text(json.dumps({"run": {**run, "started": 13.0}}))
    (video / "qa.json").write_text(json.dumps({"attempts": {"transcribe": 2, "translate.ko": 1}}))
    steps = gpu.step_records(tmp_path)
    assert [(s.name, s.started, s.attempt) for s in steps] == [
        ("transcribe", 10.0, 2),
        ("translation.ko", 13.0, 2),
    ]
    assert gpu.tries(tmp_path) == {"clip1": {"transcribe": 2, "translate.ko": 1}}


def test_clips_are_cut_from_the_example_without_an_encoder(tmp_path):
    import av

    clips = gpu.make_videos(tmp_path, 2, 10.0)
    for clip in clips:
        with av.open(str(clip)) as c:
            assert [s.type for s in c.streams] == ["audio"]
            assert 9.0 <= c.duration / 1e6 <= 11.0


def test_ffmpeg_stand_in_runs_extract_audios_own_command(tmp_path):
    import wave

    from autokr.speech.media import Takes, _holes, decode_args, probe

    video = ROOT / "example" / "autokr-example.mp4"
    out, packets = tmp_path / "a.wav", tmp_path / "a.packets"
    args = decode_args(
        video, Takes(out, tmp_path / "b", packets), probe(video).audio[0], "downmix", False
    )
    subprocess.run([sys.executable, str(ROOT / "bench" / "ffmpeg_pyav.py"), *args[1:]], check=True)
    with wave.open(str(out)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (1, 16000, 2)
        assert 30.0 < w.getnframes() / 16000 < 33.0
    assert _holes(packets.read_text(encoding="utf-8")) == ()


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a GPU machine")
def test_without_a_gpu_gpu_sh_says_so_in_one_line_and_exits_0():
    done = subprocess.run(["bash", str(ROOT / "bench" / "gpu.sh")], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout == gpu.NO_GPU + "\n"
    assert done.stderr == ""
