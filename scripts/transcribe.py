"""Step 2: transcribe a WAV with faster-whisper into ``transcript.json``.

Under Snakemake: rule ``transcribe``. By hand, with any transcribe.* key as an option:
    python scripts/transcribe.py AUDIO.wav OUT.json --model large-v3 --source-language ja
"""

import argparse
import os

from autokr.batch import progress
from autokr.core.config import add_config_options, config_from_options
from autokr.core.steps import run_step, snakemake_log
from autokr.speech.transcription import transcribe_with_config

#: The config keys this step reads; each is an option when it runs by hand.
KEYS = ["source_language", "transcribe"]


def main(argv: list[str] | None = None) -> None:
    """The command line: every transcribe.* key and source_language as an option."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audio")
    parser.add_argument("out")
    add_config_options(parser, KEYS)
    parser.add_argument("--log", help="also write the log to this file")
    args = parser.parse_args(argv)
    run_step(
        "transcribe",
        args.audio,
        args.log,
        lambda: transcribe_with_config(args.audio, args.out, config_from_options(args, KEYS)),
    )


def run_under_snakemake(snakemake) -> None:
    """The rule: its inputs and output, and its settings from its params only."""
    # The model is on disk (download_model): a job never reaches the Hub.
    os.environ["HF_HUB_OFFLINE"] = "1"
    # How far it is, for the terminal (autokr.batch.progress).
    progress.start(progress.progress_path("transcribe", [snakemake.wildcards.video]))
    run_step(
        "transcribe",
        snakemake.wildcards.video,
        snakemake_log(snakemake),
        lambda: transcribe_with_config(
            snakemake.input.audio,
            snakemake.output.transcript,
            snakemake.params.run_with.config,
            threads=snakemake.threads,
            attempt=snakemake.resources.attempt,
            model_manifest=snakemake.input.model,
            video=snakemake.input.video,
        ),
    )


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    run_under_snakemake(globals()["snakemake"])
elif __name__ == "__main__":
    main()
