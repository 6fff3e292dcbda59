"""Joining Whisper's words into sentences, and sharing a translation back onto timings.

Whisper's segments end wherever its 30-second window or its timestamp tokens
put them, so a Japanese segment is often half a sentence. Translating whole
sentences gives NLLB what it was trained on; the translation is then shared
out over the stretches of speech the sentence came from, so cues stay in
sync with the voice.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from dataclasses import dataclass

from autokr.core.defaults import schema_default
from autokr.core.records import Segment, TimedText

#: Marks that end a sentence, quotes and brackets that may close it, and marks
#: that end a clause: the one list that sentences, line breaks and MT retries use.
_SENTENCE_MARKS = ".!?。！？…"
_CLOSERS = "\"'」』）)"
_CLAUSE_MARKS = ",，、;；:："
#: A sentence end where it occurs in a text (closing quotes included).
SENTENCE_END = re.compile(f"[{re.escape(_SENTENCE_MARKS)}]+[{re.escape(_CLOSERS)}]*")
#: A clause end where it occurs in a text.
CLAUSE_END = re.compile(f"[{re.escape(_CLAUSE_MARKS)}]")
#: The empty places just after clause ends, to cut a sentence into its clauses.
CLAUSE_BREAK = re.compile(f"(?<=[{re.escape(_CLAUSE_MARKS)}])")
#: Thai vowels written before the consonant they follow in speech: a cut after
#: one parts it from its syllable.
_THAI_LEADING_VOWELS = "เแโใไ"
#: Thai vowels and marks that are letters of their own but belong to the
#: syllable before them: a cut before one parts them from it.
_THAI_FOLLOWING = "ะาำๅๆ"


def ends_sentence(text: str) -> bool:
    """True when ``text`` ends with a sentence mark (closing quotes may follow it)."""
    text = text.rstrip(_CLOSERS)
    return bool(text) and text[-1] in _SENTENCE_MARKS


def ends_clause(text: str) -> bool:
    """True when ``text`` ends with a clause mark (a comma or its CJK kin)."""
    return bool(text) and text[-1] in _CLAUSE_MARKS


def may_cut_at(text: str, i: int) -> bool:
    """True when ``text`` may be cut before index ``i`` without parting a letter from its marks.

    Combining marks (Thai vowels above and below, tone marks) stay with the
    letter before them, and Thai vowels written around a consonant stay with it.
    """
    if i <= 0 or i >= len(text):
        return True
    after, before = text[i], text[i - 1]
    return not (
        unicodedata.category(after).startswith("M")
        or after in _THAI_FOLLOWING
        or before in _THAI_LEADING_VOWELS
    )


def repeats_itself(text: str, times: int) -> bool:
    """True when some run of two or more characters comes ``times`` times in a row.

    Spaces are ignored, so a loop over words counts as well as one inside a word.
    """
    loop = re.compile(f"(.{{2,}}?)\\1{{{times - 1},}}")
    return loop.search("".join(text.split())) is not None


#: A stretch of speech inside a sentence: its timing and source text.
Piece = TimedText


@dataclass(frozen=True)
class Sentence:
    """A sentence to translate, and the pieces of speech it is made of."""

    text: str
    pieces: tuple[Piece, ...]

    @property
    def start(self) -> float:
        return self.pieces[0].start

    @property
    def end(self) -> float:
        return self.pieces[-1].end


@dataclass(frozen=True)
class SentenceOptions:
    """Where sentences end besides their punctuation.

    max_pause: a silence this long (seconds) between words ends a sentence.
    max_chars: a sentence longer than this is cut at its best clause boundary.
    piece_pause: a silence this long inside a sentence starts a new piece
        (a new cue), so a subtitle is not on screen across a long pause.
    max_piece_seconds: a piece longer than this is cut at a clause boundary.
    """

    max_pause: float = schema_default("translate.sentences.max_pause")
    max_chars: int = schema_default("translate.sentences.max_chars")
    piece_pause: float = schema_default("translate.sentences.piece_pause")
    max_piece_seconds: float = schema_default("translate.sentences.max_piece_seconds")


@dataclass(frozen=True)
class _Unit:
    start: float
    end: float
    text: str


def _units(segments: tuple[Segment, ...] | list[Segment]) -> list[_Unit]:
    """Words where they still spell the segment's text; the whole segment where not.

    A user who fixes a misheard line edits the segment text and not its words,
    so a segment whose words no longer match its text is taken as one unit.
    """
    units: list[_Unit] = []
    for seg in segments:
        words = [w for w in seg.words if w.word.strip()]
        if words and _squash("".join(w.word for w in words)) == _squash(seg.text):
            units += [_Unit(w.start, max(w.end, w.start), w.word) for w in words]
        elif seg.text.strip():
            units.append(_Unit(seg.start, seg.end, seg.text))
        # A boundary marker, so pieces never run across segment ends.
        if units:
            units[-1] = _Unit(units[-1].start, units[-1].end, units[-1].text + "\0")
    return units


def _squash(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def join_text(parts: list[str]) -> str:
    """Join word texts as Whisper wrote them (spaces are part of its word tokens)."""
    return " ".join("".join(parts).split())


def join_sentences(
    segments: tuple[Segment, ...] | list[Segment], options: SentenceOptions | None = None
) -> list[Sentence]:
    """Group the transcript's words into sentences, each with its pieces of speech."""
    options = options or SentenceOptions()
    sentences: list[Sentence] = []
    current: list[_Unit] = []

    def flush() -> None:
        if current:
            sentences.extend(_cap_length(list(current), options))
            current.clear()

    for unit in _units(segments):
        if current and unit.start - current[-1].end >= options.max_pause:
            flush()
        current.append(unit)
        if ends_sentence(unit.text.rstrip("\0").strip()):
            flush()
    flush()
    return sentences


