"""A new user's first `make run`, on a fresh clone, and real voices through the workflow.

A fresh clone has no videos/ folder: `make run` subtitles the bundled example,
example/autokr-example.mp4: four people reading Japanese one after another,
0.8 s apart (Common Voice, CC0; tests/data/speech/). Only the model folders
and the device differ from a new user's config, so the transcript is made
with the default settings.
"""

import os
import shutil

import pytest

from autokr.core.records import read_qa, read_transcript
from runs import copy_project, cues, make_run, snakemake, started_jobs, subtitle
from speech import kana_cer

pytestmark = pytest.mark.workflow

EXAMPLE = "autokr-example"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, whisper_model, nllb_model):
    project = copy_project(tmp_path_factory.mktemp("fresh-clone"))
    assert not os.path.lexists(project / "videos")
    local = project / "local-models.yaml"
    local.write_text(
        f"transcribe: {{model: '{whisper_model}', device: cpu, threads: 2}}\n"
        f"translate: {{model: '{nllb_model}', device: cpu, threads: 2}}\n",
        encoding="utf-8",
    )
    result = make_run(project, "--configfile", str(local))
    assert result.returncode == 0, result.stderr[-3000:]
    return project, local, result


def test_the_first_make_run_subtitles_the_bundled_example(fresh):
    project, _, result = fresh
    assert "subtitling the bundled example" in result.stderr
    assert "the example's subtitles are in results/subtitles/" in result.stderr
    assert "put them in videos/" in result.stderr  # how to go on
    for label in ("ja", "ko"):
        assert len(cues(subtitle(project, EXAMPLE, label))) >= 4
    qa = read_qa(project / "results" / "videos" / EXAMPLE / "qa.json")
    # The example is a still picture at 1 fps: its two frames are no 2 s gap.
    assert qa.settings["frame_rate"] == 24.0
    assert not [b for b in qa.rule_breaks["ja"] if b["rule"] == "too_short"]
    assert sorted(rule for rule, _ in started_jobs(result.stderr)) == [
        "convert_model",
        "download_model",
        "download_model",
        "extract_audio",
        "make_srt",
        "transcribe",
        "translate",
    ]


def test_every_sentence_of_real_voices_is_in_the_transcript(fresh, whisper_model, spoken):
    from faster_whisper import WhisperModel

    project, _, _ = fresh
    transcript = read_transcript(project / "results" / "videos" / EXAMPLE / "transcript.json")
    assert transcript.mode == "batched (8)" and transcript.settings["beam_size"] == 5
    words = [w for s in transcript.segments for w in s.words]
    for said in spoken["dialogue"]:
        heard = "".join(w.word for w in words if said.start - 0.3 <= w.start < said.end + 0.3)
        assert kana_cer(said.text, heard) <= 0.2, (said.text, heard)
    # As well as sequential faster-whisper with VAD on the same audio.
    model = WhisperModel(str(whisper_model), device="cpu", compute_type="int8", cpu_threads=2)
    audio = str(project / "example" / f"{EXAMPLE}.mp4")
    plain, _ = model.transcribe(audio, language="ja", vad_filter=True)
    reference = "".join(s.text for s in spoken["dialogue"])
    ours = kana_cer(reference, "".join(s.text for s in transcript.segments))
    theirs = kana_cer(reference, "".join(s.text for s in plain))
    assert ours <= theirs + 0.01, (ours, theirs)


def test_the_report_shows_speech_that_was_missing(fresh):
    project, _, _ = fresh
    qa = read_qa(project / "results" / "videos" / EXAMPLE / "qa.json")
    # The batched pass left a sentence out; decoding that speech again found it.
    assert qa.uncovered_before >= 1.0 and qa.uncovered_after == 0.0
    assert qa.redecoded_seconds >= qa.uncovered_before
    summary = (project / "results" / "summary.md").read_text(encoding="utf-8")
    assert f"| 0.0 s (was {qa.uncovered_before:.1f} s) |" in summary


@pytest.mark.parametrize("args", [["--lint"], ["-n"], ["--unlock"], ["--list-rules"]])
def test_snakemake_commands_work_without_a_videos_folder(fresh, args):
    project, _, _ = fresh
    result = snakemake(project, *args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_a_link_to_a_drive_that_is_not_mounted_is_no_fresh_clone(fresh):
    project, local, _ = fresh
    (project / "videos").symlink_to(project / "unmounted-drive")
    try:
        result = make_run(project, "--configfile", str(local))
        assert result.returncode != 0
        assert "autokr: videos: videos folder not found" in result.stderr
        assert "bundled example" not in result.stderr
    finally:
        (project / "videos").unlink()


def test_once_there_are_videos_the_example_is_never_processed(fresh, media):
    project, local, _ = fresh
    (project / "videos").mkdir()
    shutil.copy(media["one.mkv"], project / "videos" / "mine.mkv")
    result = make_run(project, "--configfile", str(local))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "bundled example" not in result.stderr
    assert {w.split(",")[0] for _, w in started_jobs(result.stderr)} == {"video=mine"}
    summary = (project / "results" / "summary.md").read_text(encoding="utf-8")
    assert "1 inputs: 1 done" in summary and EXAMPLE not in summary
