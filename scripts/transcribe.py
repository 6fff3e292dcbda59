"""Step 2: transcribe a WAV with faster-whisper into ``transcript.json``.

Under Snakemake: rule ``transcribe``. By hand, with any transcribe.* key as an option:
    python scripts/transcribe.py AUDIO.wav OUT.json --model large-v3 --source-language ja
"""

from autokr.core.config import config_from_options
from autokr.core.steps import run_by_hand, step_parser
from autokr.models.tries import run_model_rule
from autokr.speech.transcription import transcribe_with_config

#: The config keys this step reads; each is an option when it runs by hand.
KEYS = ["source_language", "transcribe"]


def main(argv: list[str] | None = None) -> None:
    """The command line: every transcribe.* key and source_language as an option."""
    run_by_hand(
        "transcribe",
        step_parser(__doc__, "audio", "out", keys=KEYS),
        argv,
        lambda args: transcribe_with_config(args.audio, args.out, config_from_options(args, KEYS)),
        label_from="audio",
    )


def run_under_snakemake(snakemake) -> None:
    """The rule: its inputs and output, and its settings from its params only."""
    run_model_rule(
        snakemake,
        lambda job: transcribe_with_config(
            snakemake.input.audio,
            snakemake.output.transcript,
            snakemake.params.run_with.config,
            job,
            video=snakemake.input.video,
        ),
    )


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    run_under_snakemake(globals()["snakemake"])
elif __name__ == "__main__":
    main()
