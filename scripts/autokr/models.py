"""Finding model files: a local folder, the Hugging Face cache, or a download.

Both model-backed steps go through here so that a missing model gives the same
kind of message: the model, where autokr looked, and how to use a local folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from autokr.errors import ModelError


def is_local(model: str) -> bool:
    """True when ``model`` names an existing folder rather than a repository id."""
    return Path(model).expanduser().is_dir()


def hub_cache_dir() -> str:
    """The Hugging Face cache that downloads go to (``HF_HOME``/``HF_HUB_CACHE`` move it)."""
    from huggingface_hub.constants import HF_HUB_CACHE

    return str(HF_HUB_CACHE)


def offline() -> bool:
    """True when the user asked the Hugging Face libraries not to reach the network."""
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def not_found(model: str, key: str, cause: object) -> ModelError:
    """The error for a model that is neither a local folder, cached, nor downloadable."""
    return ModelError(
        f"model {model!r} ({key}) is not a local folder, not in the cache at "
        f"{hub_cache_dir()}, and could not be downloaded ({first_line(cause)}); "
        f"run 'make models' on a machine with network access, or set {key} to a "
        "local folder that holds the model"
    )


def first_line(cause: object) -> str:
    """The first line of an exception's message, for a one-line error."""
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__
