"""The morning report of a batch: ``results/summary.md``, also printed.

Written by the Snakefile's ``onsuccess``/``onerror`` handlers, so it costs no
job and appears even when videos failed. It reads only files on disk (QA
reports and logs), so it tells the state of the whole folder: what this run
finished, what was already finished, what was skipped and what failed.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autokr.discovery import Skipped
from autokr.errors import RecordError
from autokr.records import QA, read_qa, write_text_atomic


@dataclass(frozen=True)
class Failure:
    """Why a video has no current subtitles: the step, the cause, and its log.

    ``earlier`` says what became of subtitles an earlier run had made for it.
    """

    video: str
    step: str
    cause: str
    log: str
    earlier: str = ""


@dataclass(frozen=True)
class Step:
    """One job of a video: its name in the summary, its log under results/, its rule."""

    name: str
    log: str
    rule: str
    wildcards: tuple[str, ...]


def steps_of(video: str, targets: list[str]) -> list[Step]:
    """A video's jobs, in the order they run."""
    return [
        Step("extract_audio", f"logs/extract_audio/{video}.log", "extract_audio", (video,)),
        Step("transcribe", f"logs/transcribe/{video}.log", "transcribe", (video,)),
        *[
            Step(f"translate {t}", f"logs/translate/{video}.{t}.log", "translate", (video, t))
            for t in targets
        ],
        Step("make_srt", f"logs/make_srt/{video}.log", "make_srt", (video,)),
    ]


def find_failure(results: Path, video: str, targets: list[str], since: float = 0.0) -> Failure:
    """The first step of ``video`` whose log ends in an autokr error, or that never finished."""
    for step in steps_of(video, targets):
        path = results / step.log
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
    for step in steps_of(video, targets):
        path = results / step.log
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
    if not any(ln.endswith(" done") for ln in lines):
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
        for log in sorted((results / "logs" / rule).glob("*.log")):
            if log.stat().st_mtime < run_started:
                continue
            name = log.name.removesuffix(".log")
            wildcards = tuple(name.split(".", 1)) if rule == "download_model" else (name,)
            failure = _failed_step(results, log, name, Step(rule, str(log), rule, wildcards))
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


def remove_outdated(
    results: Path, video: str, source: Path, targets: list[str], subtitles: list[Path]
) -> str:
    """Remove a failed video's QA report, translations and subtitles when they belong to an
    earlier input; say what became of them.

    Subtitles of a file since replaced would look current beside the new one
    (and a player would show them with it), so they go; the next run that
    succeeds makes them again. When the input is unchanged they still fit it
    and are kept.
    """
    folder = results / "videos" / video
    qa = folder / "qa.json"
    if not qa.exists():
        return ""
    try:
        replaced = source.stat().st_mtime > qa.stat().st_mtime
    except OSError:  # the input is gone
        replaced = True
    if not replaced:
        return "subtitles from an earlier run kept (same input)"
    for path in [qa, *(folder / f"translation.{t}.json" for t in targets), *subtitles]:
        path.unlink(missing_ok=True)
    return "subtitles of the earlier input removed"


def _finished(results: Path, video: str, targets: list[str]) -> tuple[QA, float] | None:
    folder = results / "videos" / video
    needed = [folder / "qa.json", *(folder / f"translation.{t}.json" for t in targets)]
    if not all(p.exists() for p in needed):
        return None
    try:
        return read_qa(folder / "qa.json"), (folder / "qa.json").stat().st_mtime
    except RecordError:
        return None


def _row(qa: QA, state: str) -> str:
    actions = Counter(d.action for d in qa.decisions)
    retried = sum(len(r) for r in qa.retries.values())
    breaks = sum(len(b) for b in qa.rule_breaks.values())
    cues = ", ".join(f"{label} {n}" for label, n in qa.cues.items())
    tries = max(qa.attempts.values(), default=1)
    return (
        f"| {qa.video} | {state} | {qa.duration:.0f} s "
        f"| {qa.language} ({qa.language_probability:.2f}) | {cues} "
        f"| {actions['dropped']} / {actions['collapsed']} / {actions['flagged']} "
        f"| {qa.uncovered_after:.1f} s (was {qa.uncovered_before:.1f} s) "
        f"| {retried} | {breaks} | {tries} | {sum(qa.seconds.values()):.0f} s |"
    )


