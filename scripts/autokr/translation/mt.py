"""Machine translation with NLLB-200, behind one small interface.

``Translator.translate(texts, source, target)`` takes NLLB codes and returns
one output per input, in order. Two backends share everything but the model
call: transformers runs the checkpoint as it is; CTranslate2 runs it after a
one-time conversion, several times faster on the CPU in a fraction of the
memory. Outputs are checked and retried the same way whichever runs
(``autokr.translation.checks``); the conversion is
``autokr.translation.conversion``'s.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from autokr.batch import progress
from autokr.core.defaults import schema_default
from autokr.core.devices import (
    Placement,
    backend_library,
    check_compute_type,
    resolve_placement,
)
from autokr.core.errors import ModelError
from autokr.core.switches import fault_switch
from autokr.models import locate
from autokr.translation.conversion import ctranslate2_model, download_checkpoint

log = logging.getLogger("autokr.translate")


BACKENDS = ("ctranslate2", "transformers")


@dataclass(frozen=True)
class TranslateOptions:
    """Everything that shapes a translation; all of it is recorded in the output.

    model: a Hugging Face repo id or a local folder with an NLLB-200 checkpoint
        (weights as safetensors or pytorch_model.bin, whole or sharded; or, for
        the ctranslate2 backend, a folder already converted).
    backend: "ctranslate2" (converted once into the cache for every compute
        type, then fast) or "transformers" (runs the checkpoint as it is).
    compute_type: "auto" is int8 on the CPU and float16 on CUDA for
        ctranslate2, float32 and float16 for transformers; or a CTranslate2
        compute type (int8, int8_float16, float16, float32 ...).
    batch_size: most sentences in one batch.
    batch_tokens: most tokens in one batch (sentences are sorted by length
        and padded to the longest in their batch).
    beam_size: beams for generation.
    max_length: upper bound on generated tokens for one sentence; the bound
        for a batch is also tied to its input length, so a loop cannot run on.
    no_repeat_ngram_size: on the retry of an output that repeats itself, forbid
        repeating any n-gram of this many tokens (0: off). Never on the first
        pass: dialogue repeats itself for real (「ダメダメダメ、ダメよ」).
    """

    model: str = schema_default("translate.model")
    backend: str = schema_default("translate.backend")
    compute_type: str = schema_default("translate.compute_type")
    batch_size: int = schema_default("translate.batch_size")
    batch_tokens: int = schema_default("translate.batch_tokens")
    beam_size: int = schema_default("translate.beam_size")
    max_length: int = schema_default("translate.max_length")
    no_repeat_ngram_size: int = schema_default("translate.no_repeat_ngram_size")


class Translator(Protocol):
    """Anything that turns a list of sentences into their translations, in order."""

    def translate(
        self,
        texts: list[str],
        source: str,
        target: str,
        beam_size: int | None = None,
        block_repeats: bool = False,
    ) -> list[str]: ...


class NllbTokenizer:
    """NLLB's tokenizer, read from its ``tokenizer.json`` with the tokenizers library.

    It encodes as transformers' NllbTokenizer does (``[source] pieces </s>``)
    without importing transformers, which costs the CTranslate2 backend two
    seconds a job.
    """

    def __init__(self, folder: Path, model: str):
        import tokenizers

        path = folder / "tokenizer.json"
        if not path.exists():
            raise ModelError(
                f"{model}: no tokenizer.json in {folder}; save the tokenizer there with "
                "transformers' save_pretrained"
            )
        self.tokenizer = tokenizers.Tokenizer.from_file(str(path))
        # A fine-tuned checkpoint's file often keeps the padding and truncation
        # it was trained with: padded, a shorter sentence of a batch gets <pad>s
        # before its </s>, which CTranslate2 reads as words and translates on.
        # Each sentence is its own tokens only; batches are padded by the backend.
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.eos_id = self.tokenizer.token_to_id("</s>")
        self.pad_id = self.tokenizer.token_to_id("<pad>")
        self.unk_id = self.tokenizer.token_to_id("<unk>")

    def token_id(self, token: str) -> int | None:
        """The id of a token (a language code, say), or None when unknown."""
        return self.tokenizer.token_to_id(token)

    def encode(self, texts: list[str], source: str) -> list[list[int]]:
        """Token ids of each text, as NLLB expects them: language code first, then </s>."""
        lang = self.token_id(source)
        encoded = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        return [[lang, *e.ids, self.eos_id] for e in encoded]

    def tokens(self, ids: list[int]) -> list[str]:
        """The tokens of ids."""
        return [self.tokenizer.id_to_token(i) for i in ids]

    def ids(self, tokens: list[str]) -> list[int]:
        """The ids of tokens; one the tokenizer lacks (CTranslate2's padding words) is <unk>."""
        found = (self.tokenizer.token_to_id(t) for t in tokens)
        return [self.unk_id if i is None else i for i in found]

    def decode(self, batch: list[list[int]]) -> list[str]:
        """Text of each id list, special tokens (language codes, </s>) left out."""
        return self.tokenizer.decode_batch(batch, skip_special_tokens=True)


class NllbTranslator:
    """What both backends share: tokenizer, length-sorted token batches, decoding.

    A backend loads its model in ``__init__`` and implements ``generate``:
    token ids in, token ids out, nothing else.
    """

    tokenizer: NllbTokenizer
    #: Whose out-of-memory error the fault switch raises (see devices.fault_switch).
    library = "ctranslate2"
    options: TranslateOptions

    def translate(
        self,
        texts: list[str],
        source: str,
        target: str,
        beam_size: int | None = None,
        block_repeats: bool = False,
    ) -> list[str]:
        """Translate ``texts`` from NLLB code ``source`` to ``target``, batched.

        ``block_repeats`` forbids repeating any n-gram of ``no_repeat_ngram_size``
        tokens: the retry of a loop, never the first pass.
        """
        for code in (source, target):
            if self.tokenizer.token_id(code) is None:
                raise ModelError(
                    f"{self.options.model}: the tokenizer does not know language {code!r}"
                )
        out: list[str] = [""] * len(texts)
        todo = [i for i, t in enumerate(texts) if t.strip()]
        encoded = self.tokenizer.encode([texts[i] for i in todo], source) if todo else []
        ids = dict(zip(todo, encoded, strict=True))
        batches = token_batches(ids, self.options.batch_size, self.options.batch_tokens)
        finished = 0
        for n, batch in enumerate(batches):
            fault_switch(len(batch), self.library)
            longest = max(len(ids[i]) for i in batch)
            generated = self.generate(
                [ids[i] for i in batch],
                target,
                beam_size or self.options.beam_size,
                min(self.options.max_length, 3 * longest + 10),
                self.options.no_repeat_ngram_size if block_repeats else 0,
            )
            decoded = self.tokenizer.decode(generated)
            for i, text in zip(batch, decoded, strict=True):
                out[i] = text.strip()
            log.info("batch %d of %d: %d sentences", n + 1, len(batches), len(batch))
            finished += len(batch)
            progress.report(finished, len(todo), "sentences")
        return out

    def generate(
        self,
        ids: list[list[int]],
        target: str,
        beam_size: int,
        max_new_tokens: int,
        no_repeat_ngram_size: int,
    ) -> list[list[int]]:
        """Token ids of each translation (the backend's model call); 0 n-gram size: no block."""
        raise NotImplementedError


def token_batches(
    ids: dict[int, list[int]], max_sentences: int, max_tokens: int
) -> list[list[int]]:
    """Group sentence numbers into batches by length, within both limits (padding counted)."""
    batches: list[list[int]] = []
    for i in sorted(ids, key=lambda i: len(ids[i])):
        batch = batches[-1] if batches else None
        if batch and len(batch) < max_sentences and len(ids[i]) * (len(batch) + 1) <= max_tokens:
            batch.append(i)
        else:
            batches.append([i])
    return batches


class TransformersTranslator(NllbTranslator):
    """NLLB-200 through transformers' ``AutoModelForSeq2SeqLM``."""

    library = "torch"

    def __init__(self, options: TranslateOptions, placement: Placement, cpu_threads: int):
        import torch
        from transformers import AutoModelForSeq2SeqLM

        torch.set_num_threads(cpu_threads)
        self.options = options
        self.device = placement.device
        # One folder for tokenizer and weights: the local one, or the cached download.
        folder = locate.local_folder(options.model) or download_checkpoint(options.model)
        self.tokenizer = NllbTokenizer(folder, options.model)
        dtype = getattr(torch, placement.compute_type)  # checked by check_compute_type
        try:
            model = AutoModelForSeq2SeqLM.from_pretrained(
                str(folder), dtype=dtype, local_files_only=True, trust_remote_code=False
            )
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"{options.model}: not an NLLB model folder ({locate.first_line(exc)})"
            ) from None
        self.model = model.to(self.device).eval()

    def generate(self, ids, target, beam_size, max_new_tokens, no_repeat_ngram_size):
        import torch

        pad = self.tokenizer.pad_id
        width = max(len(x) for x in ids)
        input_ids = torch.tensor([x + [pad] * (width - len(x)) for x in ids], device=self.device)
        with torch.inference_mode():
            generated = self.model.generate(
                input_ids=input_ids,
                attention_mask=(input_ids != pad).long(),
                forced_bos_token_id=self.tokenizer.token_id(target),
                num_beams=beam_size,
                max_new_tokens=max_new_tokens,
                no_repeat_ngram_size=no_repeat_ngram_size,
            )
        return generated.tolist()


