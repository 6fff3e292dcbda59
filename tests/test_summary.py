"""The morning report, from QA reports and logs on disk."""

import time
from pathlib import Path

from autokr.discovery import Skipped
from autokr.records import QA, Decision, Span, write_record
from autokr.summary import summarise


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
