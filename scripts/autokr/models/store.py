"""The models folder (``models_dir``): each configured model fetched once, converted once.

``download_model`` and ``convert_model`` write a small manifest beside what
they fetch or make: the model, the folder that holds it, its files. The model
jobs take manifests as input and load their folders with the Hub switched
off, so a job never downloads and never converts. A manifest changes only
when its step runs again (for a model it has not seen), so touching the cache
reruns nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

from autokr.core.errors import RecordError
from autokr.core.record_files import read_record, write_record
from autokr.core.records import ModelManifest
from autokr.models import locate
from autokr.translation.conversion import converted_once, stored_weights

log = logging.getLogger("autokr")

#: The kinds of model, and the config key that names each.
KINDS = {"whisper": "transcribe.model", "nllb": "translate.model", "llm": "translate.llm.model"}


def slug(model: str) -> str:
    """A folder name for ``model``: readable, and unique by a digest of the whole name.

    A repo id keeps its owner (``facebook_nllb-200-distilled-600M-…``), a
    local folder its own name.
    """
    name = Path(model).name if model.startswith(("/", "~", ".")) else model
    readable = re.sub(r"[^\w.-]+", "_", name.strip("/"))[-50:].strip("._") or "model"
    return f"{readable}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"


def manifest_path(models_dir: str, kind: str, model: str) -> str:
    """Where ``download_model`` writes the manifest of a configured model."""
    return f"{models_dir}/{kind}/{slug(model)}/manifest.json"


def converted_path(models_dir: str, model: str) -> str:
    """Where ``convert_model`` writes the manifest of a model's CTranslate2 conversions.

    One manifest per model, whatever weights it holds: a change of device or
    compute type adds a conversion without changing what translate jobs read.
    """
    return f"{models_dir}/ctranslate2/{slug(model)}/manifest.json"


def weights_needed(backend: str, device: str, compute_type: str) -> list[str]:
    """The CTranslate2 conversions the translate jobs may load, by the weights they store.

    A job resolves ``device: auto`` on the machine it runs on, so both the
    CPU's int8 and CUDA's float16 are made for it (a cluster job asks for a
    GPU and may still land without one). The transformers backend needs none.
    """
    if backend != "ctranslate2":
        return []
    if compute_type != "auto":
        return [stored_weights(compute_type)]
    return {"cpu": ["int8"], "cuda": ["float16"]}.get(device, ["int8", "float16"])


def download(kind: str, model: str, into: Path) -> ModelManifest:
    """Fetch a configured model into ``into`` (a local folder is used where it is)."""
    local = locate.local_folder(model)
    if local:
        folder = local.resolve()
    elif kind == "whisper":
        folder = Path(_download_whisper(model, into))
    else:
        folder = locate.fetch_checkpoint(model, KINDS[kind], cache_dir=into)
    return ModelManifest(model, kind, str(folder), _files(folder))


def _download_whisper(model: str, into: Path) -> str:
    from faster_whisper.utils import download_model

    try:
        return download_model(model, cache_dir=str(into), local_files_only=locate.offline())
    except (OSError, ValueError) as exc:
        raise locate.not_found(model, KINDS["whisper"], exc, into) from None


def convert(checkpoint: ModelManifest, weights: list[str], into: Path) -> ModelManifest:
    """Convert a downloaded NLLB checkpoint for CTranslate2 into ``into/WEIGHTS/model``, once each.

    A conversion already in place is kept (it was renamed into place whole,
    see ``conversion.converted_once``). A folder that is already a CTranslate2
    model is used as it is, for every weight type.
    """
    source = Path(checkpoint.folder)
    conversions, files = {}, {}
    for stored in weights:
        # into/WEIGHTS/model: where conversions have always been, so that those
        # made by an earlier autokr are found and kept.
        folder = converted_once(source, into / stored / "model", stored, checkpoint.model)
        conversions[stored] = str(folder)
        files.update({f"{stored}/{name}": size for name, size in _files(folder).items()})
    return ModelManifest(checkpoint.model, "ctranslate2", str(into), files, conversions)


def folder_for(prepared: dict[str, str], compute_type: str, manifest: str) -> str:
    """The folder a try with ``compute_type`` loads, from what the model steps prepared.

    ``prepared`` maps stored weights to folders ("checkpoint": not converted).
    A try whose weights were not converted (a float32 job's lighter retry,
    say) loads another conversion: CTranslate2 turns weights into any compute
    type as it loads them.
    """
    from autokr.core.errors import ModelError

    weights = stored_weights(compute_type)
    folder = prepared.get(weights) or prepared.get("checkpoint")
    if folder is None and prepared:
        other = sorted(prepared)[0]
        log.info("no %s conversion was prepared; loading the %s one as %s", weights, other, weights)
        folder = prepared[other]
    if folder is None:
        raise ModelError(f"{manifest}: lists no model folder; run the workflow again to make it")
    return folder


def write_manifest(manifest: ModelManifest, path: str) -> None:
    """Write a manifest atomically (under a name of its own: runs may share models_dir)."""
    write_record(manifest, path)


def forget_gone(manifests: list[str]) -> list[str]:
    """Remove each manifest whose model folder (or a conversion's) was deleted; one line
    for each, saying so.

    A manifest stands for a model in place: one whose folder is gone would send
    every job to a model that is not there, while its step, its output present,
    never runs again. Without it, the model is fetched (or converted) again.
    A manifest that cannot be read is left for the steps to report.
    """
    lines = []
    for path in dict.fromkeys(manifests):
        try:
            manifest = read_record(ModelManifest, path)
        except (OSError, RecordError):
            continue
        gone = [
            f for f in (manifest.folder, *manifest.conversions.values()) if not Path(f).is_dir()
        ]
        if gone:
            Path(path).unlink(missing_ok=True)
            again = "converted" if manifest.kind == "ctranslate2" else "fetched"
            lines.append(f"{path}: its model folder {gone[0]} is gone; the model is {again} again")
    return lines


def _files(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()}
