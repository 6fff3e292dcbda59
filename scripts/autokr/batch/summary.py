"""The morning report of a batch: ``results/summary.md``, also printed.

Written by the Snakefile's ``onsuccess``/``onerror`` handlers, so it costs no
job and appears even when videos failed. It reads only files on disk (QA
reports and logs), so it tells the state of the whole folder: what this run
finished, what was already finished, what was skipped and what failed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autokr.batch.discovery import Skipped
from autokr.core.errors import RecordError
from autokr.core.records import QA, InputFile, read_qa, read_record, write_record, write_text_atomic


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
    """One job of a video: its name in the summary, its log under results/, its rule."""

    name: str
    log: str
    rule: str
    wildcards: tuple[str, ...]


def steps_of(video: str, targets: list[str], results: Path | None = None) -> list[Step]:
    """A video's jobs, in the order they run (the transcript's as ``transcript_step``)."""
    return [
        Step("extract_audio", f"logs/extract_audio/{video}.log", "extract_audio", (video,)),
        transcript_step(video, results),
        *[
            Step(f"translate {t}", f"logs/translate/{video}.{t}.log", "translate", (video, t))
            for t in targets
        ],
        Step("make_srt", f"logs/make_srt/{video}.log", "make_srt", (video,)),
    ]


def transcript_step(video: str, results: Path | None = None) -> Step:
    """The job that makes a video's transcript: read_subtitles (its own subtitles) where
    that ran last under ``results``, else transcribe."""
    speech = Step("transcribe", f"logs/transcribe/{video}.log", "transcribe", (video,))
    text = Step("read_subtitles", f"logs/read_subtitles/{video}.log", "read_subtitles", (video,))
    if results is None or not (results / text.log).exists():
        return speech
    if not (results / speech.log).exists():
        return text
    newer = (results / text.log).stat().st_mtime >= (results / speech.log).stat().st_mtime
    return text if newer else speech


def find_failure(results: Path, video: str, targets: list[str], since: float = 0.0) -> Failure:
    """The first step of ``video`` whose log ends in an autokr error, or that never finished."""
    for step in steps_of(video, targets, results):
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
    for step in steps_of(video, targets, results):
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


#: The cause of a step stopped by Ctrl-C.
INTERRUPTED = "interrupted (Ctrl-C) before it finished; the next run does it"
#: What ``remove_outdated`` says.
KEPT = "subtitles from an earlier run kept (same input)"
REMOVED = "subtitles of the earlier input removed"
#: Bytes read from each end of an input to tell its content (``input_fingerprint``).
_END = 1 << 20


def remove_outdated(
    results: Path, video: str, source: Path, targets: list[str], subtitles: list[Path]
) -> str:
    """Remove a failed video's QA report, translations and subtitles when they belong to an
    earlier input; say what became of them.

    Subtitles of a file since replaced would look current beside the new one
    (and a player would show them with it), so they go; the next run that
    succeeds makes them again. When the input holds what it held when they were
    made (it may have been touched: a new time is no new content), they still
    fit it and are kept.
    """
    folder = results / "videos" / video
    qa = folder / "qa.json"
    if not qa.exists():
        return ""
    if not input_replaced(folder / "input.json", source, qa):
        return KEPT
    for path in [qa, *(folder / f"translation.{t}.json" for t in targets), *subtitles]:
        path.unlink(missing_ok=True)
    (folder / "input.json").unlink(missing_ok=True)
    return REMOVED


def input_replaced(record: Path, source: Path, qa: Path) -> bool:
    """Whether ``source`` holds other content than the input recorded in ``record``.

    Where an earlier autokr recorded none, an input newer than the QA report
    ``qa`` counts as replaced, as it did then.
    """
    try:
        if record.exists():
            try:
                return not same_input(source, read_record(InputFile, record))
            except RecordError:
                pass  # damaged: as if none were recorded
        return source.stat().st_mtime > qa.stat().st_mtime
    except OSError:  # the input is gone
        return True


def input_fingerprint(source: Path) -> InputFile:
    """What tells an input's content cheaply: its size and the SHA-256 of its first and
    last MiB (a different video never shares both), with its time to skip even that."""
    stat = source.stat()
    digest = hashlib.sha256()
    with open(source, "rb") as f:
        digest.update(f.read(_END))
        if stat.st_size > 2 * _END:
            f.seek(-_END, 2)
        digest.update(f.read(_END))
    return InputFile(str(source), stat.st_size, stat.st_mtime_ns, digest.hexdigest())


def same_input(source: Path, recorded: InputFile) -> bool:
    """True when ``source`` holds the content ``recorded`` (OSError when unreadable)."""
    stat = source.stat()
    if stat.st_size != recorded.size:
        return False
    if stat.st_mtime_ns == recorded.mtime_ns:
        return True
    return input_fingerprint(source).ends_sha256 == recorded.ends_sha256


def record_input(results: Path, video: str, source: Path, run_started: float) -> None:
    """Record the input of a video whose subtitles are current: when this run made them,
    or when none is recorded and the input is older than them (an earlier autokr's)."""
    folder = results / "videos" / video
    record, qa = folder / "input.json", folder / "qa.json"
    try:
        made = qa.stat().st_mtime
        if made < run_started and (record.exists() or source.stat().st_mtime > made):
            return
        write_record(input_fingerprint(source), record)
    except OSError:  # no QA report, or the input went meanwhile: nothing to record
        return


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
    stopped = [f for f in failed if f.interrupted]
    failed = [f for f in failed if not f.interrupted]
    head = ["# autokr summary", "", _headline(done, failed, skipped, run_started, stopped), ""]
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
        _interrupted(stopped, videos),
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
            "Text from subtitles",
            ["video", "text from", "passed over"],
            [
                [qa.video, qa.text_source, "; ".join(qa.text_skipped) or "-"]
                for qa in qas
                if qa.text_source != "speech" or qa.text_skipped
            ],
            "Videos whose transcript is their own subtitles (transcribe.source), and "
            "subtitles passed over and why; every other video's text is its speech.",
        ),
        _table(
            "Audio",
            ["video", "heard", "holes filled with silence"],
            [
                [qa.video, _heard(qa) or "-", _holes(qa)]
                for qa in qas
                if _heard(qa) or qa.audio_holes
            ],
            "Videos whose speech was not simply all of a mono or stereo track (a surround "
            "track's centre, one side of a bilingual one), or whose track has stretches with "
            "no audio (a drop-out in a recording): each hole is filled with silence where "
            "it is, so the speech after it keeps its time.",
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


def _interrupted(stopped: list[Failure], videos: dict[str, Path]) -> list[str]:
    """The videos whose step Ctrl-C stopped: no failure, and what they kept."""
    return _table(
        "Interrupted",
        ["file", "step", "log", "earlier subtitles"],
        [[videos[f.video], f.step, f.log, f.earlier or "none"] for f in stopped],
        "Stopped by Ctrl-C before they finished: no failure; the next run does them.",
    )


def _heard(qa: QA) -> str:
    """The channels heard, unless all of a mono or stereo track, and any note."""
    plain = qa.audio_channels in ("", "mono", "downmix of stereo")
    if plain and not qa.audio_channels_note:
        return ""
    return qa.audio_channels + (f" ({qa.audio_channels_note})" if qa.audio_channels_note else "")


def _holes(qa: QA) -> str:
    return ", ".join(f"{h.end - h.start:.1f} s at {h.start:.2f} s" for h in qa.audio_holes) or "-"


def _headline(
    done,
    failed: list[Failure],
    skipped: list[Skipped],
    run_started: float,
    stopped: list[Failure] = (),  # type: ignore[assignment]
) -> str:
    """When, and how many inputs were done, unchanged, skipped, failed and interrupted."""
    states = Counter(state for _, state in done)
    kinds = Counter(s.kind for s in skipped)
    why = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    return (
        f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(run_started))}: "
        f"{len(done) + len(failed) + len(skipped) + len(stopped)} inputs: "
        f"{states['done']} done, {states['unchanged']} unchanged, {len(skipped)} skipped"
        f"{f' ({why})' if why else ''}, {len(failed)} failed"
        f"{f', {len(stopped)} interrupted' if stopped else ''}."
    )


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
    outdated: list[str] | None = None,
) -> str:
    """Write ``results/summary.md`` and return its text.

    First, a video that failed in this run loses the outputs that belonged to
    an earlier input (see ``remove_outdated``; ``subtitles`` gives a video's
    subtitle files), and ``outdated`` gets its id; one interrupted keeps them.
    The input of a video whose subtitles are current is recorded, to tell
    later whether it was replaced.
    """
    earlier = {}
    for video, source in videos.items():
        failure = failed_this_run(results, video, targets, run_started)
        if failure is None:
            record_input(results, video, source, run_started)
        elif not failure.interrupted:
            earlier[video] = remove_outdated(results, video, source, targets, subtitles(video))
            if earlier[video] == REMOVED and outdated is not None:
                outdated.append(video)
    text = summarise(results, videos, targets, skipped, run_started, earlier)
    write_text_atomic(results / "summary.md", text)
    return text
