"""Which videos finished and which failed in a run, and why each failure happened.

A video fails at the first of its steps whose log ends in an autokr error, or
that never finished: stopped by Ctrl-C (no failure of the video), killed from
outside (the cluster scheduler's cause, where SLURM says one), or never run.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from autokr.core.errors import RecordError
from autokr.core.records import QA, read_qa
from autokr.core.results_layout import LOG_FOLDER, QA_REPORT, TRANSLATION, job_log, result_path

#: The cause of a step stopped by Ctrl-C.
INTERRUPTED = "interrupted (Ctrl-C) before it finished; the next run does it"


@dataclass(frozen=True)
class Failure:
    """Why a video has no current subtitles: the step, the cause, and its log.

    ``earlier`` says what became of subtitles an earlier run had made for it.
    ``interrupted``: the step was stopped by Ctrl-C, which is no failure of
    the video; the next run does it.
    """

    video: str
    step: str
    cause: str
    log: str
    earlier: str = ""
    interrupted: bool = False


@dataclass(frozen=True)
class Step:
    """One job of a video: its name in the summary, its rule and its wildcards' values."""

    name: str
    rule: str
    wildcards: tuple[str, ...]

    def log(self, results: Path) -> Path:
        """The job's log under ``results``."""
        return job_log(self.rule, self.wildcards, results)


def steps_of(video: str, targets: list[str], results: Path | None = None) -> list[Step]:
    """A video's jobs, in the order they run (the transcript's as ``transcript_step``)."""
    return [
        Step("extract_audio", "extract_audio", (video,)),
        transcript_step(video, results),
        *[Step(f"translate {t}", "translate", (video, t)) for t in targets],
        Step("make_srt", "make_srt", (video,)),
    ]


def transcript_step(video: str, results: Path | None = None) -> Step:
    """The job that makes a video's transcript: read_subtitles (its own subtitles) where
    that ran last under ``results``, else transcribe."""
    speech = Step("transcribe", "transcribe", (video,))
    text = Step("read_subtitles", "read_subtitles", (video,))
    if results is None or not text.log(results).exists():
        return speech
    if not speech.log(results).exists():
        return text
    newer = text.log(results).stat().st_mtime >= speech.log(results).stat().st_mtime
    return text if newer else speech


def find_failure(results: Path, video: str, targets: list[str], since: float = 0.0) -> Failure:
    """The first step of ``video`` whose log ends in an autokr error, or that never finished."""
    for step in steps_of(video, targets, results):
        path = step.log(results)
        if not path.exists():
            cause = scheduler_cause(results.parent, step, since)
            return Failure(
                video, step.name, cause or "not run: stopped, or waiting on a step that failed", ""
            )
        failure = _failed_step(results, path, video, step)
        if failure:
            return failure
    return Failure(video, "make_srt", "outputs missing", "")


def failed_this_run(
    results: Path, video: str, targets: list[str], run_started: float
) -> Failure | None:
    """The step of ``video`` that this run started and that failed or never finished, if any.

    Snakemake deletes a failing job's own output, but not what later steps made
    from it before: a video can fail while its old QA report and subtitles stay.
    """
    for step in steps_of(video, targets, results):
        path = step.log(results)
        if path.exists() and path.stat().st_mtime >= run_started:
            failure = _failed_step(results, path, video, step)
            if failure:
                return failure
    return None


def _failed_step(results: Path, log: Path, video: str, step: Step) -> Failure | None:
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    errors = [ln for ln in lines if ln.startswith("autokr: ")]
    if errors:
        return Failure(video, step.name, errors[-1].removeprefix("autokr: "), str(log))
    finished = any(ln.endswith(" done") for ln in lines)
    # run_step's line on Ctrl-C: the step was stopped, it did not fail.
    if not finished and any(ln.endswith(" interrupted") for ln in lines):
        return Failure(video, step.name, INTERRUPTED, str(log), interrupted=True)
    if not finished:
        # Killed from outside: a scheduler's kill writes no line of the step's own.
        # The cluster's log of this try was written after the step's own log.
        cause = scheduler_cause(results.parent, step, log.stat().st_mtime - 1)
        return Failure(
            video, step.name, cause or "stopped before it finished (see the log)", str(log)
        )
    return None