def _cap_length(units: list[_Unit], options: SentenceOptions) -> list[Sentence]:
    text = join_text([u.text.replace("\0", "") for u in units])
    if len(text) <= options.max_chars or len(units) < 2:
        return [_sentence(units, options)]
    cut = _best_cut(units)
    return _cap_length(units[:cut], options) + _cap_length(units[cut:], options)


def _best_cut(units: list[_Unit]) -> int:
    """Index to cut a run of units: a clause end near the middle, else the longest pause."""
    middle = len(units) / 2

    def score(i: int) -> float:
        text = units[i - 1].text.replace("\0", "").strip()
        pause = units[i].start - units[i - 1].end
        bonus = 3 if ends_clause(text) else 2 if units[i - 1].text.endswith("\0") else 0
        return bonus + pause * 2 - abs(i - middle) / max(middle, 1)

    return max(range(1, len(units)), key=score)


def _sentence(units: list[_Unit], options: SentenceOptions) -> Sentence:
    pieces: list[list[_Unit]] = [[]]
    for unit in units:
        if pieces[-1]:
            prev = pieces[-1][-1]
            if prev.text.endswith("\0") or unit.start - prev.end >= options.piece_pause:
                pieces.append([])
        pieces[-1].append(unit)
    split: list[list[_Unit]] = []
    for group in pieces:
        split += _cap_piece(group, options)
    text = join_text([u.text.replace("\0", "") for u in units])
    return Sentence(
        text,
        tuple(
            Piece(g[0].start, g[-1].end, join_text([u.text.replace("\0", "") for u in g]))
            for g in split
        ),
    )


def _cap_piece(units: list[_Unit], options: SentenceOptions) -> list[list[_Unit]]:
    if units[-1].end - units[0].start <= options.max_piece_seconds or len(units) < 2:
        return [units]
    cut = _best_cut(units)
    return _cap_piece(units[:cut], options) + _cap_piece(units[cut:], options)


def share_text(text: str, pieces: tuple[Piece, ...] | list[Piece], by_space: bool) -> list[str]:
    """Share a translation over pieces in proportion to their source length.

    Cuts fall at spaces when ``by_space`` (Korean, English ...), so a word is
    never cut; else between characters (never between a letter and its
    marks). Every piece gets some text when there are places enough to cut;
    where there are not (one Korean word over two pieces), each word goes whole
    to the piece whose share it falls in, and the others get "" (no subtitle).
    The parts joined give back the whole translation.
    """
    text = " ".join(text.split())
    if len(pieces) <= 1 or not text:
        return [text] + [""] * max(len(pieces) - 1, 0)
    weights = [max(len(_squash(p.text)), 1) for p in pieces]
    total = sum(weights)
    targets = [len(text) * acc / total for acc in itertools.accumulate(weights[:-1])]
    if by_space:
        places = [i for i, ch in enumerate(text) if ch == " "]
    else:
        # Not before a space: the cut after it gives the same parts.
        places = [i for i in range(1, len(text)) if text[i] != " " and may_cut_at(text, i)]
    if len(places) >= len(targets):
        cuts = _nearest_cuts(targets, places, strict=True)
    else:
        cuts = _nearest_cuts(targets, [0, *places, len(text)], strict=False)
    bounds = [0, *cuts, len(text)]
    return [text[a:b].strip() for a, b in itertools.pairwise(bounds)]


def _nearest_cuts(targets: list[float], places: list[int], strict: bool) -> list[int]:
    """One cut per target, taken from ``places`` in order, as near the targets as can be.

    ``strict``: no two cuts at one place (every part gets something). Ties go
    to the later place, so a lone word goes to the earlier piece.
    """
    cost = [abs(p - targets[0]) for p in places]
    back: list[list[int]] = []
    for target in targets[1:]:
        best, at = math.inf, -1
        row, choice = [], []
        for j, place in enumerate(places):
            if not strict and cost[j] <= best:
                best, at = cost[j], j
            row.append(best + abs(place - target))
            choice.append(at)
            if strict and cost[j] <= best:
                best, at = cost[j], j
        cost = row
        back.append(choice)
    j = max(range(len(places)), key=lambda k: (-cost[k], k))
    cuts = [places[j]]
    for choice in reversed(back):
        j = choice[j]
        cuts.append(places[j])
    return cuts[::-1]
