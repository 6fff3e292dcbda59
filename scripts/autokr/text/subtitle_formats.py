"""Reading subtitle text: SRT, ASS/SSA and WebVTT bytes -> timed cues of plain text.

Japanese subtitles come in UTF-8, UTF-16 and Shift-JIS alike, so the bytes
are decoded by trying those in turn. Whatever a format adds to the words
(ASS override codes and drawings, SRT and WebVTT tags, ruby readings) is
removed, so that only what a viewer reads reaches the transcript.
"""

from __future__ import annotations

import codecs
import html
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from autokr.core.errors import SubtitleError
from autokr.core.records import TimedText

#: One subtitle: its timing in seconds and its plain text (lines joined by newlines).
TextCue = TimedText


@dataclass(frozen=True)
class SubtitleText:
    """The cues of a subtitle file or track, its format and the encoding it was read in."""

    cues: tuple[TextCue, ...]
    format: str
    encoding: str


def read_subtitles(data: bytes, name: str) -> SubtitleText:
    """Decode and parse subtitle bytes; SubtitleError (``name: cause``) when they are not.

    The format is told from the content, not the file name: SRT, ASS/SSA or WebVTT.
    """
    text, encoding = decode_text(data, name)
    try:
        cues, fmt = parse_text(text, name)
    except SubtitleError:
        raise
    except (ValueError, OverflowError, IndexError, KeyError) as exc:
        # A user's file can hold anything (a time of 99999999999 hours): it is
        # not a subtitle file autokr can read, never a reason to stop the run.
        raise SubtitleError(f"{name}: not a subtitle file autokr can read ({exc})") from None
    return SubtitleText(tuple(cues), fmt, encoding)


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """The text of subtitle bytes, and the encoding that read it.

    UTF-16 with its byte-order mark, then UTF-8 (with or without one), then
    Shift-JIS (as CP932, Windows' superset), where Japanese subtitles often are.
    """
    if not data.strip():
        raise SubtitleError(f"{name}: empty file")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        tried = [("utf-16", "UTF-16")]
    else:
        tried = [("utf-8-sig", "UTF-8"), ("cp932", "Shift-JIS")]
    for codec, label in tried:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            raise SubtitleError(f"{name}: not a subtitle file (binary data)")
        if codec == "cp932" and _looks_misread(text):
            break
        return text, label
    raise SubtitleError(
        f"{name}: not UTF-8, UTF-16 (with a byte-order mark) or Shift-JIS text; save it as UTF-8"
    )


def _looks_misread(text: str) -> bool:
    """True when text read as Shift-JIS is mostly half-width katakana: the signature of
    another encoding (EUC-JP, EUC-KR) read as Shift-JIS, not of real Japanese."""
    wide = [ch for ch in text if ord(ch) > 0x7F]
    narrow_kana = sum(1 for ch in wide if "\uff61" <= ch <= "\uff9f")
    return len(wide) >= 4 and narrow_kana > len(wide) / 2


_ASS_SECTION = re.compile(
    r"^\s*\[(script info|v4\+? styles|events)\]", re.IGNORECASE | re.MULTILINE
)


def parse_text(text: str, name: str) -> tuple[list[TextCue], str]:
    """The cues of decoded subtitle text, and its format (``srt``, ``ass``, ``vtt``).

    Cues without a letter or digit (music notes, an empty line) are left out.
    """
    if text.lstrip("\ufeff \t\r\n").startswith("WEBVTT"):
        cues, fmt = parse_vtt(text), "vtt"
    elif _ASS_SECTION.search(text) or re.search(r"^Dialogue:", text, re.MULTILINE):
        cues, fmt = parse_ass(text), "ass"
    else:
        cues, fmt = parse_srt(text), "srt"
        if not cues:
            raise SubtitleError(f"{name}: not a subtitle file (no SRT, ASS or WebVTT cues)")
    cues = [c for c in cues if any(ch.isalnum() for ch in c.text)]
    if not cues:
        raise SubtitleError(f"{name}: no cues with text ({fmt.upper()})")
    return sorted(cues, key=lambda c: (c.start, c.end)), fmt


def parse_srt(text: str) -> list[TextCue]:
    """SRT cues, read by the ``srt`` library; lines it cannot read are passed over."""
    import srt

    # The library logs a warning for each stretch it passes over; the caller
    # reports a file with no cues in one line instead.
    logging.getLogger("srt").setLevel(logging.ERROR)
    subtitles = list(srt.parse(text, ignore_errors=True))
    return [TextCue(_seconds(s.start), _seconds(s.end), clean_tags(s.content)) for s in subtitles]


def _seconds(delta: timedelta) -> float:
    return round(delta.total_seconds(), 3)


