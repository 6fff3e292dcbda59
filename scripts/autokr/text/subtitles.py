"""Laid-out cues -> subtitle files: SRT (through the ``srt`` library), WebVTT, bilingual."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import srt

from autokr.core.record_files import write_text_atomic
from autokr.core.records import Transcript, Translation
from autokr.text.layout import Cue, Layout, Rules, wrap
from autokr.text.sentences import SentenceOptions, join_sentences


@dataclass(frozen=True)
class SubtitlePaths:
    """The files ``make_srt`` writes for one video."""

    files: dict[tuple[str, str], str]  # (label, format) -> path
    bilingual: dict[str, str]  # target label -> path


def subtitle_paths(
    prefix: str, source: str, targets: list[str], formats: list[str], bilingual: bool
) -> SubtitlePaths:
    """Where the subtitles of a video go: ``{prefix}.{label}.{format}`` and bilingual files.

    The Snakefile declares these paths and the step writes them, both from here.
    """
    labels = [source, *targets]
    files = {(label, fmt): f"{prefix}.{label}.{fmt}" for label in labels for fmt in formats}
    pairs = {t: f"{prefix}.{source}-{t}.srt" for t in targets} if bilingual else {}
    return SubtitlePaths(files, pairs)


def source_cues(transcript: Transcript, options: SentenceOptions | None = None) -> list[Cue]:
    """The source-language cues: the transcript's sentences, piece by piece."""
    return [
        Cue(piece.start, piece.end, piece.text, piece.text)
        for sentence in join_sentences(transcript.segments, options)
        for piece in sentence.pieces
    ]


def target_cues(translation: Translation) -> list[Cue]:
    """The target-language cues, each with the source text it translates."""
    return [Cue(c.start, c.end, c.source, c.text) for c in translation.cues]


def _subtitles(layout: Layout, lines: list[list[str]] | None = None) -> list[srt.Subtitle]:
    return [
        srt.Subtitle(
            index=i + 1,
            start=timedelta(seconds=round(cue.start, 3)),
            end=timedelta(seconds=round(cue.end, 3)),
            content="\n".join(cue_lines),
        )
        for i, (cue, cue_lines) in enumerate(zip(layout.cues, lines or layout.lines, strict=True))
    ]


def compose_srt(layout: Layout) -> str:
    """SRT text of a layout ('' for no cues, which players read as an empty file)."""
    subs = _subtitles(layout)
    return srt.compose(subs, reindex=False) if subs else ""


def compose_vtt(layout: Layout) -> str:
    """WebVTT text of a layout."""
    blocks = ["WEBVTT", ""]
    for sub in _subtitles(layout):
        blocks += [f"{_vtt_time(sub.start)} --> {_vtt_time(sub.end)}", _vtt_text(sub.content), ""]
    return "\n".join(blocks)


def _vtt_text(text: str) -> str:
    """Cue text as WebVTT reads it: ``&``, ``<`` and ``>`` as character references.

    In WebVTT cue text ``&`` starts a character reference and ``<`` a tag, and
    ``-->`` may not appear at all; a player would drop or mangle them.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt_time(t: timedelta) -> str:
    ms = round(t.total_seconds() * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def compose_bilingual(layout: Layout, source_rules: Rules) -> str:
    """SRT with the source lines over the target lines of each cue (up to 4 lines)."""
    lines = [
        [*(wrap(cue.source, source_rules) or [cue.source]), *cue_lines] if cue.source else cue_lines
        for cue, cue_lines in zip(layout.cues, layout.lines, strict=True)
    ]
    subs = _subtitles(layout, lines)
    return srt.compose(subs, reindex=False) if subs else ""


def write_layout(layout: Layout, path: str | os.PathLike, fmt: str) -> None:
    """Write a layout as ``fmt`` (srt or vtt), atomically."""
    text = {"srt": compose_srt, "vtt": compose_vtt}[fmt](layout)
    write_text_atomic(path, text)
