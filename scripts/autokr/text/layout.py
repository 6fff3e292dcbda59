"""Cue timing and line breaking, by each language's subtitle rules.

The defaults follow the Netflix timed-text style guides: Korean 16 units a
line (Latin letters, digits, spaces and punctuation count half), Japanese 13
full-width characters a line, Chinese (Simplified, Traditional, Cantonese) 16,
Thai 35, other languages 42 characters; 2 lines; 5/6 s to 7 s a cue; 2 frames
between cues; at most 12 characters a second for Korean and Japanese, 9 for
Chinese (17 elsewhere).
"""

from __future__ import annotations

import dataclasses
import itertools
import unicodedata
from dataclasses import dataclass, field

from autokr.text.sentences import CLAUSE_END, SENTENCE_END, ends_clause, ends_sentence, may_cut_at

#: Japanese particles and endings a line may break after.
_JA_BREAK_AFTER = ("から", "まで", "より", "けど", "ので", "のに", "は", "が", "を", "に",
                   "で", "と", "も", "へ", "や", "ね", "よ", "て")  # fmt: skip
#: Characters that may not start a line (Japanese kinsoku).
_NO_LINE_START = set(
    "、。，．！？!?)）」』】〕ーぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ・：；"
)


@dataclass(frozen=True)
class Rules:
    """The subtitle rules of one language.

    max_width: widest line, in units (full-width characters count 1, Latin
        letters, digits, spaces and ASCII punctuation 0.5 when half_width_half).
    break_at: "space" breaks lines only at spaces (a longer run with no space
        is broken between characters); "char" may break between any characters.
    """

    max_width: float = 42
    max_lines: int = 2
    break_at: str = "space"
    half_width_half: bool = False
    min_duration: float = 5 / 6
    max_duration: float = 7.0
    min_gap_frames: int = 2
    max_cps: float = 17.0


#: Chinese, from the Netflix Simplified Chinese (PRC) and Traditional Chinese
#: Timed Text Style Guides: 16 characters a line (partnerhelp.netflixstudios.com
#: articles 215986007 and 215994807; Netflix subtitles Cantonese in Traditional
#: Chinese), half-width Latin letters and punctuation counting half ("How is
#: reading speed measured?", backlothelp.netflix.com article 115001352212), and
#: 9 characters a second for adult programs, the Chinese figure in Netflix's
#: reading-speed table as Subtitle Edit's Netflix checker carries it
#: (NetflixQualityController.cs).
_CHINESE = Rules(max_width=16, break_at="char", half_width_half=True, max_cps=9.0)

RULES: dict[str, Rules] = {
    "ko": Rules(max_width=16, break_at="space", half_width_half=True, max_cps=12.0),
    "ja": Rules(max_width=13, break_at="char", half_width_half=True, max_cps=12.0),
    "zh": _CHINESE,
    "yue": _CHINESE,
    # Netflix Thai Timed Text Style Guide (partnerhelp.netflixstudios.com article
    # 220448308): 35 characters a line; it sets no reading speed of its own, so
    # the general 17 a second stays. Thai puts spaces between phrases, not
    # words: lines break at spaces where there are any, else between letters.
    "th": Rules(max_width=35, break_at="space"),
}
DEFAULT_RULES = Rules()
#: NLLB language codes (``zho`` of ``zho_Hant``) -> the table's Whisper codes.
_NLLB_CODES = {"kor": "ko", "jpn": "ja", "zho": "zh", "yue": "yue", "tha": "th"}


def rules_for(language: str, overrides: dict | None = None) -> Rules:
    """The rules of ``language`` (a Whisper code or NLLB code), with config overrides."""
    code = language.split("_")[0]
    base = RULES.get(code) or RULES.get(_NLLB_CODES.get(code, ""), DEFAULT_RULES)
    return dataclasses.replace(base, **(overrides or {}))


def char_width(ch: str, rules: Rules) -> float:
    """Width of one character: half for Latin letters, digits, spaces and punctuation.

    A combining mark (a Thai vowel above or below its letter, a tone mark)
    takes no room of its own.
    """
    if unicodedata.category(ch) in ("Mn", "Me"):
        return 0.0
    if not rules.half_width_half:
        return 1.0
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 1.0
    return 0.5


def text_width(text: str, rules: Rules) -> float:
    """Width of a line in the rules' units."""
    return sum(char_width(ch, rules) for ch in text)


def reading_chars(text: str) -> int:
    """Characters that count for reading speed: everything but spaces and line breaks."""
    return sum(1 for ch in text if not ch.isspace())