class CTranslate2Translator(NllbTranslator):
    """NLLB-200 converted to CTranslate2: the same model, several times faster."""

    def __init__(self, options: TranslateOptions, placement: Placement, cpu_threads: int):
        import ctranslate2

        self.options = options
        # A retry's lighter compute type loads the first try's conversion.
        folder = ctranslate2_model(options.model, placement.compute_type)
        self.tokenizer = NllbTokenizer(folder, options.model)
        self.model = ctranslate2.Translator(
            str(folder),
            device=placement.device,
            compute_type=placement.compute_type,
            inter_threads=1,
            intra_threads=cpu_threads,
        )

    def generate(self, ids, target, beam_size, max_new_tokens, no_repeat_ngram_size):
        tokens = [self.tokenizer.tokens(x) for x in ids]
        results = self.model.translate_batch(
            tokens,
            target_prefix=[[target]] * len(tokens),
            beam_size=beam_size,
            max_decoding_length=max_new_tokens + 1,  # counts the language prefix
            no_repeat_ngram_size=no_repeat_ngram_size,
        )
        return [self.tokenizer.ids(r.hypotheses[0]) for r in results]


def compute_type(backend: str, placement: Placement, configured: str = "auto") -> str:
    """The compute type a backend runs with: ``auto`` picks the fast one for the device.

    The transformers backend refuses a type torch does not run rather than
    running float32 under another name.
    """
    check_compute_type(backend_library(backend), configured)
    if configured != "auto":
        return configured
    if placement.device == "cuda":
        return "float16"
    return "int8" if backend == "ctranslate2" else "float32"


def placement(options: TranslateOptions, device: str) -> Placement:
    """Where the configured backend runs: ``device`` as its library sees it, and a compute type.

    The device is resolved by the backend's own library (a CPU-only torch may
    sit beside a CUDA CTranslate2), the compute type by ``compute_type``.
    """
    resolved = resolve_placement(device, library=backend_library(options.backend))
    chosen = compute_type(options.backend, resolved, options.compute_type)
    return dataclasses.replace(resolved, compute_type=chosen)


def load_translator(
    options: TranslateOptions, placement: Placement, cpu_threads: int
) -> Translator:
    """Load the configured backend once for this process (``placement`` has its compute type)."""
    if options.backend == "ctranslate2":
        return CTranslate2Translator(options, placement, cpu_threads)
    if options.backend == "transformers":
        return TransformersTranslator(options, placement, cpu_threads)
    raise ModelError(f"unknown translate.backend {options.backend!r}: use one of {BACKENDS}")
