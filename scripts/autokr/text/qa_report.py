"""A video's QA report: what each step found, did, took and left to fix."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from autokr.core.memory import step_memory
from autokr.core.records import QA, Media, Run, Transcript, Translation
from autokr.text.layout import Layout
from autokr.text.text_source import describe


def video_qa(
    video: str,
    transcript: Transcript,
    translations: dict[str, Translation],
    media: Media | None,
    layouts: dict[str, Layout],
    settings: dict[str, Any],
    started: float,
) -> QA:
    """The QA report of one video, with the runs, models and audio facts of every step.

    ``settings`` are make_srt's own (frame rate, formats, bilingual); ``started``
    is when make_srt started, for its own seconds.
    """
    step = "transcribe" if transcript.source.kind == "speech" else "read_subtitles"
    runs = {step: transcript.run, **{f"translate.{k}": t.run for k, t in translations.items()}}
    runs = {"extract_audio": media.run, **runs} if media else runs
    qa = qa_report(video, transcript, translations, layouts, runs, started)
    records = {
        step: transcript.settings,
        **{f"translate.{k}": t.settings for k, t in translations.items()},
    }
    return dataclasses.replace(
        qa,
        settings=settings,
        models={step: str(s.get("model", "")) for step, s in records.items()},
        model_choice={
            step: s["model_choice"] for step, s in records.items() if s.get("model_choice")
        },
        audio_channels=media.audio_channels if media else "",
        audio_channels_note=media.audio_channels_note if media else "",
        audio_holes=media.audio_holes if media else (),
        glossary_missing={
            k: t.glossary_missing for k, t in translations.items() if t.glossary_missing
        },
    )


def qa_report(
    video: str,
    transcript: Transcript,
    translations: dict[str, Translation],
    layouts: dict[str, Layout],
    runs: dict[str, Run],
    started: float,
) -> QA:
    """A video's QA report: what each step found, did, took and left to fix."""
    own = step_memory()
    peaks = {step: max(run.peak_rss_mb, run.children_peak_rss_mb) for step, run in runs.items()}
    return QA(
        video=video,
        duration=transcript.duration,
        language=transcript.language,
        language_probability=transcript.language_probability,
        cues={label: len(lay.cues) for label, lay in layouts.items()},
        decisions=transcript.decisions,
        retries={label: t.retries for label, t in translations.items()},
        rule_breaks={
            label: [
                {**dataclasses.asdict(b), "cue": b.cue + 1, "at": round(lay.cues[b.cue].start, 3)}
                for b in lay.breaks
            ]
            for label, lay in layouts.items()
        },
        seconds={
            **{step: round(run.seconds, 3) for step, run in runs.items()},
            "make_srt": round(time.time() - started, 3),
        },
        # Tries a step took: above 1 when it ran out of memory and was retried lighter.
        attempts={s: r.attempt for s, r in runs.items() if s != "extract_audio"},
        peak_memory_mb={**peaks, "make_srt": max(own["peak_rss_mb"], own["children_peak_rss_mb"])},
        gpu_peak_mb={s: r.gpu_peak_mb for s, r in runs.items() if r.gpu_peak_mb is not None},
        # Batched pieces that failed a guard and were decoded again, and speech
        # that no word covered.
        transcription=transcript.mode,
        redecoded=transcript.redecoded,
        redecoded_seconds=transcript.redecoded_seconds,
        uncovered_before=transcript.uncovered_before,
        uncovered_after=transcript.uncovered_after,
        uncovered=transcript.uncovered,
        # Speech, or the video's own subtitles, and those passed over and why.
        text_source=describe(transcript.source),
        text_skipped=transcript.source.skipped,
    )
