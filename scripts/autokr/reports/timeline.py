"""A video's timeline: its speech against its subtitle cues, read from its records and drawn.

What the plot shows comes only from files a run leaves: the transcript (where
its words are, and the segments the guards dropped), the QA report (speech the
VAD heard that no word covers, cues that break a layout rule) and the subtitle
files themselves (the cues as a player shows them).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import srt

from autokr.core.errors import RecordError
from autokr.core.records import QA, Span, Transcript

#: Words closer than this (seconds) are drawn as one stretch of speech.
WORD_GAP = 0.3
#: A cue timing line of WebVTT (or SRT): ``00:01:02.500 --> 00:01:04.000``.
_CUE_TIMES = re.compile(r"^(\S+)\s+-->\s+(\S+)")
COLOURS = {"speech": "#3b82f6", "uncovered": "#f97316", "dropped": "#9ca3af", "cue": "#10b981"}


@dataclass(frozen=True)
class Timeline:
    """What a video's timeline plot shows, in seconds on the video's clock."""

    duration: float
    #: Where the transcript has words.
    speech: tuple[Span, ...]
    #: Speech the VAD heard where no word is, even after decoding it again.
    uncovered: tuple[Span, ...]
    #: Segments the guards dropped (lines Whisper invented over silence or music).
    dropped: tuple[Span, ...]
    #: Each subtitle language's cues, in the order of the subtitle files.
    cues: dict[str, tuple[Span, ...]]
    #: Each language's cues that break a layout rule, by start time.
    breaks: dict[str, tuple[float, ...]]


def read_timeline(qa: QA, transcript: Transcript, subtitles: dict[str, Path]) -> Timeline:
    """The timeline of a video from its records and its subtitle files (label -> path)."""
    return Timeline(
        duration=max(qa.duration, transcript.duration),
        speech=speech_spans(transcript),
        uncovered=tuple(qa.uncovered),
        dropped=tuple(Span(d.start, d.end) for d in qa.decisions if d.action == "dropped"),
        cues={label: cue_spans(path) for label, path in subtitles.items()},
        breaks={
            label: tuple(float(b["at"]) for b in found) for label, found in qa.rule_breaks.items()
        },
    )


def speech_spans(transcript: Transcript, gap: float = WORD_GAP) -> tuple[Span, ...]:
    """Where the transcript's words are, words less than ``gap`` apart joined.

    A segment without word timings (an edited transcript) counts whole.
    """
    pieces = sorted(
        (w.start, w.end)
        for seg in transcript.segments
        for w in (seg.words or [seg])  # a Segment has start and end too
    )
    spans: list[Span] = []
    for start, end in pieces:
        if spans and start - spans[-1].end <= gap:
            spans[-1] = Span(spans[-1].start, max(spans[-1].end, end))
        else:
            spans.append(Span(start, end))
    return tuple(spans)


def cue_spans(path: str | os.PathLike) -> tuple[Span, ...]:
    """The cues of an SRT or WebVTT file, as spans."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".srt":
        try:
            subs = list(srt.parse(text))
        except srt.SRTParseError as exc:
            raise RecordError(f"{path}: not a readable SRT file ({exc})") from None
        return tuple(Span(s.start.total_seconds(), s.end.total_seconds()) for s in subs)
    found = (_CUE_TIMES.match(line) for line in text.splitlines())
    return tuple(Span(_seconds(m[1], path), _seconds(m[2], path)) for m in found if m)


def _seconds(stamp: str, path: Path) -> float:
    """Seconds of a WebVTT time stamp (``01:02.500`` or ``00:01:02.500``)."""
    try:
        parts = [float(p) for p in stamp.replace(",", ".").split(":")]
    except ValueError:
        raise RecordError(f"{path}: {stamp!r} is not a cue time") from None
    return sum(value * 60**i for i, value in enumerate(reversed(parts)))


def draw_timeline(timeline: Timeline, path: str | os.PathLike) -> None:
    """Draw ``timeline`` as a PNG at ``path`` (written whole or not at all).

    matplotlib's object interface with the Agg canvas: no pyplot state, no
    display needed, and nothing is imported until a plot is drawn.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    lanes = _lanes(timeline)
    fig = Figure(figsize=(10, 0.9 + 0.42 * len(lanes)), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for row, (name, spans, colour) in enumerate(lanes):
        ax.broken_barh(
            [(s.start, max(s.end - s.start, 0.0)) for s in spans],
            (row - 0.35, 0.7),
            facecolors=colour,
            edgecolors=colour,
            linewidth=0.5,  # keeps a short span visible on a long video
        )
        times = timeline.breaks.get(name, ())
        ax.plot(times, [row - 0.45] * len(times), "v", color="#dc2626", markersize=6)
    ax.set_yticks(range(len(lanes)), [name for name, _, _ in lanes])
    ax.set_ylim(len(lanes) - 0.5, -0.6)
    ax.set_xlim(0, max(timeline.duration, 1.0))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda t, _: _clock(t)))
    ax.set_xlabel("time (red marks: cues that break a layout rule)")
    ax.grid(axis="x", alpha=0.3)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format="png")
    os.replace(tmp, path)


def _lanes(timeline: Timeline) -> list[tuple[str, tuple[Span, ...], str]]:
    """The rows of the plot, top to bottom: speech, then each language's cues."""
    lanes = [
        ("speech", timeline.speech, COLOURS["speech"]),
        ("no text", timeline.uncovered, COLOURS["uncovered"]),
    ]
    if timeline.dropped:
        lanes.append(("dropped", timeline.dropped, COLOURS["dropped"]))
    return lanes + [(label, spans, COLOURS["cue"]) for label, spans in timeline.cues.items()]


def _clock(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour on."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
