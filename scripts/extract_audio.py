"""Step 1: decode a video's audio to 16 kHz mono WAV with ffmpeg.

Under Snakemake: rule ``extract_audio``. By hand:
    python scripts/extract_audio.py VIDEO OUT.wav
"""

from autokr.core.config import config_from_options
from autokr.core.steps import run_rule, run_step, step_parser
from autokr.speech.audio_extraction import extract_and_describe

#: The config keys this step reads; each is an option when it runs by hand.
KEYS = ["source_language", "audio_track", "audio_channels"]


def main(argv: list[str] | None = None) -> None:
    """The command line: the input, the WAV, and the step's config keys as options."""
    parser = step_parser(__doc__, "video", "wav", keys=KEYS)
    parser.add_argument("--media", help="also describe the input in this JSON file")
    args = parser.parse_args(argv)

    def work() -> None:
        config = config_from_options(args, KEYS)
        extract_and_describe(
            args.video,
            args.wav,
            args.media,
            track=config["audio_track"],
            source_language=config["source_language"],
            channels=config["audio_channels"],
        )

    run_step("extract_audio", args.video, args.log, work)


def run_under_snakemake(snakemake) -> None:
    """The rule: its input and outputs, and its settings from its params only."""
    p = snakemake.params
    run_rule(
        snakemake,
        lambda: extract_and_describe(
            snakemake.input.video,
            snakemake.output.wav,
            snakemake.output.media,
            track=p.run_with.config["audio_track"],
            source_language=p.language,
            channels=p.run_with.config["audio_channels"],
        ),
    )


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    run_under_snakemake(globals()["snakemake"])
elif __name__ == "__main__":
    main()
