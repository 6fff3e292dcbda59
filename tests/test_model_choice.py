"""`model: auto`: the choice as a function of the machine, once per run, recorded."""

import json

import pytest

from autokr.core.config import validate_config
from autokr.models import choice
from autokr.models.choice import Machine, choose
from autokr.models.store import slug
from conftest import ROOT
from runs import copy_project, snakemake


@pytest.mark.parametrize(
    ("step", "machine", "language", "model"),
    [
        ("transcribe", Machine("cuda", 22.5), "auto", "large-v3"),
        ("transcribe", Machine("cuda", 6.0), "auto", "large-v3"),
        ("transcribe", Machine("cuda", 5.9), "auto", "turbo"),
        ("transcribe", Machine("cuda", 2.0), "auto", "small"),
        ("transcribe", Machine("cuda", 0.8), "auto", "small"),  # the smallest, and says so
        ("transcribe", Machine("cuda", 22.5), "ja", "kotoba-tech/kotoba-whisper-v2.0-faster"),
        ("transcribe", Machine("cuda", 3.9), "ja", "turbo"),
        ("transcribe", Machine("cuda", None), "auto", "large-v3"),  # a login node: no card here
        ("transcribe", Machine("cpu", cpus=2), "ja", "small"),
        ("transcribe", Machine("cpu", cpus=16), "ja", "medium"),
        ("translate", Machine("cuda", 12.0), "ja", "facebook/nllb-200-distilled-1.3B"),
        ("translate", Machine("cuda", 7.9), "ja", "facebook/nllb-200-distilled-600M"),
        ("translate", Machine("cpu", cpus=64), "ja", "facebook/nllb-200-distilled-600M"),
    ],
)
def test_the_choice_follows_free_memory_and_cores(step, machine, language, model):
    choice = choose(step, machine, language)
    assert choice.model == model
    assert choice.why  # said in words, printed and recorded
    if machine.device == "cuda" and machine.free_gb is not None:
        assert f"{machine.free_gb:.1f} GB free" in choice.why


def config_with(**steps):
    return validate_config(steps)


def test_auto_is_resolved_once_recorded_and_kept_while_it_fits(tmp_path, monkeypatch):
    path = tmp_path / "model_choice.json"
    free = {"gb": 5.0}
    monkeypatch.setattr(choice, "free_card_memory_gb", lambda gpus=None: free["gb"])
    config = config_with(source_language="auto", transcribe={"model": "auto", "device": "cuda"})
    made = choice.resolve(config, decide=True, path=str(path))
    assert not path.exists()  # recorded only once a run starts
    made.record()
    assert config["transcribe"]["model"] == "turbo"
    assert config["model_choice"] == {"transcribe": "5.0 GB free on the card; turbo needs 3.5"}
    assert "transcribe" not in config["translate"] and "model_choice" not in config["transcribe"]
    assert made.lines == [
        "autokr: transcribe.model auto: turbo (5.0 GB free on the card; turbo needs 3.5)"
    ]
    written = path.stat().st_mtime_ns
    # More room next run: the recorded choice still fits and is kept, so the
    # library is not redone because another program freed memory.
    free["gb"] = 20.0
    again = config_with(source_language="auto", transcribe={"model": "auto", "device": "cuda"})
    choice.resolve(again, decide=True, path=str(path)).record()
    assert again["transcribe"]["model"] == "turbo" and path.stat().st_mtime_ns == written
    # A cluster job on its node reads what the run decided, whatever its card.
    free["gb"] = 80.0
    job = config_with(source_language="auto", transcribe={"model": "auto", "device": "cuda"})
    choice.resolve(job, decide=False, path=str(path))
    assert job["transcribe"]["model"] == "turbo"
    # Too little room for it now: chosen again.
    free["gb"] = 2.0
    low = config_with(source_language="auto", transcribe={"model": "auto", "device": "cuda"})
    choice.resolve(low, decide=True, path=str(path)).record()
    assert low["transcribe"]["model"] == "small"
    assert json.loads(path.read_text())["transcribe"]["model"] == "small"


def test_a_step_by_hand_chooses_auto_itself_and_records_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(choice, "free_card_memory_gb", lambda gpus=None: 5.0)
    config = config_with(source_language="auto", transcribe={"model": "auto", "device": "cuda"})
    chosen = choice.chosen_by_hand(config, "transcribe")
    assert chosen["transcribe"]["model"] == "turbo"
    assert config["transcribe"]["model"] == "auto"  # the caller's config is left alone
    assert "autokr: transcribe.model auto: turbo" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.json"))


