"""Fetch the configured models into the cache, for machines that will run offline.

    python scripts/download_models.py [--configfile mine.yaml]

Local folders are checked, not fetched. Afterwards set HF_HUB_OFFLINE=1 on the
offline machine, or point the config at local folders.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from autokr import models, mt
from autokr.config import read_config
from autokr.devices import backend_library, resolve_placement
from autokr.errors import AutokrError


def fetch_whisper(model: str) -> str:
    """Download a faster-whisper model by size name or repo id; return its folder."""
    from faster_whisper.utils import download_model

    if folder := models.local_folder(model):
        return str(folder)
    try:
        return download_model(model)
    except (OSError, ValueError) as exc:
        raise models.not_found(model, "transcribe.model", exc) from None


def fetch_nllb(model: str, backend: str, compute_type: str = "int8") -> str:
    """Download an NLLB checkpoint, and convert it for CTranslate2 when that is the backend.

    The conversion is for ``compute_type`` (and the lighter types of its retries).
    """
    if backend == "ctranslate2":
        return str(mt.ctranslate2_model(model, compute_type))
    return str(models.local_folder(model) or mt.download_checkpoint(model))


def main(argv: list[str] | None = None) -> None:
    """The command line: fetch (and convert) the models the config names."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        config = read_config(args.configfile)
        print(f"transcribe.model: {fetch_whisper(config['transcribe']['model'])}")
        translate = config["translate"]
        # Converted for this machine's device; another device converts its own on first use.
        placement = resolve_placement(
            translate["device"], library=backend_library(translate["backend"])
        )
        compute_type = mt.compute_type(translate["backend"], placement, translate["compute_type"])
        folder = fetch_nllb(translate["model"], translate["backend"], compute_type)
        print(f"translate.model: {folder}")
    except AutokrError as exc:
        sys.exit(f"autokr: {exc}")


if __name__ == "__main__":
    main()
