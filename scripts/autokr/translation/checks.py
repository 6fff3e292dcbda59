"""Checks on NLLB's outputs, and one retry of each that fails them.

An output can be empty, far too short or too long, a loop, or still in the
source script; ``translate_checked`` translates, checks each output and
retries the ones that fail, whichever backend runs (``autokr.translation.mt``).
"""

from __future__ import annotations

import logging
import unicodedata

from autokr.core.records import Retry
from autokr.text.sentences import CLAUSE_BREAK, repeats_itself
from autokr.translation.mt import Translator

log = logging.getLogger("autokr.translate")


#: Unicode name prefixes of the letters of each NLLB script code.
_SCRIPT_LETTERS: dict[str, tuple[str, ...]] = {
    "Jpan": ("HIRAGANA", "KATAKANA", "CJK UNIFIED"),
    "Hang": ("HANGUL",),
    "Hans": ("CJK UNIFIED",),
    "Hant": ("CJK UNIFIED",),
    "Latn": ("LATIN",),
    "Cyrl": ("CYRILLIC",),
    "Arab": ("ARABIC",),
    "Grek": ("GREEK",),
    "Hebr": ("HEBREW",),
    "Deva": ("DEVANAGARI",),
    "Thai": ("THAI",),
}
#: Characters a sentence takes in each script, against Latin letters: dense
#: scripts say the same in fewer characters.
_DENSITY = {"Jpan": 0.35, "Hans": 0.3, "Hant": 0.3, "Hang": 0.45}
#: Most characters a translation may take for each character of its source
#: (spaces left out) before it is "too long", by (source script, target
#: script). Japanese into Korean runs about one syllable a character: a kanji
#: word is read one syllable a kanji, kana endings and katakana loans shrink
#: (ラーメン -> 라면), and only native words written with one kanji grow
#: (妹 -> 여동생). 1.4 leaves them room and still shows junk after a right
#: translation, as a checkpoint with padding in its tokenizer.json wrote it:
#: 20 syllables after a sentence of up to 36 characters, 40 after one of 80
#: (translate.sentences.max_chars).
_LENGTH_RATIO: dict[tuple[str, str], float] = {("Jpan", "Hang"): 1.4}
#: Any other pair: the bound before per-pair ratios, 3.5 times the source
#: measured in Latin letters (_DENSITY): "Thank you." -> ありがとうございます。
#: is a real translation, and no pair but ja->ko has been measured yet.
_DEFAULT_LENGTH_RATIO = 3.5
#: Room, in Latin letters (5 Hangul syllables), for a short sentence to come
#: out as a phrase: はい -> 네, 알겠습니다.
_LENGTH_SLACK = 12
#: A run said this many times in a row makes an output a loop. NLLB output
#: repeats itself only when decoding went round in circles, so three is
#: enough; speech repeats for real ("はいはいはい"), so asr waits for four.
_LOOP_TIMES = 3


def letters_in(text: str, script: str) -> float:
    """Share of the letters of ``text`` that belong to ``script``."""
    prefixes = _SCRIPT_LETTERS.get(script)
    letters = [ch for ch in text if ch.isalpha()]
    if not prefixes or not letters:
        return 0.0
    hits = sum(1 for ch in letters if unicodedata.name(ch, "").startswith(prefixes))
    return hits / len(letters)


def longest_translation(source: str, source_code: str, target_code: str) -> float:
    """Most characters (spaces left out) a translation of ``source`` takes before it is too long."""
    src_script, tgt_script = source_code.split("_")[-1], target_code.split("_")[-1]
    src_density, tgt_density = (_DENSITY.get(s, 1.0) for s in (src_script, tgt_script))
    ratio = _LENGTH_RATIO.get((src_script, tgt_script))
    if ratio is None:
        ratio = _DEFAULT_LENGTH_RATIO * tgt_density / src_density
    return ratio * len("".join(source.split())) + _LENGTH_SLACK * tgt_density


