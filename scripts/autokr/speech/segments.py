"""Segments and the speech they cover: what no word covers, and segments cut, split and merged.

Whisper's batched pipeline glues speech from across a file into one segment
and can leave a whole sentence out with no sign; the words keep their true
times. Everything here works on those times: finding speech no word covers,
the clips that are decoded again, and putting what they give back in its
place. Nothing here runs a model.
"""

from __future__ import annotations

import dataclasses

from autokr.core.records import Segment, Span, Word

#: Speech (seconds) with no word on it that is decoded again, and that counts
#: as uncovered in the record: shorter gaps are breaths and word-timing slack.
MIN_UNCOVERED = 1.0
#: How far (seconds) a word's timing may be off and still cover its speech.
WORD_SLACK = 0.2
#: Silence (seconds) added around speech that is decoded again.
CLIP_PAD = 0.2
#: Speech this close (seconds, padding included) is decoded again as one clip.
JOIN_GAP = 1.0


def uncovered_speech(
    speech: list[Span], segments: list[Segment], shortest: float = MIN_UNCOVERED
) -> list[Span]:
    """Stretches of speech, ``shortest`` seconds or longer, that no word of ``segments`` covers.

    The batched pipeline can leave out a whole sentence with no sign in what
    it returns (no segment, no low score): only the audio shows it. A segment
    without word timings covers its whole span.
    """
    covered = sorted(
        (w.start - WORD_SLACK, w.end + WORD_SLACK)
        for seg in segments
        for w in (seg.words or [Word(seg.start, seg.end, seg.text, 1.0)])
    )
    found = []
    for span in speech:
        at = span.start
        for start, end in covered:
            if end <= at or start >= span.end:
                continue
            if start - at >= shortest:
                found.append(Span(round(at, 3), round(start, 3)))
            at = max(at, end)
        if span.end - at >= shortest:
            found.append(Span(round(at, 3), span.end))
    return found


def decoding_clips(spans: list[Span]) -> list[Span]:
    """Spans padded a little, and joined where they nearly touch: what is decoded again.

    VAD cuts speech at every breath; a sentence decoded in one piece reads
    better than its halves decoded apart.
    """
    clips: list[Span] = []
    for span in spans:
        start, end = max(0.0, span.start - CLIP_PAD), span.end + CLIP_PAD
        if clips and start - clips[-1].end < JOIN_GAP:
            clips[-1] = Span(clips[-1].start, end)
        else:
            clips.append(Span(start, end))
    return clips


def speech_within(speech: list[Span], start: float, end: float) -> list[Span]:
    """The speech between ``start`` and ``end``, padded a little: what a piece is decoded over.

    A glued batched segment can span minutes of music between two sentences;
    only its speech is decoded again. Spans close together are decoded as one.
    """
    inside = [
        Span(max(s.start, start), min(s.end, end))
        for s in speech
        if s.end > start and s.start < end
    ]
    return decoding_clips(inside or [Span(start, end)])


def words_within(seg: Segment, spans: list[Span]) -> list[Segment]:
    """The words of ``seg`` heard inside ``spans`` (not in the padding), as segments."""

    def inside(start: float, end: float) -> bool:
        mid = (start + end) / 2
        return any(s.start - WORD_SLACK <= mid <= s.end + WORD_SLACK for s in spans)

    if not _words_match(seg):
        return [seg] if inside(seg.start, seg.end) else []
    words = tuple(w for w in seg.words if inside(w.start, w.end))
    if not words:
        return []
    text = "".join(w.word for w in words).strip()
    return [
        dataclasses.replace(seg, start=words[0].start, end=words[-1].end, text=text, words=words)
    ]


def merge_segments(segments: list[Segment], new: list[Segment]) -> list[Segment]:
    """``new`` put into ``segments`` in time order, by word times.

    A segment that the new one falls inside (the batched pipeline's segments
    can span 30 s) is cut at the new one's start, where its words allow.
    """
    out = list(segments)
    for seg in sorted(new, key=lambda s: s.start):
        cut: list[Segment] = []
        for old in out:
            cut += _cut(old, seg.start) if old.start < seg.start < old.end else [old]
        out = sorted([*cut, seg], key=lambda s: s.start)
    return out


def _cut(seg: Segment, at: float) -> list[Segment]:
    """``seg`` as its words before ``at`` and its words after (whole if they do not match)."""
    if not _words_match(seg):
        return [seg]
    before = tuple(w for w in seg.words if (w.start + w.end) / 2 < at)
    after = seg.words[len(before) :]
    return [
        dataclasses.replace(
            seg, start=g[0].start, end=g[-1].end, text="".join(w.word for w in g).strip(), words=g
        )
        for g in (before, after)
        if g
    ]


def _words_match(seg: Segment) -> bool:
    """True when the segment's words spell its text (a user may have edited the text)."""
    return bool(seg.words) and "".join(w.word for w in seg.words).strip() == seg.text


#: Silence (seconds) between two words of one batched segment that splits it.
SPLIT_PAUSE = 2.0


def split_at_pauses(seg: Segment, pause: float = SPLIT_PAUSE) -> list[Segment]:
    """Split a batched segment where its words are far apart.

    The batched pipeline glues speech chunks from across the file into one
    30-second window and reports it as one segment spanning all of them (seen:
    one segment from 5 to 55 minutes). Its words keep their true times.
    """
    if not _words_match(seg):
        return [seg]
    groups: list[list] = [[seg.words[0]]]
    for word in seg.words[1:]:
        if word.start - groups[-1][-1].end >= pause:
            groups.append([])
        groups[-1].append(word)
    return [
        dataclasses.replace(
            seg,
            start=g[0].start,
            end=g[-1].end,
            text="".join(w.word for w in g).strip(),
            words=tuple(g),
        )
        for g in groups
    ]


def shifted(seg: Segment, offset: float) -> Segment:
    """``seg`` moved ``offset`` seconds later, its words with it (a clip's times on the file's)."""
    words = tuple(
        dataclasses.replace(w, start=w.start + offset, end=w.end + offset) for w in seg.words
    )
    return dataclasses.replace(seg, start=seg.start + offset, end=seg.end + offset, words=words)


def from_whisper(seg) -> Segment:
    """A faster-whisper segment as autokr's record, in plain floats."""
    words = tuple(
        Word(float(w.start), float(w.end), w.word, float(w.probability)) for w in (seg.words or ())
    )
    return Segment(
        start=float(seg.start),
        end=float(seg.end),
        text=seg.text.strip(),
        no_speech_prob=float(seg.no_speech_prob),
        avg_logprob=float(seg.avg_logprob),
        compression_ratio=float(seg.compression_ratio),
        words=words,
    )
