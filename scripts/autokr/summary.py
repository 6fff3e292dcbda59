"""The end-of-run summary of a batch: ``results/summary.md``, also printed.

Written by the Snakefile's ``onsuccess``/``onerror`` handlers, so it costs no
job and appears even when videos failed. It reads only files on disk (QA
reports and logs), so it tells the state of the whole folder, not just of
the jobs this run started.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autokr.discovery import Skipped
from autokr.errors import RecordError
from autokr.records import QA, read_qa, write_text_atomic


@dataclass(frozen=True)
class Failure:
    """Why a video has no finished subtitles: the step, the cause, and its log."""

    video: str
    step: str
    cause: str
    log: str


def steps_of(video: str, targets: list[str]) -> list[tuple[str, str]]:
    """(step name, log path under results/) of a video's jobs, in the order they run."""
    return [
        ("extract_audio", f"logs/extract_audio/{video}.log"),
        ("transcribe", f"logs/transcribe/{video}.log"),
        *[(f"translate {t}", f"logs/translate/{video}.{t}.log") for t in targets],
        ("make_srt", f"logs/make_srt/{video}.log"),
    ]


def find_failure(results: Path, video: str, targets: list[str]) -> Failure:
    """The first step of ``video`` whose log ends in an autokr error, or the first with no log."""
    for step, log in steps_of(video, targets):
        path = results / log
        if not path.exists():
            return Failure(video, step, "not run: stopped, or waiting on a step that failed", "")
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        errors = [ln for ln in lines if ln.startswith("autokr: ")]
        if errors:
            return Failure(video, step, errors[-1].removeprefix("autokr: "), str(path))
        if not any(ln.endswith(" done") for ln in lines):
            return Failure(video, step, "stopped before it finished (see the log)", str(path))
    return Failure(video, "make_srt", "outputs missing", "")


def _finished(results: Path, video: str, targets: list[str]) -> QA | None:
    folder = results / "videos" / video
    needed = [folder / "qa.json", *(folder / f"translation.{t}.json" for t in targets)]
    if not all(p.exists() for p in needed):
        return None
    try:
        return read_qa(folder / "qa.json")
    except RecordError:
        return None


def _row(qa: QA) -> str:
    dropped = sum(1 for d in qa.decisions if d.action == "dropped")
    collapsed = sum(1 for d in qa.decisions if d.action == "collapsed")
    flagged = sum(1 for d in qa.decisions if d.action == "flagged")
    retried = sum(len(r) for r in qa.retries.values())
    breaks = sum(len(b) for b in qa.rule_breaks.values())
    cues = ", ".join(f"{label} {n}" for label, n in qa.cues.items())
    seconds = sum(qa.seconds.values())
    return (
        f"| {qa.video} | {qa.duration:.0f} s | {qa.language} ({qa.language_probability:.2f}) "
        f"| {cues} | {dropped} / {collapsed} / {flagged} | {retried} | {breaks} | {seconds:.0f} s |"
    )


def summarise(results: Path, videos: list[str], targets: list[str], skipped: list[Skipped]) -> str:
    """The summary as Markdown."""
    done: list[QA] = []
    failed: list[Failure] = []
    for video in videos:
        qa = _finished(results, video, targets)
        if qa:
            done.append(qa)
        else:
            failed.append(find_failure(results, video, targets))
    lines = [
        "# autokr summary",
        "",
        f"{len(done)} done, {len(skipped)} skipped, {len(failed)} failed, "
        f"of {len(videos) + len(skipped)} inputs.",
        "",
    ]
    if failed:
        lines += ["## Failed", "", "| video | step | cause | log |", "| --- | --- | --- | --- |"]
        lines += [f"| {f.video} | {f.step} | {f.cause} | {f.log} |" for f in failed]
        lines.append("")
    if skipped:
        lines += ["## Skipped", "", "| input | why |", "| --- | --- |"]
        lines += [f"| {s.path} | {s.reason} |" for s in skipped]
        lines.append("")
    if done:
        lines += [
            "## Done",
            "",
            "| video | length | language | cues | dropped / collapsed / flagged lines "
            "| retried translations | rule breaks left | step time |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            *[_row(qa) for qa in done],
            "",
            "Details per video: results/videos/{video}/qa.json.",
            "",
        ]
    return "\n".join(lines)


def write_summary(
    results: Path, videos: list[str], targets: list[str], skipped: list[Skipped]
) -> str:
    """Write ``results/summary.md`` and return its text."""
    text = summarise(results, videos, targets, skipped)
    write_text_atomic(results / "summary.md", text)
    return text
