"""The morning report, from QA reports and logs on disk."""

import dataclasses
import os
import time
from pathlib import Path

from autokr.batch.discovery import Skipped
from autokr.core.record_files import read_record, write_record
from autokr.core.records import QA, Decision, Span, TermMissing
from autokr.reports.summary import summarise


def write_qa(results: Path, video: str, breaks: list[dict]) -> None:
    folder = results / "videos" / video
    folder.mkdir(parents=True)
    (folder / "translation.ko.json").write_text("{}", encoding="utf-8")
    dropped = Decision(1.0, 2.0, "ご視聴ありがとうございました", "dropped", "silence phrase")
    qa = QA(
        video=video,
        duration=600.0,
        language="ja",
        language_probability=0.99,
        cues={"ja": 40, "ko": 38},
        decisions=(dropped,),
        retries={"ko": ()},
        rule_breaks={"ja": [], "ko": breaks},
        seconds={"transcribe": 20.0, "translate.ko": 1.0},
        attempts={"transcribe": 1},
        uncovered_before=6.5,
        uncovered_after=1.25,
        uncovered=(Span(301.5, 302.75),),
    )
    write_record(qa, folder / "qa.json")


def test_report_counts_every_input_and_names_each_failure_and_rule_break(tmp_path):
    results = tmp_path / "results"
    started = time.time() - 1
    fast = {"cue": 3, "at": 12.5, "rule": "too_fast", "value": 14.2, "limit": 12.0}
    write_qa(results, "ep01", [fast])
    log = results / "logs" / "transcribe" / "ep02.log"
    log.parent.mkdir(parents=True)
    (results / "logs" / "extract_audio").mkdir()
    (results / "logs" / "extract_audio" / "ep02.log").write_text("x INFO done\n", encoding="utf-8")
    log.write_text("x INFO start\nautokr: results/videos/ep02/audio.wav: out of memory\n", "utf-8")
    videos = {"ep01": Path("videos/ep01.mkv"), "ep02": Path("videos/ep02.mkv")}
    skipped = [Skipped(Path("videos/a{b}.mp4"), "name contains '{'", "name")]
    text = summarise(results, videos, ["ko"], skipped, started)
    assert "3 inputs: 1 done, 0 unchanged, 1 skipped (1 name), 1 failed." in text
    assert (
        "| videos/ep02.mkv | transcribe | results/videos/ep02/audio.wav: out of memory "
        f"| {log} |" in text
    )
    assert (
        "| ep01 | done | 600 s | ja (0.99) | ja 40, ko 38 | 1 / 0 / 0 | 1.2 s (was 6.5 s) "
        "| 0 | 1 | 1 | 21 s |" in text
    )
    assert "| ep01 | ko | 3 | 12.50 s | too_fast | 14.2 | 12.0 |" in text
    assert "| ep01 | 301.50 s | 302.75 s |" in text  # where a line may be missing
    # A later run that did nothing for ep01 reports it unchanged.
    assert "0 done, 1 unchanged" in summarise(results, videos, ["ko"], skipped, time.time() + 5)


def test_glossary_terms_not_kept_are_counted_per_video_and_language(tmp_path):
    results = tmp_path / "results"
    write_qa(results, "ep01", [])
    path = results / "videos" / "ep01" / "qa.json"
    lost = [
        TermMissing(0, "千尋が来た。", "치이로가 왔다.", "千尋", "치히로"),
        TermMissing(4, "千尋と湯婆婆。", "치로와 유와바.", "千尋", "치히로"),
        TermMissing(4, "千尋と湯婆婆。", "치로와 유와바.", "湯婆婆", "유바바"),
    ]
    write_record(dataclasses.replace(read_record(QA, path), glossary_missing={"ko": lost}), path)
    text = summarise(results, {"ep01": Path("videos/ep01.mkv")}, ["ko"], [], time.time() - 1)
    assert "## Glossary terms not kept" in text
    assert "| ep01 | ko | 2 | 千尋 -> 치히로, 湯婆婆 -> 유바바 |" in text  # sentences, terms
    # Without a glossary, or with every term kept, there is no such section.
    write_record(dataclasses.replace(read_record(QA, path), glossary_missing={}), path)
    assert "Glossary" not in summarise(results, {"ep01": Path("videos/ep01.mkv")}, ["ko"], [], 0)


def test_a_job_the_cluster_killed_is_named_with_the_schedulers_cause(tmp_path):
    # A memory kill by SLURM writes no line of the step's own: its log just
    # stops. The executor's log of the job (kept for failed jobs) says why.
    results = tmp_path / "results"
    for step, text in [("extract_audio", "x INFO done\n"), ("transcribe", "x INFO start\n")]:
        (results / "logs" / step).mkdir(parents=True)
        (results / "logs" / step / "ep.01.log").write_text(text, encoding="utf-8")
    killed = tmp_path / ".snakemake" / "slurm_logs" / "rule_transcribe" / "ep.01"
    killed.mkdir(parents=True)
    (killed / "7.log").write_text("slurmstepd: error: Job 7 exceeded memory limit (830 > 300)\n")
    (killed / "12.log").write_text(
        "localrule transcribe:\n"
        "slurmstepd: error: Detected 1 oom_kill event in StepId=12.0. Some of the step "
        "tasks have been OOM Killed.\n"
    )
    videos = {"ep.01": Path("videos/ep.01.mkv")}
    text = summarise(results, videos, ["ko"], [], time.time() - 5)
    assert (
        "| videos/ep.01.mkv | transcribe | killed by SLURM for using more memory than it asked "
        "(SLURM job 12, log .snakemake/slurm_logs/rule_transcribe/ep.01/12.log): raise its mem_mb "
    ) in text
    # A cluster log older than the step's own log is from another try.
    step_log = results / "logs" / "transcribe" / "ep.01.log"
    old = step_log.stat().st_mtime - 3600
    for log in killed.iterdir():
        os.utime(log, (old, old))
    text = summarise(results, videos, ["ko"], [], time.time() - 5)
    assert "| transcribe | stopped before it finished (see the log) |" in text
    # Without a cluster's log the cause stays the plain one.
    (killed / "7.log").unlink()
    (killed / "12.log").unlink()
    text = summarise(results, videos, ["ko"], [], time.time() - 5)
    assert "| transcribe | stopped before it finished (see the log) |" in text


def test_a_model_step_that_failed_is_named_above_the_videos_waiting_on_it(tmp_path):
    results = tmp_path / "results"
    logs = results / "logs"
    (logs / "extract_audio").mkdir(parents=True)
    (logs / "extract_audio" / "ep01.log").write_text("x INFO done\n", encoding="utf-8")
    (logs / "download_model").mkdir()
    failed = logs / "download_model" / "whisper.org_whisper-1234abcd.log"
    failed.write_text("x INFO start\nautokr: model 'org/whisper' (transcribe.model) …\n", "utf-8")
    old = logs / "download_model" / "nllb.old-99.log"
    old.write_text("x INFO start\nautokr: an earlier run's failure\n", encoding="utf-8")
    started = time.time() - 1
    os.utime(old, (started - 60, started - 60))
    text = summarise(results, {"ep01": Path("videos/ep01.mkv")}, ["ko"], [], started)
    assert "## Model steps that failed" in text
    assert (
        "| download_model | whisper.org_whisper-1234abcd "
        f"| model 'org/whisper' (transcribe.model) … | {failed} |"
    ) in text
    assert "an earlier run's failure" not in text
    assert "| videos/ep01.mkv | transcribe | not run: stopped, or waiting on a step" in text
