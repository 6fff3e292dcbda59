"""Step 2, for a video with subtitles of its own: read them into ``transcript.json``.

Under Snakemake: rule ``read_subtitles``, which makes the transcript instead of
``transcribe`` for a video whose source-language subtitles (a file beside it
or a text track inside it) ``transcribe.source`` lets autokr read. By hand:
    python scripts/read_subtitles.py VIDEO OUT.json --source-language ja
"""

from autokr.core.config import config_from_options
from autokr.core.steps import run_rule, run_step, step_parser
from autokr.publishing.manifest import MANIFEST, published_by_autokr
from autokr.text.text_source import read_video_subtitles

#: The config keys this step reads; each is an option when it runs by hand.
KEYS = ["source_language"]


def main(argv: list[str] | None = None) -> None:
    """The command line: the video, the output file, and source_language."""
    args = step_parser(__doc__, "video", "out", keys=KEYS).parse_args(argv)

    def work() -> None:
        config = config_from_options(args, KEYS)
        language = config["source_language"]
        read_video_subtitles(
            args.video, args.out, language, published=published_by_autokr(MANIFEST)
        )

    run_step("read_subtitles", args.video, args.log, work)


def run_under_snakemake(snakemake) -> None:
    """The rule: its inputs and output, and its settings from its params only."""
    p = snakemake.params
    sidecar = snakemake.input.get("subtitles", "")
    run_rule(
        snakemake,
        lambda: read_video_subtitles(
            snakemake.input.video,
            snakemake.output.transcript,
            p.language,
            mode=p.run_with.config["transcribe"]["source"],
            published=published_by_autokr(MANIFEST),
            # The file (or "" and the track) the workflow planned with.
            expected=(str(sidecar) if sidecar else "", p.track),
        ),
    )


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    run_under_snakemake(globals()["snakemake"])
elif __name__ == "__main__":
    main()
