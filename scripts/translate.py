"""Step 3: translate a transcript into ``translation.{lang}.json``, with NLLB-200 or an
instruction model (``--backend llm`` or ``openai``, ``--llm "{server: URL, model: NAME}"``).

Under Snakemake: rule ``translate``. By hand, with any translate.* key as an option:
    python scripts/translate.py transcript.json OUT.json --target ko \
        --model facebook/nllb-200-distilled-600M
"""

from autokr.core.config import config_from_options
from autokr.core.steps import run_by_hand, step_parser
from autokr.models.tries import run_model_rule
from autokr.translation.transcript_translation import translate_with_config

#: The config keys this step reads; each is an option when it runs by hand.
KEYS = ["source_language", "translate"]


def main(argv: list[str] | None = None) -> None:
    """The command line: every translate.* key and source_language as an option."""
    parser = step_parser(__doc__, "transcript", "out", keys=KEYS)
    parser.add_argument("--target", default="ko", help="one target language (default: ko)")
    run_by_hand(
        "translate",
        parser,
        argv,
        lambda args: translate_with_config(
            args.transcript,
            args.out,
            args.target,
            config_from_options(args, KEYS, base={"target_language": args.target}),
        ),
        label_from="transcript",
    )


def run_under_snakemake(snakemake) -> None:
    """The rule: its input and output, and its settings from its params only."""
    run_model_rule(
        snakemake,
        lambda job: translate_with_config(
            snakemake.input.transcript,
            snakemake.output.translation,
            snakemake.wildcards.lang,
            snakemake.params.run_with.config,
            job,
        ),
    )


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    run_under_snakemake(globals()["snakemake"])
elif __name__ == "__main__":
    main()