#: Tags SRT files carry (HTML-ish), and ASS override blocks that converters leave in them.
_SRT_TAGS = re.compile(r"</?(?:i|b|u|s|font|c|v|span|ruby|lang)\b[^<>]*>", re.IGNORECASE)
_OVERRIDES = re.compile(r"\{\\[^{}]*\}")
_RUBY_TEXT = re.compile(r"<(rt|rp)\b[^<>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def clean_tags(text: str) -> str:
    """SRT text without its tags (``<i>``, ``<font ...>``), ruby readings or ``{\\an8}``."""
    text = _RUBY_TEXT.sub("", text)
    text = _OVERRIDES.sub("", _SRT_TAGS.sub("", text))
    return _tidy(text.replace("\\N", "\n"))


def _tidy(text: str) -> str:
    """Lines stripped and their inner spaces collapsed; empty lines dropped."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


#: The fields of an ASS/SSA event when its [Events] section has no Format line.
_ASS_FIELDS = ["layer", "start", "end", "style", "name", "marginl", "marginr", "marginv"]
_ASS_FIELDS += ["effect", "text"]
_ASS_TIME = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2})(?:[.:](\d+))?\s*$")


def parse_ass(text: str) -> list[TextCue]:
    """The Dialogue events of an ASS or SSA script (Comment events are not shown, so not read)."""
    fields, section, cues = _ASS_FIELDS, "", []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line.lower()
        elif section == "[events]" and line.lower().startswith("format:"):
            fields = [f.strip().lower() for f in line.split(":", 1)[1].split(",")]
        elif line.startswith("Dialogue:"):
            values = line.split(":", 1)[1].split(",", len(fields) - 1)
            event = dict(zip(fields, (v.strip() for v in values), strict=False))
            start, end = _ass_time(event.get("start")), _ass_time(event.get("end"))
            if start is not None and end is not None and "text" in event:
                cues.append(TextCue(start, end, clean_ass(event["text"])))
    return cues


def _ass_time(value: str | None) -> float | None:
    """``H:MM:SS.cc`` as seconds, or None."""
    match = _ASS_TIME.match(value or "")
    if not match:
        return None
    hours, minutes, seconds, fraction = match.groups()
    part = float(f"0.{fraction}") if fraction else 0.0
    return round(int(hours) * 3600 + int(minutes) * 60 + int(seconds) + part, 3)


_ASS_BLOCK = re.compile(r"\{([^{}]*)\}")
_DRAWING = re.compile(r"\\p(\d+)")


def clean_ass(text: str) -> str:
    """An ASS event's text as shown: override blocks (``{\\an8}``, ``{\\i1}``) and drawings
    (``{\\p1}m 0 0 l ...``) removed, ``\\N`` and ``\\n`` as line breaks, ``\\h`` as a space."""
    shown, drawing, at = [], False, 0
    for block in _ASS_BLOCK.finditer(text):
        if not drawing:
            shown.append(text[at : block.start()])
        for level in _DRAWING.findall(block.group(1)):
            drawing = int(level) > 0
        at = block.end()
    if not drawing:
        shown.append(text[at:])
    plain = "".join(shown).replace("\\N", "\n").replace("\\n", "\n").replace("\\h", " ")
    return _tidy(_SRT_TAGS.sub("", plain))


_VTT_TIME = re.compile(r"^\s*(?:(\d+):)?(\d{1,2}):(\d{1,2})[.,](\d{1,3})\s*$")


def parse_vtt(text: str) -> list[TextCue]:
    """The cues of a WebVTT file; NOTE, STYLE and REGION blocks are passed over."""
    cues = []
    for block in re.split(r"\r?\n[ \t]*\r?\n", text.replace("\r\n", "\n")):
        lines = block.strip("\n").split("\n")
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None or lines[0].startswith(("NOTE", "STYLE", "REGION", "WEBVTT")):
            continue
        start_text, _, rest = lines[timing].partition("-->")
        start, end = _vtt_time(start_text), _vtt_time(rest.split()[0] if rest.split() else "")
        if start is not None and end is not None:
            cues.append(TextCue(start, end, clean_vtt("\n".join(lines[timing + 1 :]))))
    return cues


def _vtt_time(value: str) -> float | None:
    """``[HH:]MM:SS.ttt`` as seconds, or None."""
    match = _VTT_TIME.match(value)
    if not match:
        return None
    hours, minutes, seconds, millis = match.groups()
    total = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    return round(total + int(millis.ljust(3, "0")) / 1000, 3)


def clean_vtt(text: str) -> str:
    """WebVTT cue text as shown: every tag (``<c.yellow>``, ``<v Sato>``, timestamps) and
    ruby reading removed, character references (``&amp;``) resolved."""
    text = _RUBY_TEXT.sub("", text)
    return _tidy(html.unescape(_OVERRIDES.sub("", re.sub(r"<[^<>]*>", "", text))))
