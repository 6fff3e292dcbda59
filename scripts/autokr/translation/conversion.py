"""NLLB checkpoints converted for CTranslate2: once per model and stored weights, kept whole.

A conversion is written to a temporary folder and renamed into place when
whole, so a killed job never leaves half a model where a job would load it;
the next conversion removes what killed ones left. Where conversions are kept
is the caller's: the workflow's ``convert_model`` keeps them in the models
folder under its manifest (``autokr.models.store``); a translation run by
hand, with no manifest, in the cache (``ctranslate2_model``).
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
from pathlib import Path

from autokr.core.errors import ModelError
from autokr.models import locate

log = logging.getLogger("autokr.translate")


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

    For a run by hand, which has no models folder. The cache is keyed by the
    model's files and the stored weights (see ``stored_weights``), so a retry
    with a lighter compute type converts nothing.
    """
    source = locate.local_folder(model) or download_checkpoint(model)
    weights = stored_weights(compute_type)
    return converted_once(source, cached_conversion(model, source, weights), weights, model)


def cached_conversion(model: str, source: Path, weights: str) -> Path:
    """Where the cache keeps ``model``'s conversion storing ``weights``.

    Keyed by the checkpoint's folder and files (name, size, time), so a
    checkpoint changed in place is converted again.
    """
    identity = sorted(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in source.iterdir() if p.is_file()
    )
    key = [str(source.resolve()), identity, weights]
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()
    name = re.sub(r"[^\w.-]+", "_", model.strip("/"))[-60:]
    return ctranslate2_cache() / f"{name}-{weights}-{digest[:12]}"


def converted_once(source: Path, folder: Path, weights: str, model: str) -> Path:
    """``source`` as a CTranslate2 folder: itself when it is one, else ``folder``, converted once.

    The one conversion cache, wherever it is kept: a conversion already in
    ``folder`` is used (it was renamed into place whole), and none is made
    twice. ``model`` is the configured name the log and errors give.
    """
    if is_ctranslate2_folder(source):
        return source
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
