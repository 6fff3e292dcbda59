"""Step 4: write a subtitle file from a transcript (source language) or a translation.

Under Snakemake: rule ``make_srt``. By hand:
    python scripts/make_srt.py OUT.srt --transcript transcript.json
    python scripts/make_srt.py OUT.srt --translation translation.ko.json
"""

import argparse
import logging

from autokr.records import read_transcript, read_translation
from autokr.steps import run_step, snakemake_log
from autokr.subtitles import lines_from_transcript, lines_from_translation, write_srt

log = logging.getLogger("autokr.make_srt")


def make_srt(out: str, transcript: str | None = None, translation: str | None = None) -> None:
    """Write ``out`` from a translation when given one, else from the transcript."""
    if translation:
        lines = lines_from_translation(read_translation(translation))
    elif transcript:
        lines = lines_from_transcript(read_transcript(transcript))
    else:
        raise ValueError("make_srt needs a transcript or a translation")
    count = write_srt(lines, out)
    log.info("wrote %s with %d cues", out, count)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--transcript")
    group.add_argument("--translation")
    parser.add_argument("--log", help="also write the log to this file")
    args = parser.parse_args(argv)
    run_step(
        "make_srt",
        args.out,
        args.log,
        lambda: make_srt(args.out, args.transcript, args.translation),
    )


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    snakemake = globals()["snakemake"]
    run_step(
        "make_srt",
        snakemake.wildcards.video,
        snakemake_log(snakemake),
        lambda: make_srt(
            snakemake.output.srt,
            snakemake.input.get("transcript"),
            snakemake.input.get("translation"),
        ),
    )
elif __name__ == "__main__":
    main()
