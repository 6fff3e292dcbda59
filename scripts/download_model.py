"""Model step: fetch one configured model into the models folder, and write its manifest.

Under Snakemake: rule ``download_model`` (a local rule: on a cluster it runs
where the network is). By hand:
    python scripts/download_model.py whisper large-v3 models/whisper/x/manifest.json
A model given as a local folder is checked and used where it is, not copied.
"""

import argparse
from pathlib import Path

from autokr.core.steps import run_step, snakemake_log
from autokr.models import store


def download_model(kind: str, model: str, manifest: str) -> None:
    """Fetch ``model`` (of ``kind``: whisper or nllb) beside ``manifest``; write the manifest."""
    prepared = store.download(kind, model, Path(manifest).parent / "hub")
    store.write_manifest(prepared, manifest)


def main(argv: list[str] | None = None) -> None:
    """The command line: the kind, the model, where its manifest goes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(store.KINDS))
    parser.add_argument("model", help="a size name, a Hugging Face repo id or a local folder")
    parser.add_argument("manifest")
    parser.add_argument("--log", help="also write the log to this file")
    args = parser.parse_args(argv)
    run_step(
        "download_model",
        args.model,
        args.log,
        lambda: download_model(args.kind, args.model, args.manifest),
    )


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    snakemake = globals()["snakemake"]
    run_step(
        "download_model",
        snakemake.params.model,
        snakemake_log(snakemake),
        lambda: download_model(
            snakemake.wildcards.kind, snakemake.params.model, snakemake.output.manifest
        ),
    )
elif __name__ == "__main__":
    main()
