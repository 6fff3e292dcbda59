"""Real voices through the whole workflow, with the default settings.

Four people read Japanese sentences one after another, 0.8 s apart (Common
Voice, CC0: tests/data/speech/). Only the model folders and the device differ
from a new user's config.
"""

import shutil

import pytest

from autokr.records import read_qa, read_transcript
from runs import copy_project, snakemake, started_jobs
from speech import kana_cer

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def run(tmp_path_factory, whisper_model, nllb_model, media):
    project = copy_project(tmp_path_factory.mktemp("autokr-real"))
    (project / "videos").mkdir()
    shutil.copy(media["dialogue.mp4"], project / "videos" / "dialogue.mp4")
    local = project / "local-models.yaml"
    local.write_text(
        f"transcribe: {{model: '{whisper_model}', device: cpu, threads: 2}}\n"
        f"translate: {{model: '{nllb_model}', device: cpu, threads: 2}}\n",
        encoding="utf-8",
    )
    result = snakemake(project, "--configfile", str(local))
    assert result.returncode == 0, result.stderr
    return project, result


def test_every_sentence_of_real_voices_is_in_the_transcript(run, whisper_model, media, spoken):
    from faster_whisper import WhisperModel

    project, _ = run
    folder = project / "results" / "videos" / "dialogue"
    transcript = read_transcript(folder / "transcript.json")
    assert transcript.mode == "batched (8)" and transcript.settings["beam_size"] == 5
    words = [w for s in transcript.segments for w in s.words]
    for said in spoken["dialogue"]:
        heard = "".join(w.word for w in words if said.start - 0.3 <= w.start < said.end + 0.3)
        assert kana_cer(said.text, heard) <= 0.2, (said.text, heard)
    # As well as sequential faster-whisper with VAD on the same audio.
    model = WhisperModel(str(whisper_model), device="cpu", compute_type="int8", cpu_threads=2)
    plain, _ = model.transcribe(str(media["dialogue.wav"]), language="ja", vad_filter=True)
    reference = "".join(s.text for s in spoken["dialogue"])
    ours = kana_cer(reference, "".join(s.text for s in transcript.segments))
    theirs = kana_cer(reference, "".join(s.text for s in plain))
    assert ours <= theirs + 0.01, (ours, theirs)


def test_the_report_shows_speech_that_was_missing(run):
    project, result = run
    qa = read_qa(project / "results" / "videos" / "dialogue" / "qa.json")
    # The batched pass left a sentence out; decoding that speech again found it.
    assert qa.uncovered_before >= 1.0 and qa.uncovered_after == 0.0
    assert qa.redecoded_seconds >= qa.uncovered_before
    summary = (project / "results" / "summary.md").read_text(encoding="utf-8")
    assert f"| 0.0 s (was {qa.uncovered_before:.1f} s) |" in summary
    assert [rule for rule, _ in started_jobs(result.stderr)] == [
        "extract_audio",
        "transcribe",
        "translate",
        "make_srt",
    ]
