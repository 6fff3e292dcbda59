"""Machine translation with NLLB-200, behind one small interface.

``Translator.translate(texts, source, target)`` takes NLLB codes and returns
one output per input, in order. The transformers backend is the first; a
CTranslate2 backend will sit beside it with the same interface.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Protocol

from autokr import models
from autokr.devices import Placement, fault_switch
from autokr.errors import ModelError
from autokr.records import Retry

log = logging.getLogger("autokr.translate")


@dataclass(frozen=True)
class TranslateOptions:
    """Everything that shapes a translation; all of it is recorded in the output.

    model: a Hugging Face repo id or a local folder with an NLLB-200 checkpoint.
    batch_size: sentences per forward pass.
    beam_size: beams for generation.
    max_length: upper bound on generated tokens for one sentence; the bound
        for a batch is also tied to its input length, so a loop cannot run on.
    no_repeat_ngram_size: forbid repeating any n-gram of this many tokens (0: off).
    """

    model: str = "facebook/nllb-200-distilled-600M"
    batch_size: int = 16
    beam_size: int = 4
    max_length: int = 256
    no_repeat_ngram_size: int = 4


class Translator(Protocol):
    """Anything that turns a list of sentences into their translations, in order."""

    def translate(
        self, texts: list[str], source: str, target: str, beam_size: int | None = None
    ) -> list[str]: ...


class TransformersTranslator:
    """NLLB-200 through transformers' ``AutoModelForSeq2SeqLM``."""

    def __init__(self, options: TranslateOptions, placement: Placement, cpu_threads: int):
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        torch.set_num_threads(cpu_threads)
        self.options = options
        self.device = placement.device
        local = models.is_local(options.model)
        kwargs = {"local_files_only": models.offline(), "trust_remote_code": False}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(options.model, **kwargs)
            dtype = torch.float16 if placement.device == "cuda" else torch.float32
            self.model = AutoModelForSeq2SeqLM.from_pretrained(options.model, dtype=dtype, **kwargs)
        except (OSError, ValueError) as exc:
            if local:
                raise ModelError(
                    f"{options.model}: not an NLLB model folder ({models.first_line(exc)})"
                ) from None
            raise models.not_found(options.model, "translate.model", exc) from None
        self.model.to(self.device).eval()

    def translate(
        self, texts: list[str], source: str, target: str, beam_size: int | None = None
    ) -> list[str]:
        """Translate ``texts`` from NLLB code ``source`` to ``target``, batched."""
        import torch

        target_id = self.tokenizer.convert_tokens_to_ids(target)
        if target_id == self.tokenizer.unk_token_id:
            raise ModelError(
                f"{self.options.model}: the tokenizer does not know language {target!r}"
            )
        self.tokenizer.src_lang = source
        out: list[str] = [""] * len(texts)
        # Sorting by length keeps padding, and so wasted work, small.
        order = sorted((i for i, t in enumerate(texts) if t.strip()), key=lambda i: len(texts[i]))
        size = self.options.batch_size
        for n, first in enumerate(range(0, len(order), size)):
            batch = order[first : first + size]
            enc = self.tokenizer(
                [texts[i] for i in batch], return_tensors="pt", padding=True, truncation=True
            ).to(self.device)
            fault_switch(len(batch))
            longest = int(enc["input_ids"].shape[1])
            with torch.inference_mode():
                generated = self.model.generate(
                    **enc,
                    forced_bos_token_id=target_id,
                    num_beams=beam_size or self.options.beam_size,
                    max_new_tokens=min(self.options.max_length, 3 * longest + 10),
                    no_repeat_ngram_size=self.options.no_repeat_ngram_size,
                )
            decoded = self.tokenizer.batch_decode(generated, skip_special_tokens=True)
            for i, text in zip(batch, decoded, strict=True):
                out[i] = text.strip()
            log.info("batch %d of %d: %d sentences", n + 1, -(-len(order) // size), len(batch))
        return out


def load_translator(
    options: TranslateOptions, placement: Placement, cpu_threads: int
) -> Translator:
    """Load the configured backend once for this process."""
    return TransformersTranslator(options, placement, cpu_threads)


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
_LOOP = re.compile(r"(.{2,}?)\1{2,}")
_CLAUSE = re.compile(r"(?<=[、,，;；:：])")


def _letters_in(text: str, script: str) -> float:
    """Share of the letters of ``text`` that belong to ``script``."""
    prefixes = _SCRIPT_LETTERS.get(script)
    letters = [ch for ch in text if ch.isalpha()]
    if not prefixes or not letters:
        return 0.0
    hits = sum(1 for ch in letters if unicodedata.name(ch, "").startswith(prefixes))
    return hits / len(letters)


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
    if out_len > 3.5 * src_len + 12:
        problems.append("too long")
    if _LOOP.search("".join(output.split())):
        problems.append("repeats itself")
    # Japanese into Chinese is left out: both are written with kanji.
    shared_script = src_script == "Jpan" and tgt_script in ("Hans", "Hant")
    if src_script != tgt_script and not shared_script and _letters_in(output, src_script) > 0.5:
        problems.append("still in the source script")
    return problems


def split_clauses(text: str) -> list[str]:
    """A sentence's clauses, cut after commas and their CJK kin."""
    return [part.strip() for part in _CLAUSE.split(text) if part.strip()]


def translate_checked(
    translator: Translator, texts: list[str], source: str, target: str, beam_size: int
) -> tuple[list[str], list[Retry]]:
    """Translate ``texts``; retry each output that fails a check once, and say so.

    The retry is beam search with more beams, then clause by clause when the
    sentence has clauses; the output with fewer problems is kept. The result
    always has one output per input.
    """
    outputs = translator.translate(texts, source, target)
    retries: list[Retry] = []
    bad = {
        i: problems
        for i, (text, out) in enumerate(zip(texts, outputs, strict=True))
        if text.strip() and (problems := check_translation(text, out, source, target))
    }
    if bad:
        wider = translator.translate([texts[i] for i in bad], source, target, max(beam_size * 2, 4))
        for (i, problems), again in zip(bad.items(), wider, strict=True):
            best, method = outputs[i], "kept first"
            best_problems = problems
            candidates = [(again, f"beam {max(beam_size * 2, 4)}")]
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
