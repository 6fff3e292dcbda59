"""Model step: convert a downloaded NLLB checkpoint for CTranslate2 once, and write its manifest.

Under Snakemake: rule ``convert_model``. By hand:
    python scripts/convert_model.py models/nllb/X/manifest.json \
        models/ctranslate2/X/manifest.json int8 float16
``int8`` weights serve the CPU, ``float16`` CUDA (and its lighter retries). Each
is made once, in ``models/ctranslate2/X/WEIGHTS/``; one made already is kept.
"""

import os
from pathlib import Path

from autokr.core.record_files import read_record
from autokr.core.records import ModelManifest
from autokr.core.steps import run_by_hand, run_rule, step_parser
from autokr.models import store


def convert_model(checkpoint: str, manifest: str, weights: list[str]) -> None:
    """Convert the checkpoint ``checkpoint`` names once per stored ``weights``, by ``manifest``."""
    # The checkpoint is on disk already: nothing here may reach the network.
    os.environ["HF_HUB_OFFLINE"] = "1"
    source = read_record(ModelManifest, checkpoint)
    converted = store.convert(source, weights, Path(manifest).parent)
    store.write_manifest(converted, manifest)


def main(argv: list[str] | None = None) -> None:
    """The command line: the checkpoint's manifest, the weights, the new manifest."""
    parser = step_parser(__doc__)
    parser.add_argument("checkpoint", help="the manifest download_model wrote for the checkpoint")
    parser.add_argument("manifest", help="the manifest to write beside the conversions")
    parser.add_argument("weights", nargs="+", help="int8, float16, ... (see stored_weights)")
    run_by_hand(
        "convert_model",
        parser,
        argv,
        lambda args: convert_model(args.checkpoint, args.manifest, args.weights),
        label_from="checkpoint",
    )


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    snakemake = globals()["snakemake"]
    run_rule(
        snakemake,
        lambda: convert_model(
            snakemake.input.checkpoint, snakemake.output.manifest, snakemake.params.weights
        ),
        label=snakemake.wildcards.slug,
    )
elif __name__ == "__main__":
    main()