def summarise(
    results: Path,
    videos: dict[str, Path],
    targets: list[str],
    skipped: list[Skipped],
    run_started: float,
    earlier: dict[str, str] | None = None,
) -> str:
    """The summary as Markdown; ``run_started`` tells this run's work from earlier runs'.

    ``earlier`` says, for videos that failed in this run, what became of the
    subtitles an earlier run made.
    """
    done, failed = sort_out(results, videos, targets, run_started, earlier or {})
    head = ["# autokr summary", "", _headline(done, failed, skipped, run_started), ""]
    qas = [qa for qa, _ in done]
    models = model_failures(results, run_started)
    sections = [
        _table(
            "Model steps that failed",
            ["step", "model", "cause", "log"],
            [[f.step, f.video, f.cause, f.log] for f in models],
            "Every video that needs the model waits on it and is not run.",
        ),
        _table(
            "Failed",
            ["file", "step", "cause", "log", "earlier subtitles"],
            [[videos[f.video], f.step, f.cause, f.log, f.earlier or "none"] for f in failed],
        ),
        _table("Skipped", ["file", "why"], [[s.path, s.reason] for s in skipped]),
        _subtitled(done),
        _table(
            "Speech without text",
            ["video", "from", "to"],
            [[qa.video, f"{s.start:.2f} s", f"{s.end:.2f} s"] for qa in qas for s in qa.uncovered],
            "Speech the VAD heard where the transcript has no word, even after decoding "
            "it again: listen there for a missing line.",
        ),
        _table(
            "Rule breaks left",
            ["video", "language", "cue", "at", "rule", "value", "limit"],
            [
                [qa.video, label, b["cue"], f"{b['at']:.2f} s", b["rule"], b["value"], b["limit"]]
                for qa in qas
                for label, found in qa.rule_breaks.items()
                for b in found
            ],
        ),
    ]
    return "\n".join(head + [line for section in sections for line in section])


def _headline(done, failed: list[Failure], skipped: list[Skipped], run_started: float) -> str:
    """When, and how many inputs were done, unchanged, skipped and failed."""
    states = Counter(state for _, state in done)
    kinds = Counter(s.kind for s in skipped)
    why = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    return (
        f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(run_started))}: "
        f"{len(done) + len(failed) + len(skipped)} inputs: {states['done']} done, "
        f"{states['unchanged']} unchanged, {len(skipped)} skipped"
        f"{f' ({why})' if why else ''}, {len(failed)} failed."
    )


def sort_out(
    results: Path,
    videos: dict[str, Path],
    targets: list[str],
    run_started: float,
    earlier: dict[str, str],
) -> tuple[list[tuple[QA, str]], list[Failure]]:
    """The finished videos (with ``done`` or ``unchanged``) and the failed ones."""
    done: list[tuple[QA, str]] = []
    failed: list[Failure] = []
    for video in videos:
        failure = failed_this_run(results, video, targets, run_started)
        finished = None if failure else _finished(results, video, targets)
        if failure:
            failed.append(dataclasses.replace(failure, earlier=earlier.get(video, "")))
        elif finished:
            qa, written = finished
            done.append((qa, "done" if written >= run_started else "unchanged"))
        else:
            failed.append(find_failure(results, video, targets, run_started))
    return done, failed


def _table(title: str, columns: list[str], rows: list[list], intro: str = "") -> list[str]:
    """A Markdown section with one table, or nothing when there are no rows."""
    if not rows:
        return []
    lines = [f"## {title}", ""] + ([intro, ""] if intro else [])
    lines += ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _cell(value: object) -> str:
    return str(round(value, 3) if isinstance(value, float) else value)


def _subtitled(done: list[tuple[QA, str]]) -> list[str]:
    """The table of finished videos, one row of QA figures each."""
    if not done:
        return []
    return [
        "## Subtitled",
        "",
        "| video | state | length | language | cues | dropped / collapsed / flagged lines "
        "| speech without text | retried translations | rule breaks left | tries "
        "| step time |",
        "|" + " --- |" * 11,
        *[_row(qa, state) for qa, state in done],
        "",
        "Details per video: results/videos/{video}/qa.json. Speech without text: "
        "seconds of speech that no word of the transcript covers after autokr "
        "decoded it again (and before).",
        "",
    ]


def write_summary(
    results: Path,
    videos: dict[str, Path],
    targets: list[str],
    skipped: list[Skipped],
    run_started: float,
    subtitles: Callable[[str], list[Path]] = lambda video: [],
) -> str:
    """Write ``results/summary.md`` and return its text.

    First, a video that failed in this run loses the outputs that belonged to
    an earlier input (see ``remove_outdated``); ``subtitles`` gives a video's
    subtitle files.
    """
    earlier = {}
    for video, source in videos.items():
        if failed_this_run(results, video, targets, run_started):
            earlier[video] = remove_outdated(results, video, source, targets, subtitles(video))
    text = summarise(results, videos, targets, skipped, run_started, earlier)
    write_text_atomic(results / "summary.md", text)
    return text
