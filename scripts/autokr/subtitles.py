"""Timed text -> subtitle files, through the ``srt`` library."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import srt

from autokr.records import Transcript, Translation, write_text_atomic


@dataclass(frozen=True)
class Line:
    """One cue before numbering: times in seconds and its text."""

    start: float
    end: float
    text: str


def lines_from_transcript(transcript: Transcript) -> list[Line]:
    """The source-language cues: one per transcribed segment."""
    return [Line(s.start, s.end, s.text) for s in transcript.segments]


def lines_from_translation(translation: Translation) -> list[Line]:
    """The target-language cues: one per translated cue."""
    return [Line(c.start, c.end, c.text) for c in translation.cues]


def to_subtitles(lines: Iterable[Line]) -> list[srt.Subtitle]:
    """Number the cues in time order, drop empty ones, and end each before the next starts."""
    kept = sorted((ln for ln in lines if ln.text.strip()), key=lambda ln: (ln.start, ln.end))
    subs = []
    for i, line in enumerate(kept):
        end = line.end
        if i + 1 < len(kept):
            end = min(end, kept[i + 1].start)
        end = max(end, line.start)
        subs.append(
            srt.Subtitle(
                index=i + 1,
                start=timedelta(seconds=round(line.start, 3)),
                end=timedelta(seconds=round(end, 3)),
                content=line.text.strip(),
            )
        )
    return subs


def write_srt(lines: Iterable[Line], path: str | os.PathLike) -> int:
    """Write an SRT file atomically; return the number of cues (0 makes a valid empty file)."""
    subs = to_subtitles(lines)
    write_text_atomic(path, srt.compose(subs, reindex=False) if subs else "")
    return len(subs)