def test_an_explicit_large_model_on_the_cpu_says_how_long(monkeypatch):
    monkeypatch.setattr(choice, "free_card_memory_gb", lambda gpus=None: None)
    monkeypatch.setattr(choice.os, "cpu_count", lambda: 4)
    config = config_with(transcribe={"model": "large-v3"})
    [line] = choice.resolve(config, decide=True, path=None).lines
    # Whisper base: 36.1 s per 600 s on 2 cores (bench); large-v3 20.9 times that,
    # on 4 cores: 0.63 s per second of audio, 38 minutes per hour.
    assert line.startswith("autokr: transcribe.model large-v3 will run on the CPU")
    assert "about 38 minutes per hour of audio with 4 cores" in line
    assert choice.resolve(config_with(transcribe={"model": "small"}), True, None).lines == []
    # With a card, nothing to say.
    monkeypatch.setattr(choice, "free_card_memory_gb", lambda gpus=None: 20.0)
    assert choice.resolve(config_with(transcribe={"model": "large-v3"}), True, None).lines == []


@pytest.mark.workflow
def test_the_run_prints_the_choice_and_the_resolved_name_decides_the_downloads(tmp_path):
    project = copy_project(tmp_path)
    (project / "videos").mkdir()
    (project / "auto.yaml").write_text(
        "transcribe: {model: auto, device: cpu}\ntranslate: {model: auto, device: cpu}\n"
    )
    result = snakemake(project, "models", "-n", "--configfile", "auto.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "autokr: transcribe.model auto: small (no GPU for transcribe;" in result.stderr
    assert "autokr: translate.model auto: facebook/nllb-200-distilled-600M" in result.stderr
    planned = result.stdout + result.stderr
    assert f"models/whisper/{slug('small')}/manifest.json" in planned
    assert f"models/nllb/{slug('facebook/nllb-200-distilled-600M')}/manifest.json" in planned
    assert slug("auto") not in planned
    # A dry run only reads: the choice is recorded by a run that starts.
    assert not (project / "results" / "model_choice.json").exists()


def test_the_choice_is_recorded_in_transcript_translation_and_qa(
    whisper_model, nllb_model, media, tmp_path
):
    # What the Snakefile leaves in the config after resolving auto: the
    # resolved names, and why, for the steps to record.
    import make_srt
    import transcribe
    import translate

    config = validate_config(
        {
            "transcribe": {"model": str(whisper_model), "device": "cpu", "beam_size": 1},
            "translate": {"model": str(nllb_model), "device": "cpu"},
        }
    )
    config["model_choice"] = {"transcribe": "why Whisper", "translate": "why NLLB"}
    transcript, translation, qa = (tmp_path / n for n in ("t.json", "ko.json", "qa.json"))
    transcribe.transcribe_with_config(str(media["one.wav"]), str(transcript), config)
    translate.translate_with_config(str(transcript), str(translation), "ko", config)
    make_srt.make_subtitles(
        "one", str(tmp_path / "one"), str(transcript), {"ko": str(translation)}, str(qa)
    )
    assert json.loads(transcript.read_text())["settings"]["model_choice"] == "why Whisper"
    assert json.loads(translation.read_text())["settings"]["model_choice"] == "why NLLB"
    report = json.loads(qa.read_text())
    assert report["model_choice"] == {"transcribe": "why Whisper", "translate.ko": "why NLLB"}
    assert report["models"] == {"transcribe": str(whisper_model), "translate.ko": str(nllb_model)}


def test_the_docs_table_of_model_auto_is_the_one_autokr_chooses_by():
    # The thresholds live in autokr.models.choice; docs/models.md shows them to
    # users, and this keeps the two the same.
    rows = [
        [cell.strip().strip("`") for cell in line.strip("|").split("|")]
        for line in (ROOT / "docs" / "models.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| transcribe") or line.startswith("| translate")
    ]
    cuda = [(m, f"{gb:g} GB or more") for m, gb in choice.WHISPER_CUDA if m != "small"]
    assert [(r[2], r[1]) for r in rows if r[0] == "transcribe, CUDA"] == [
        *cuda,
        ("small", "less"),
    ]
    [ja] = [r for r in rows if "source_language: ja" in r[0]]
    assert (ja[2], ja[1]) == (
        choice.WHISPER_CUDA_JA[0][0],
        f"{choice.WHISPER_CUDA_JA[0][1]:g} GB or more",
    )
    [cpu] = [r for r in rows if r[0] == "transcribe, CPU"]
    assert cpu[1].startswith(f"{choice.MEDIUM_FROM_CPUS} cores or more")
    big = choice.NLLB_CUDA[0]
    assert [(r[2], r[1]) for r in rows if r[0].startswith("translate,")] == [
        (big[0], f"{big[1]:g} GB or more"),
        (choice.NLLB_CPU, "otherwise"),
    ]
    llm = [(r[2], r[1]) for r in rows if r[0].startswith("translate.llm")]
    assert llm[:-1] == [(m, f"{gb:g} GB or more") for m, gb in choice.LLM_CUDA]
    assert llm[-1][1] == "otherwise" and "NLLB translates" in llm[-1][0]