def model_failures(results: Path, run_started: float) -> list[Failure]:
    """The model steps (download_model, convert_model) that failed in this run.

    A video then waits on them and never runs; the summary says why here.
    """
    failures = []
    for rule in ("download_model", "convert_model"):
        for log in sorted(result_path(LOG_FOLDER, results, rule=rule).glob("*.log")):
            if log.stat().st_mtime < run_started:
                continue
            name = log.name.removesuffix(".log")
            wildcards = tuple(name.split(".", 1)) if rule == "download_model" else (name,)
            failure = _failed_step(results, log, name, Step(rule, rule, wildcards))
            if failure:
                failures.append(failure)
    return failures


#: Where Snakemake's SLURM executor keeps each job's log (it keeps a failed job's).
SLURM_LOGS = Path(".snakemake") / "slurm_logs"
#: What slurmstepd writes when it kills a job for memory (OverMemoryKill, cgroups).
MEMORY_KILL = re.compile(r"exceeded memory limit|oom[-_ ]kill", re.IGNORECASE)


def scheduler_cause(project: Path, step: Step, since: float = 0.0) -> str | None:
    """Why SLURM ended the last cluster job of ``step``, from its log and accounting (``sacct``).

    None for a step that never ran on a cluster since ``since``, or that the
    scheduler did not end.
    """
    folder = project / SLURM_LOGS / f"rule_{step.rule}" / "_".join(step.wildcards).replace("/", "_")
    logs = [p for p in folder.glob("*.log") if p.stem.isdigit() and p.stat().st_mtime >= since]
    if not logs:
        return None
    last = max(logs, key=lambda p: int(p.stem))
    text = last.read_text(encoding="utf-8", errors="replace")
    state = _sacct_state(last.stem)
    where = f"SLURM job {last.stem}, log {last.relative_to(project)}"
    if MEMORY_KILL.search(text) or state.startswith("OUT_OF_ME"):
        return f"killed by SLURM for using more memory than it asked ({where}): raise its mem_mb"
    if "DUE TO TIME LIMIT" in text or state == "TIMEOUT":
        return f"killed by SLURM at its time limit ({where}): raise its runtime"
    if "CANCELLED" in text or state.startswith("CANCELLED"):
        return f"cancelled on the cluster ({where})"
    if state == "NODE_FAIL":
        return f"its node failed ({where})"
    return None


def _sacct_state(job: str) -> str:
    """The job's state in SLURM's accounting; "" where there is no sacct or no answer."""
    import subprocess

    try:
        out = subprocess.run(
            ["sacct", "-X", "-j", job, "-n", "--parsable2", "--format=State"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.strip().splitlines()[0].strip() if out.strip() else ""


def sort_out(
    results: Path,
    videos: dict[str, Path],
    targets: list[str],
    run_started: float,
    earlier: dict[str, str],
) -> tuple[list[tuple[QA, str]], list[Failure]]:
    """The finished videos (with ``done`` or ``unchanged``) and the failed ones (those
    interrupted among them, marked so, with what they had from earlier runs)."""
    done: list[tuple[QA, str]] = []
    failed: list[Failure] = []
    for video in videos:
        failure = failed_this_run(results, video, targets, run_started)
        finished = None if failure else _finished(results, video, targets)
        if failure and failure.interrupted:
            kept = "kept" if _finished(results, video, targets) else ""
            failed.append(dataclasses.replace(failure, earlier=kept))
        elif failure:
            failed.append(dataclasses.replace(failure, earlier=earlier.get(video, "")))
        elif finished:
            qa, written = finished
            done.append((qa, "done" if written >= run_started else "unchanged"))
        else:
            failed.append(find_failure(results, video, targets, run_started))
    return done, failed


def _finished(results: Path, video: str, targets: list[str]) -> tuple[QA, float] | None:
    """A video's QA report and when it was written, when all its outputs are there."""
    qa = result_path(QA_REPORT, results, video=video)
    needed = [qa, *(result_path(TRANSLATION, results, video=video, lang=t) for t in targets)]
    if not all(p.exists() for p in needed):
        return None
    try:
        return read_qa(qa), qa.stat().st_mtime
    except RecordError:
        return None
