"""Finding model files: a local folder, the Hugging Face cache, or a download.

Both model-backed steps go through here so that a missing model gives the same
kind of message: the model, where autokr looked, and how to use a local folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from autokr.core.errors import ModelError

#: The two weight formats transformers loads, best first: the single file,
#: its shards, and the index that names the shards.
WEIGHT_FORMATS = (
    (
        "model.safetensors",
        re.compile(r"model-\d+-of-\d+\.safetensors"),
        "model.safetensors.index.json",
    ),
    (
        "pytorch_model.bin",
        re.compile(r"pytorch_model-\d+-of-\d+\.bin"),
        "pytorch_model.bin.index.json",
    ),
)


def is_local(model: str) -> bool:
    """True when ``model`` names an existing folder rather than a repository id."""
    return Path(model).expanduser().is_dir()


def local_folder(model: str) -> Path | None:
    """The folder ``model`` names (``~`` expanded), or None for a repository id."""
    path = Path(model).expanduser()
    return path if path.is_dir() else None


def weight_files(files: list[str]) -> list[str]:
    """The weights among a checkpoint's file names, in one format; empty when none is whole.

    safetensors is preferred to ``.bin`` when a checkpoint holds both; a
    single file is preferred to shards. Shards count only with their index.
    """
    names = set(files)
    for single, shard, index in WEIGHT_FORMATS:
        if single in names:
            return [single]
        shards = sorted(f for f in names if shard.fullmatch(f))
        if shards and index in names:
            return [index, *shards]
    return []


def checkpoint_files(repo_files: list[str], model: str = "the repository") -> list[str]:
    """The files of a Hub repository to fetch for a transformers checkpoint.

    Configuration and tokenizer files (top-level ``*.json``, sentencepiece
    ``*.model``, BPE ``merges.txt`` / ``vocab.txt``, ``*.tiktoken``, and an
    instruction model's ``chat_template.jinja``) and one copy of the weights
    (see ``weight_files``); never the other weight format, nor the flax,
    TensorFlow, ONNX or Rust copies a repository may also hold. Raises
    ModelError when there are no weights transformers can load.
    """
    top = [f for f in repo_files if "/" not in f]  # subfolders hold other formats (onnx/ ...)
    weights = weight_files(top)
    if not weights:
        raise ModelError(
            f"{model} holds no weights transformers can load (model.safetensors or "
            "pytorch_model.bin, whole or in shards with their index.json); its files: "
            f"{', '.join(sorted(repo_files)) or 'none'}"
        )
    indexes = {index for _, _, index in WEIGHT_FORMATS}
    support = [
        f
        for f in top
        if (f.endswith(".json") and not f.endswith(".index.json") and f not in indexes)
        or f.endswith((".model", ".jinja", ".tiktoken"))  # chat templates, tiktoken vocabularies
        or f in ("merges.txt", "vocab.txt")
    ]
    return sorted({*support, *weights})


def fetch_checkpoint(model: str, key: str, cache_dir: Path | None = None) -> Path:
    """The local folder of a Hub checkpoint, fetched into the cache when missing.

    Online, the repository's file list decides what to fetch (``checkpoint_files``).
    Offline (``HF_HUB_OFFLINE``) or when the Hub cannot be reached, the cached
    snapshot is used if it holds weights; otherwise the error says how to get
    the model (``not_found``). ``cache_dir`` moves the cache (the models folder).
    """
    from huggingface_hub import snapshot_download

    cache = str(cache_dir) if cache_dir else None
    if offline():
        return cached_checkpoint(model, key, None, cache_dir)
    try:
        listing = [f.filename for f in snapshot_download(model, dry_run=True, cache_dir=cache)]
    except (OSError, ValueError) as exc:  # not reachable, not found, gated: the cache may have it
        return cached_checkpoint(model, key, exc.__cause__ or exc, cache_dir)
    try:
        patterns = checkpoint_files(listing, model)
        path = snapshot_download(model, allow_patterns=patterns, cache_dir=cache)
    except (OSError, ValueError) as exc:
        raise not_found(model, key, exc, cache_dir) from None
    return Path(path)


def cached_checkpoint(
    model: str, key: str, cause: BaseException | None, cache_dir: Path | None = None
) -> Path:
    """The cached snapshot of a Hub checkpoint, without the network; it must hold weights.

    ``cause`` is why the Hub was not asked (None: offline by choice); the error names it.
    """
    from huggingface_hub import get_cached_repo_tree, snapshot_download
    from huggingface_hub.errors import CachedRepoTreeNotFoundError

    cache = str(cache_dir) if cache_dir else None
    try:
        # The cached listing says which files a whole download holds: the
        # snapshot is checked against it, so it must be narrowed to ours.
        listing = [f.path for f in get_cached_repo_tree(model, cache_dir=cache)]
        patterns = checkpoint_files(listing, model)
    except (CachedRepoTreeNotFoundError, OSError, ValueError, ModelError):
        patterns = None
    try:
        folder = Path(
            snapshot_download(
                model, local_files_only=True, allow_patterns=patterns, cache_dir=cache
            )
        )
    except (OSError, ValueError) as exc:
        raise not_found(model, key, cause or exc, cache_dir) from None
    try:
        checkpoint_files([p.name for p in folder.iterdir() if p.is_file()], f"the cached {model}")
    except ModelError as exc:
        raise not_found(model, key, cause or exc, cache_dir) from None
    return folder


def hub_cache_dir() -> str:
    """The Hugging Face cache that downloads go to (``HF_HOME``/``HF_HUB_CACHE`` move it)."""
    from huggingface_hub.constants import HF_HUB_CACHE

    return str(HF_HUB_CACHE)


def offline() -> bool:
    """True when the user asked the Hugging Face libraries not to reach the network."""
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def not_found(model: str, key: str, cause: object, cache_dir: Path | None = None) -> ModelError:
    """The error for a model that is neither a local folder, cached, nor downloadable.

    ``cache_dir`` is the cache that was looked in (the models folder); None is the Hub's.
    """
    return ModelError(
        f"model {model!r} ({key}) is not a local folder, not in the cache at "
        f"{cache_dir or hub_cache_dir()}, and could not be downloaded ({first_line(cause)}); "
        f"run 'make models' on a machine with network access, or set {key} to a "
        "local folder that holds the model"
    )


def first_line(cause: object) -> str:
    """The first line of an exception's message, for a one-line error."""
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__
