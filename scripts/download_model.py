"""Model step: fetch one configured model into the models folder, and write its manifest.

Under Snakemake: rule ``download_model`` (a local rule: on a cluster it runs
where the network is). By hand:
    python scripts/download_model.py whisper large-v3 models/whisper/x/manifest.json
A model given as a local folder is checked and used where it is, not copied.
"""

from pathlib import Path

from autokr.core.steps import run_by_hand, run_rule, step_parser
from autokr.models import store


def download_model(kind: str, model: str, manifest: str) -> None:
    """Fetch ``model`` (of ``kind``: whisper or nllb) beside ``manifest``; write the manifest."""
    prepared = store.download(kind, model, Path(manifest).parent / "hub")
    store.write_manifest(prepared, manifest)


def main(argv: list[str] | None = None) -> None:
    """The command line: the kind, the model, where its manifest goes."""
    parser = step_parser(__doc__)
    parser.add_argument("kind", choices=sorted(store.KINDS))
    parser.add_argument("model", help="a size name, a Hugging Face repo id or a local folder")
    parser.add_argument("manifest")
    run_by_hand(
        "download_model",
        parser,
        argv,
        lambda args: download_model(args.kind, args.model, args.manifest),
        label_from="model",
    )


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    snakemake = globals()["snakemake"]
    model = snakemake.params.model
    run_rule(
        snakemake,
        lambda: download_model(snakemake.wildcards.kind, model, snakemake.output.manifest),
        label=model,
    )
elif __name__ == "__main__":
    main()
