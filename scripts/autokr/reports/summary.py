"""The morning report of a batch: ``results/summary.md``, also printed.

Written by the Snakefile's ``onsuccess``/``onerror`` handlers, so it costs no
job and appears even when videos failed. It reads only files on disk (QA
reports and logs), so it tells the state of the whole folder: what this run
finished, what was already finished, what was skipped and what failed.

This module is the only writer of ``results/summary.md``; publishing gives it
the lines of its Published section (``autokr.publishing.summary_section``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from autokr.batch.discovery import Skipped
from autokr.core.record_files import write_text_atomic
from autokr.core.records import QA
from autokr.core.results_layout import QA_REPORT, SUMMARY, result_path
from autokr.publishing.summary_section import published_section
from autokr.reports.failures import Failure, failed_this_run, model_failures, sort_out
from autokr.reports.qa_figures import qa_figures
from autokr.reports.replaced_inputs import REMOVED, record_input, remove_outdated


def _row(qa: QA, state: str) -> str:
    """A finished video's row of the Subtitled table."""
    f = qa_figures(qa)
    return (
        f"| {qa.video} | {state} | {f.length} | {f.language} | {f.cues} | {f.lines} "
        f"| {f.uncovered} (was {f.uncovered_before}) "
        f"| {f.retried} | {f.rule_breaks} | {f.tries} | {f.step_time} |"
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
        *_details([qa for qa, _ in done]),
    ]
    return "\n".join(head + [line for section in sections for line in section])


def _details(qas: list[QA]) -> list[list[str]]:
    """The sections on the finished videos' details: speech without text, text from
    subtitles, audio, rule breaks and glossary terms not kept (each left out when it
    has no rows)."""
    return [
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
        _glossary_missing(qas),
    ]


def _glossary_missing(qas: list[QA]) -> list[str]:
    """The videos whose translations lost a term of translate.glossary, and how often."""
    return _table(
        "Glossary terms not kept",
        ["video", "language", "sentences", "terms"],
        [
            [
                qa.video,
                label,
                len({m.sentence for m in found}),
                ", ".join(sorted({f"{m.term} -> {m.target}" for m in found})),
            ]
            for qa in qas
            for label, found in qa.glossary_missing.items()
        ],
        "Sentences whose translation does not hold a term of translate.glossary as "
        "written (each is in the video's qa.json, under glossary_missing, with its "
        "translation): those subtitle lines need fixing by hand.",
    )


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
        f"Details per video: {QA_REPORT}. Speech without text: "
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
    """Write ``results/summary.md`` at the end of a run (which holds the lock); return its text.

    First, a video that failed in this run loses the outputs that belonged to
    an earlier input (see ``remove_outdated``; ``subtitles`` gives a video's
    subtitle files); one interrupted keeps them. The input of a video whose
    subtitles are current is recorded, to tell later whether it was replaced.
    Then what was published is settled (see ``published_section``: copies of
    videos that are gone, and of those replaced, are taken back) and listed.
    """
    earlier, replaced = {}, []
    for video, source in videos.items():
        failure = failed_this_run(results, video, targets, run_started)
        if failure is None:
            record_input(results, video, source, run_started)
        elif not failure.interrupted:
            earlier[video] = remove_outdated(results, video, source, targets, subtitles(video))
            if earlier[video] == REMOVED:
                replaced.append(video)
    text = summarise(results, videos, targets, skipped, run_started, earlier)
    _save(results, text)  # first: whatever the take-backs meet, the batch is told
    published = published_section(results, videos, run_started, replaced)
    if published:
        text = text.rstrip("\n") + "\n\n" + "\n".join(published)
        _save(results, text)
    return text


def _save(results: Path, text: str) -> None:
    """Write ``results/summary.md``: the one place that writes it."""
    write_text_atomic(result_path(SUMMARY, results), text)