def wrap(text: str, rules: Rules) -> list[str] | None:
    """Break ``text`` into at most ``max_lines`` balanced lines; None when it cannot fit."""
    text = " ".join(text.split())
    if text_width(text, rules) <= rules.max_width:
        return [text]
    if rules.max_lines < 2:
        return None
    best: tuple[float, list[str]] | None = None
    for cut, cost in _break_points(text, rules):
        first, second = text[:cut].rstrip(), text[cut:].lstrip()
        if not first or not second:
            continue
        w1, w2 = text_width(first, rules), text_width(second, rules)
        if w1 > rules.max_width:
            continue
        lines = [first, second] if w2 <= rules.max_width else None
        if lines is None and rules.max_lines > 2:
            rest = wrap(second, dataclasses.replace(rules, max_lines=rules.max_lines - 1))
            lines = [first, *rest] if rest else None
            w2 = max(text_width(line, rules) for line in rest) if rest else w2
        if lines is None:
            continue
        score = abs(w1 - w2) + cost
        if best is None or score < best[0]:
            best = (score, lines)
    return best[1] if best else None


def _break_points(text: str, rules: Rules):
    """(index, cost) of places a line may break; lower cost is better."""
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    if rules.break_at == "space" and spaces:
        for i in spaces:
            # Prefer ending a line where a sentence or clause ends.
            if ends_sentence(text[:i]):
                yield i, -3.0
            elif ends_clause(text[:i]):
                yield i, -1.5
            else:
                yield i, 0.0
        # A run with no space that is longer than a line may still break inside.
        for i in range(1, len(text)):
            if text[i - 1] != " " and text[i] != " " and may_cut_at(text, i):
                yield i, rules.max_width  # only when no space works
        return
    for i in range(1, len(text)):
        if text[i] in _NO_LINE_START or not may_cut_at(text, i):
            continue
        before = text[:i]
        if ends_sentence(before) or ends_clause(before) or text[i] == " ":
            yield i, 0.0
        elif before.endswith(_JA_BREAK_AFTER):
            yield i, 1.0
        else:
            yield i, 3.0


@dataclass
class Cue:
    """One subtitle being laid out: times in seconds, the source it translates, its text.

    The fields come in the order of ``records.Cue``, the translated cue it is
    made from; unlike that record it changes as its times are laid out.
    """

    start: float
    end: float
    source: str
    text: str

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class RuleBreak:
    """A rule a finished cue still breaks, for the QA report."""

    cue: int
    rule: str
    value: float
    limit: float


@dataclass
class Layout:
    """Laid-out cues with their lines, and what still breaks the rules."""

    cues: list[Cue]
    lines: list[list[str]]
    breaks: list[RuleBreak] = field(default_factory=list)


def split_text(text: str, rules: Rules) -> tuple[str, str] | None:
    """Split text in two at the best boundary: sentence end, then clause, then space, then char."""
    text = text.strip()
    middle = len(text) / 2
    candidates: list[tuple[float, int]] = []
    for pattern, cost in ((SENTENCE_END, 0), (CLAUSE_END, len(text) * 0.15)):
        for m in pattern.finditer(text):
            if 0 < m.end() < len(text):
                candidates.append((abs(m.end() - middle) + cost, m.end()))
    for i, ch in enumerate(text):
        if ch == " ":
            candidates.append((abs(i - middle) + len(text) * 0.3, i))
    if not candidates or rules.break_at == "char":
        for i in range(1, len(text)):
            if text[i] not in _NO_LINE_START and may_cut_at(text, i):
                candidates.append((abs(i - middle) + len(text) * 0.45, i))
    if not candidates:
        return None
    _, cut = min(candidates)
    first, second = text[:cut].strip(), text[cut:].strip()
    return (first, second) if first and second else None


def share_time(cue: Cue, first: str, second: str, source: tuple[str, str]) -> tuple[Cue, Cue]:
    """Split a cue's time between two texts in proportion to their length."""
    total = reading_chars(first) + reading_chars(second)
    at = cue.start + cue.duration * reading_chars(first) / max(total, 1)
    return Cue(cue.start, at, source[0], first), Cue(at, cue.end, source[1], second)


def lay_out(
    cues: list[Cue],
    rules: Rules,
    frame_rate: float = 24.0,
    media_end: float | None = None,
    source_rules: Rules | None = None,
) -> Layout:
    """Apply ``rules`` to ``cues``: split, separate, extend, merge; report what still breaks."""
    gap = rules.min_gap_frames / (frame_rate or 24.0)
    work = sorted((c for c in cues if c.text.strip()), key=lambda c: (c.start, c.end))
    work = [Cue(c.start, max(c.end, c.start), c.source, " ".join(c.text.split())) for c in work]
    work = _split_long(work, rules, source_rules)
    _separate(work, gap)
    _extend_short_and_fast(work, rules, gap, media_end)
    work = _merge_fast(work, rules, gap)
    _separate(work, gap)
    lines = [wrap(c.text, rules) or _force_lines(c.text, rules) for c in work]
    return Layout(work, lines, check(work, lines, rules, gap))