def check_translation(source: str, output: str, source_code: str, target_code: str) -> list[str]:
    """Problems with one NLLB output: empty, length far off, looping, untranslated."""
    problems = []
    if not output.strip():
        return ["empty"]
    src_script, tgt_script = source_code.split("_")[-1], target_code.split("_")[-1]
    src_len = len("".join(source.split())) / _DENSITY.get(src_script, 1.0)
    out_len = len("".join(output.split())) / _DENSITY.get(tgt_script, 1.0)
    if src_len >= 8 and out_len < 0.3 * src_len:
        problems.append("too short")
    if len("".join(output.split())) > longest_translation(source, source_code, target_code):
        problems.append("too long")
    # Dialogue repeats itself for real (ダメダメダメ): an output that repeats
    # where its source's words do is no loop (one that runs on is too long).
    # Punctuation (えっと・・・・・・) is no repeated word.
    said = "".join(ch for ch in source if ch.isalnum())
    if repeats_itself(output, _LOOP_TIMES) and not repeats_itself(said, _LOOP_TIMES):
        problems.append("repeats itself")
    # Japanese into Chinese is left out: both are written with kanji.
    shared_script = src_script == "Jpan" and tgt_script in ("Hans", "Hant")
    if src_script != tgt_script and not shared_script and letters_in(output, src_script) > 0.5:
        problems.append("still in the source script")
    return problems


def split_clauses(text: str) -> list[str]:
    """A sentence's clauses, cut after commas and their CJK kin."""
    return [part.strip() for part in CLAUSE_BREAK.split(text) if part.strip()]


def translate_checked(
    translator: Translator, texts: list[str], source: str, target: str, beam_size: int
) -> tuple[list[str], list[Retry]]:
    """Translate ``texts``; retry each output that fails a check once, and say so.

    The retry is beam search with more beams (an output that repeats itself
    with repeated n-grams blocked, see ``TranslateOptions``), then clause by
    clause when the sentence has clauses; the output with fewer problems is
    kept. The result always has one output per input.
    """
    outputs = translator.translate(texts, source, target)
    retries: list[Retry] = []
    bad = {
        i: problems
        for i, (text, out) in enumerate(zip(texts, outputs, strict=True))
        if text.strip() and (problems := check_translation(text, out, source, target))
    }
    for i, wider in _wider_beam(translator, texts, bad, source, target, beam_size).items():
        problems = bad[i]
        best, method, best_problems = outputs[i], "kept first", problems
        candidates = [wider]
        clauses = split_clauses(texts[i])
        if len(clauses) > 1:
            parts = translator.translate(clauses, source, target)
            candidates.append((" ".join(parts), "by clause"))
        for candidate, how in candidates:
            found = check_translation(texts[i], candidate, source, target)
            if len(found) < len(best_problems):
                best, method, best_problems = candidate, how, found
        retries.append(Retry(i, texts[i], outputs[i], tuple(problems), method, best))
        log.info("retried sentence %d (%s): %s", i, ", ".join(problems), method)
        outputs[i] = best
    if len(outputs) != len(texts):  # a backend that loses a sentence is a bug
        raise AssertionError(f"{len(texts)} sentences in, {len(outputs)} out")
    return outputs, retries


def _wider_beam(
    translator: Translator,
    texts: list[str],
    bad: dict[int, list[str]],
    source: str,
    target: str,
    beam_size: int,
) -> dict[int, tuple[str, str]]:
    """The retry with more beams of each failed sentence, and how it was made, in order.

    Only a loop has repeated n-grams blocked: the block would change dialogue
    that repeats itself for real, so a sentence that failed otherwise keeps
    its repeats.
    """
    beams = max(beam_size * 2, 4)
    found: dict[int, tuple[str, str]] = {}
    for block in (False, True):
        group = [i for i, problems in bad.items() if ("repeats itself" in problems) == block]
        if not group:
            continue
        again = translator.translate(
            [texts[i] for i in group], source, target, beams, block_repeats=block
        )
        how = f"beam {beams}, repeats blocked" if block else f"beam {beams}"
        found.update((i, (out, how)) for i, out in zip(group, again, strict=True))
    return {i: found[i] for i in bad}
