"""The results folder's layout: the paths an existing project already has, never moved."""

from pathlib import Path

import pytest

from autokr.core import results_layout as results

#: Every pattern, and the path existing projects have under that name.
PATTERNS = {
    "MEDIA": "results/videos/{video}/media.json",
    "AUDIO": "results/videos/{video}/audio.wav",
    "TRANSCRIPT": "results/videos/{video}/transcript.json",
    "TRANSLATION": "results/videos/{video}/translation.{lang}.json",
    "QA_REPORT": "results/videos/{video}/qa.json",
    "PUBLISH_RECORD": "results/videos/{video}/publish.json",
    "SUBTITLE_PREFIX": "results/subtitles/{video}",
    "MUXED": "results/muxed/{video}.mkv",
    "UNPUBLISH_RECORD": "results/unpublish/{run}.{what}.json",
    "PUBLISHED": "results/published.json",
    "MODEL_CHOICE": "results/model_choice.json",
    "SUMMARY": "results/summary.md",
    "RUN_LOGS": "results/logs/run",
}


def test_the_patterns_are_the_paths_existing_projects_have():
    # A changed pattern makes Snakemake redo (or lose) every video of a project.
    assert {name: getattr(results, name) for name in PATTERNS} == PATTERNS
    assert results.log("translate", "video", "lang") == "results/logs/translate/{video}.{lang}.log"
    assert results.log("download_model", "kind", "slug") == (
        "results/logs/download_model/{kind}.{slug}.log"
    )
    assert results.benchmark("make_srt", "video") == "results/benchmarks/make_srt/{video}.tsv"


def test_python_paths_follow_the_patterns_under_any_results_folder(tmp_path):
    video = "season 1/ep {x}.01"
    assert results.result_path(results.QA_REPORT, video=video) == Path(
        "results/videos/season 1/ep {x}.01/qa.json"
    )
    assert results.result_path(results.TRANSLATION, tmp_path, video="ep", lang="ko") == (
        tmp_path / "videos" / "ep" / "translation.ko.json"
    )
    assert results.result_path(results.RESULTS, tmp_path) == tmp_path
    assert results.job_log("translate", ("ep", "ko"), tmp_path) == (
        tmp_path / "logs" / "translate" / "ep.ko.log"
    )
    progress = results.progress_file("transcribe", ["ep"])
    assert progress == Path("results/progress/transcribe/ep.json")
    assert results.progress_file("translate", ["ep", "ko"], tmp_path) == (
        tmp_path / "translate" / "ep.ko.json"
    )
    with pytest.raises(ValueError, match="not under results/"):
        results.result_path("elsewhere/{video}.json", video="ep")