def _split_long(cues: list[Cue], rules: Rules, source_rules: Rules | None) -> list[Cue]:
    out: list[Cue] = []
    queue = list(reversed(cues))
    while queue:
        cue = queue.pop()
        too_wide = wrap(cue.text, rules) is None
        if too_wide or cue.duration > rules.max_duration:
            parts = split_text(cue.text, rules)
            if parts:
                src = split_text(cue.source, source_rules or DEFAULT_RULES) if cue.source else None
                a, b = share_time(cue, *parts, source=src or (cue.source, ""))
                queue += [b, a]
                continue
            if cue.duration > rules.max_duration:
                cue = Cue(cue.start, cue.start + rules.max_duration, cue.source, cue.text)
        out.append(cue)
    return out


def _separate(cues: list[Cue], gap: float) -> None:
    """No overlaps, and at least ``gap`` between one cue's end and the next one's start."""
    for a, b in itertools.pairwise(cues):
        if b.start < a.start:
            b.start = a.start
        if a.end > b.start - gap:
            a.end = max(a.start + min(a.duration, 0.1), b.start - gap)
            if a.end > b.start - gap:  # two cues start almost together
                b.start = a.end + gap
                b.end = max(b.end, b.start + 0.1)


def _room_after(cues: list[Cue], i: int, gap: float, media_end: float | None) -> float:
    limit = cues[i + 1].start - gap if i + 1 < len(cues) else (media_end or cues[i].end + 10)
    return max(limit, cues[i].end)


def _extend_short_and_fast(cues, rules: Rules, gap: float, media_end) -> None:
    for i, cue in enumerate(cues):
        want = max(rules.min_duration, reading_chars(cue.text) / rules.max_cps)
        want = min(want, rules.max_duration)
        if cue.duration < want:
            cue.end = min(cue.start + want, _room_after(cues, i, gap, media_end))


def _merge_fast(cues: list[Cue], rules: Rules, gap: float) -> list[Cue]:
    """Merge a cue still read too fast with a neighbour when the pair fits the rules."""
    out: list[Cue] = []
    for cue in cues:
        if out and (_too_fast(out[-1], rules) or _too_fast(cue, rules)):
            prev = out[-1]
            merged = Cue(
                prev.start,
                cue.end,
                f"{prev.source} {cue.source}".strip(),
                f"{prev.text} {cue.text}",
            )
            fits = wrap(merged.text, rules) is not None and merged.duration <= rules.max_duration
            if fits and not _too_fast(merged, rules) and cue.start - prev.end < 1.5:
                out[-1] = merged
                continue
        out.append(cue)
    return out


def _too_fast(cue: Cue, rules: Rules) -> bool:
    return reading_chars(cue.text) > rules.max_cps * cue.duration + 1e-6


def _force_lines(text: str, rules: Rules) -> list[str]:
    """Lines for text that fits no rule-abiding wrap (a single huge word): break by width."""
    lines, line = [], ""
    for i, ch in enumerate(text):
        if text_width(line + ch, rules) > rules.max_width and line and may_cut_at(text, i):
            lines.append(line.strip())
            line = ""
        line += ch
    return [*lines, line.strip()] if line.strip() else lines


def check(cues: list[Cue], lines: list[list[str]], rules: Rules, gap: float) -> list[RuleBreak]:
    """Every rule a laid-out cue breaks."""
    breaks = []
    eps = 1e-6
    for i, (cue, cue_lines) in enumerate(zip(cues, lines, strict=True)):
        widest = max((text_width(line, rules) for line in cue_lines), default=0)
        if widest > rules.max_width:
            breaks.append(RuleBreak(i, "line_too_wide", widest, rules.max_width))
        if len(cue_lines) > rules.max_lines:
            breaks.append(RuleBreak(i, "too_many_lines", len(cue_lines), rules.max_lines))
        if cue.duration < rules.min_duration - eps:
            breaks.append(RuleBreak(i, "too_short", round(cue.duration, 3), rules.min_duration))
        if cue.duration > rules.max_duration + eps:
            breaks.append(RuleBreak(i, "too_long", round(cue.duration, 3), rules.max_duration))
        cps = reading_chars(cue.text) / max(cue.duration, eps)
        if cps > rules.max_cps + eps:
            breaks.append(RuleBreak(i, "too_fast", round(cps, 2), rules.max_cps))
        if i + 1 < len(cues) and cues[i + 1].start - cue.end < gap - eps:
            value = round(cues[i + 1].start - cue.end, 3)
            breaks.append(RuleBreak(i, "gap_too_small", value, round(gap, 3)))
    return breaks
