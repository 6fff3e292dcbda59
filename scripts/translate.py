"""Step 3: translate a transcript with NLLB-200 into ``translation.{lang}.json``.

Under Snakemake: rule ``translate``. By hand, with any translate.* key as an option:
    python scripts/translate.py transcript.json OUT.json --target ko \
        --model facebook/nllb-200-distilled-600M
"""

import argparse
import os

from autokr.batch import progress
from autokr.core.config import add_config_options, config_from_options
from autokr.core.steps import run_step, snakemake_log
from autokr.translation.transcript_translation import translate_with_config

#: The config keys this step reads; each is an option when it runs by hand.
KEYS = ["source_language", "translate"]


def main(argv: list[str] | None = None) -> None:
    """The command line: every translate.* key and source_language as an option."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("transcript")
    parser.add_argument("out")
    parser.add_argument("--target", default="ko", help="one target language (default: ko)")
    add_config_options(parser, KEYS)
    parser.add_argument("--log", help="also write the log to this file")
    args = parser.parse_args(argv)
    run_step(
        "translate",
        args.transcript,
        args.log,
        lambda: translate_with_config(
            args.transcript,
            args.out,
            args.target,
            config_from_options(args, KEYS, base={"target_language": args.target}),
        ),
    )


def run_under_snakemake(snakemake) -> None:
    """The rule: its input and output, and its settings from its params only."""
    # The models are on disk (download_model, convert_model): a job never
    # reaches the Hub and never converts.
    os.environ["HF_HUB_OFFLINE"] = "1"
    # How far it is, for the terminal (autokr.batch.progress).
    wildcards = [snakemake.wildcards.video, snakemake.wildcards.lang]
    progress.start(progress.progress_path("translate", wildcards))
    run_step(
        "translate",
        snakemake.wildcards.video,
        snakemake_log(snakemake),
        lambda: translate_with_config(
            snakemake.input.transcript,
            snakemake.output.translation,
            snakemake.wildcards.lang,
            snakemake.params.run_with.config,
            threads=snakemake.threads,
            attempt=snakemake.resources.attempt,
            model_manifest=snakemake.input.model,
        ),
    )


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    run_under_snakemake(globals()["snakemake"])
elif __name__ == "__main__":
    main()
