"""Machine translation with NLLB-200, behind one small interface.

``Translator.translate(texts, source, target)`` takes NLLB codes and returns
one output per input, in order. The transformers backend is the first; a
CTranslate2 backend will sit beside it with the same interface.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from autokr import models
from autokr.devices import Placement
from autokr.errors import ModelError

log = logging.getLogger("autokr.translate")


@dataclass(frozen=True)
class TranslateOptions:
    """Everything that shapes a translation; all of it is recorded in the output.

    model: a Hugging Face repo id or a local folder with an NLLB-200 checkpoint.
    batch_size: sentences per forward pass.
    beam_size: beams for generation.
    max_length: upper bound on generated tokens for one sentence.
    """

    model: str = "facebook/nllb-200-distilled-600M"
    batch_size: int = 16
    beam_size: int = 4
    max_length: int = 256


class Translator(Protocol):
    """Anything that turns a list of sentences into their translations, in order."""

    def translate(self, texts: list[str], source: str, target: str) -> list[str]: ...


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

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
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
            with torch.inference_mode():
                generated = self.model.generate(
                    **enc,
                    forced_bos_token_id=target_id,
                    num_beams=self.options.beam_size,
                    max_new_tokens=self.options.max_length,
                )
            decoded = self.tokenizer.batch_decode(generated, skip_special_tokens=True)
            for i, text in zip(batch, decoded, strict=True):
                out[i] = text.strip()
            log.info("batch %d: %d sentences", n + 1, len(batch))
        return out


def load_translator(
    options: TranslateOptions, placement: Placement, cpu_threads: int
) -> Translator:
    """Load the configured backend once for this process."""
    return TransformersTranslator(options, placement, cpu_threads)
