"""The figures of a finished video, from its QA report: computed once, shown by the summary's
Subtitled table and the batch page's table of videos."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from autokr.core.records import QA
from autokr.translation.scenes import FALLBACK


@dataclass(frozen=True)
class QAFigures:
    """A finished video's figures, formatted as both tables show them."""

    #: The video's length: ``600 s``.
    length: str
    #: The language heard and how sure Whisper was: ``ja (0.99)``.
    language: str
    #: Cues per subtitle file: ``ja 40, ko 38``.
    cues: str
    #: Lines the guards dropped, collapsed and flagged: ``1 / 0 / 2``.
    lines: str
    #: Seconds of speech without text, after decoding again and before: ``1.2 s``, ``6.5 s``.
    uncovered: str
    uncovered_before: str
    #: How many stretches of speech are left without text.
    uncovered_places: int
    #: Translations retried, and rule breaks left.
    retried: str  # "3", or "12 (9 by NLLB)" where an instruction model's failed
    rule_breaks: int
    #: The most tries a step took, and the steps that took more than one.
    tries: int
    tried_again: tuple[str, ...]
    #: The time of all steps together (``22 s``), and of each (``transcribe 20.3 s``).
    step_time: str
    step_times: tuple[str, ...]
    #: Each step's peak memory: ``transcribe 1234 MB (GPU 2000 MB)``.
    memory: tuple[str, ...]


def qa_figures(qa: QA) -> QAFigures:
    """The figures of a finished video, from its QA report."""
    actions = Counter(d.action for d in qa.decisions)
    return QAFigures(
        length=f"{qa.duration:.0f} s",
        language=f"{qa.language} ({qa.language_probability:.2f})",
        cues=", ".join(f"{label} {n}" for label, n in qa.cues.items()),
        lines=f"{actions['dropped']} / {actions['collapsed']} / {actions['flagged']}",
        uncovered=f"{qa.uncovered_after:.1f} s",
        uncovered_before=f"{qa.uncovered_before:.1f} s",
        uncovered_places=len(qa.uncovered),
        retried=_retried(qa),
        rule_breaks=sum(len(found) for found in qa.rule_breaks.values()),
        tries=max(qa.attempts.values(), default=1),
        tried_again=tuple(step for step, n in qa.attempts.items() if n > 1),
        step_time=f"{sum(qa.seconds.values()):.0f} s",
        step_times=tuple(f"{step} {s:.1f} s" for step, s in qa.seconds.items()),
        memory=tuple(
            f"{step} {mb:.0f} MB{_gpu(qa, step)}" for step, mb in qa.peak_memory_mb.items()
        ),
    )


def _retried(qa: QA) -> str:
    """Translations retried; those an instruction model failed and NLLB made, in brackets."""
    retries = [r for found in qa.retries.values() for r in found]
    by_nllb = sum(r.method == FALLBACK for r in retries)
    return f"{len(retries)}" + (f" ({by_nllb} by NLLB)" if by_nllb else "")


def _gpu(qa: QA, step: str) -> str:
    """A step's peak GPU memory, where it ran on CUDA."""
    return f" (GPU {qa.gpu_peak_mb[step]:.0f} MB)" if step in qa.gpu_peak_mb else ""
