"""Machine translation with NLLB-200, behind one small interface.

``Translator.translate(texts, source, target)`` takes NLLB codes and returns
one output per input, in order. Two backends share everything but the model
call: transformers runs the checkpoint as it is; CTranslate2 runs it after a
one-time conversion, several times faster on the CPU in a fraction of the
memory. Outputs are checked and retried the same way whichever runs.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from autokr.batch import progress
from autokr.core.devices import Placement, backend_library, check_compute_type
from autokr.core.errors import ModelError
from autokr.core.records import Retry
from autokr.core.switches import fault_switch
from autokr.models import locate
from autokr.text.sentences import CLAUSE_BREAK, repeats_itself

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

    model: str = "facebook/nllb-200-distilled-600M"
    backend: str = "ctranslate2"
    compute_type: str = "auto"
    batch_size: int = 16
    batch_tokens: int = 4096
    beam_size: int = 4
    max_length: int = 256
    no_repeat_ngram_size: int = 4


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


#: Files a converted folder needs beside the model to tokenize as the original does.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "sentencepiece.bpe.model",
)
#: Compute types that load the weights of another: a CUDA retry's lighter type
#: (see devices.Attempt) quantizes its first try's float16 weights as it loads.
LOADS_WEIGHTS_OF = {"int8_float16": "float16", "int8_bfloat16": "bfloat16"}
#: A temporary conversion folder older than this is left over from a killed job.
STALE_AFTER_S = 24 * 3600


def ctranslate2_cache() -> Path:
    """Where converted models are kept (``AUTOKR_CACHE`` moves it)."""
    root = os.environ.get("AUTOKR_CACHE") or Path.home() / ".cache" / "autokr"
    return Path(root) / "ctranslate2"


def is_ctranslate2_folder(path: Path) -> bool:
    """True for a folder that holds a CTranslate2 model rather than a checkpoint."""
    files = [p.name for p in path.iterdir() if p.is_file()] if path.is_dir() else []
    checkpoint = any(
        f.endswith(".safetensors") or f == single or shard.fullmatch(f)
        for f in files
        for single, shard, _ in locate.WEIGHT_FORMATS
    )
    return "model.bin" in files and not checkpoint


def stored_weights(compute_type: str) -> str:
    """The weights a conversion for ``compute_type`` stores (int8 on the CPU, float16 on CUDA).

    Weights are stored in the type a first try runs, not in one type for all:
    loading float16 weights as int8 peaked at 2.4 GB against 1.5 GB from int8
    weights for NLLB-600M on the CPU (``make bench``).
    """
    return LOADS_WEIGHTS_OF.get(compute_type, compute_type)


def ctranslate2_model(model: str, compute_type: str = "int8") -> Path:
    """A CTranslate2 folder for ``model``: as given, from the cache, or converted once now.

    The cache is keyed by the model's files and the stored weights (see
    ``stored_weights``), so a retry with a lighter compute type converts
    nothing. A conversion is written to a temporary folder and renamed when
    whole; temporary folders of killed conversions are removed first.
    """
    local = locate.local_folder(model)
    if local and is_ctranslate2_folder(local):
        return local
    source = local or download_checkpoint(model)
    identity = sorted(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in source.iterdir() if p.is_file()
    )
    weights = stored_weights(compute_type)
    key = [str(source.resolve()), identity, weights]
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()
    name = re.sub(r"[^\w.-]+", "_", model.strip("/"))[-60:]
    folder = ctranslate2_cache() / f"{name}-{weights}-{digest[:12]}"
    if not (folder / "model.bin").exists():
        convert_checkpoint(source, folder, weights, model)
    return folder


def convert_checkpoint(source: Path, folder: Path, weights: str, model: str) -> None:
    """Convert the checkpoint in ``source`` to CTranslate2 in ``folder``, storing ``weights``.

    Written to a temporary folder beside it and renamed when whole; temporary
    folders of killed conversions are removed first.
    """
    from ctranslate2.converters import TransformersConverter

    log.info("converting %s to CTranslate2 (%s) in %s", model, weights, folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_conversions(folder.parent)
    prefix = f".{folder.name}.{host_name()}.{os.getpid()}."
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=folder.parent))
    try:
        try:
            converter = TransformersConverter(
                str(source),
                copy_files=[f for f in TOKENIZER_FILES if (source / f).exists()],
                load_as_float16=weights in ("float16", "bfloat16", "int8_float16"),
            )
            converter.convert(str(tmp), quantization=weights, force=True)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(
                f"{model}: cannot convert to CTranslate2 ({locate.first_line(exc)}); "
                "set translate.backend: transformers to run it as it is"
            ) from None
        move_into_place(tmp, folder, model)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def move_into_place(tmp: Path, folder: Path, model: str) -> None:
    """Rename a whole conversion to its cache folder; one another job finished first is kept."""
    try:
        os.replace(tmp, folder)
    except OSError as exc:
        # Another job converted the same model meanwhile: theirs is as good.
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and (folder / "model.bin").exists():
            return
        raise ModelError(
            f"{model}: cannot move the converted model into {folder} ({locate.first_line(exc)})"
        ) from None


def remove_stale_conversions(cache: Path, now: float | None = None) -> list[Path]:
    """Remove temporary folders that killed conversions left in ``cache``; return them.

    A folder is stale when the process that made it (on this host) is gone,
    or when it is older than ``STALE_AFTER_S`` (made on another host sharing
    the cache). A conversion still running is never touched.
    """
    now = time.time() if now is None else now
    host = host_name()
    removed = []
    for path in cache.glob(".*.*.*.*"):
        # .<folder>.<host>.<pid>.<random>: the folder name may hold dots, the rest not.
        parts = path.name[1:].rsplit(".", 3)
        if not path.is_dir() or len(parts) != 4 or not parts[2].isdigit():
            continue
        _, owner, pid, _ = parts
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:  # its job just finished
            continue
        if (owner == host and not process_alive(int(pid))) or age > STALE_AFTER_S:
            log.info("removing %s, left by a conversion that did not finish", path)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def host_name() -> str:
    """This host's name as it goes into a temporary folder's name (no dots)."""
    return re.sub(r"[^\w-]+", "_", socket.gethostname()) or "host"


def process_alive(pid: int) -> bool:
    """True when a process with this id runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def download_checkpoint(model: str) -> Path:
    """The local folder of a Hub NLLB checkpoint, fetched into the cache when missing."""
    return locate.fetch_checkpoint(model, "translate.model")


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


def load_translator(
    options: TranslateOptions, placement: Placement, cpu_threads: int
) -> Translator:
    """Load the configured backend once for this process (``placement`` has its compute type)."""
    if options.backend == "ctranslate2":
        return CTranslate2Translator(options, placement, cpu_threads)
    if options.backend == "transformers":
        return TransformersTranslator(options, placement, cpu_threads)
    raise ModelError(f"unknown translate.backend {options.backend!r}: use one of {BACKENDS}")


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


def _letters_in(text: str, script: str) -> float:
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
    if src_script != tgt_script and not shared_script and _letters_in(output, src_script) > 0.5:
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
