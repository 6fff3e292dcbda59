"""Step 4: lay out cues by each language's rules and write the subtitle files and QA report.

Under Snakemake: rule ``make_srt``, one job per video. By hand, with any
subtitles.* key, translate.sentences and source_language as options:
    python scripts/make_srt.py "out/ep01" --transcript transcript.json \
        --translation ko=translation.ko.json [--media media.json] [--formats "[srt, vtt]"]
writes out/ep01.ja.srt, out/ep01.ko.srt (and .vtt) and out/ep01.qa.json.
"""

from pathlib import Path

from autokr.core.config import config_from_options, source_label
from autokr.core.steps import run_rule, run_step, step_parser
from autokr.text.make_subtitles import SubtitleOptions, make_subtitles
from autokr.text.sentences import SentenceOptions

#: The config keys this step reads; each is an option when it runs by hand.
KEYS = ["source_language", "subtitles", "translate.sentences"]


def main(argv: list[str] | None = None) -> None:
    """The command line: the records to lay out, and the step's config keys as options."""
    parser = step_parser(__doc__, keys=KEYS)
    parser.add_argument("prefix", help="path and name of the outputs, without extensions")
    parser.add_argument("--transcript", required=True)
    parser.add_argument(
        "--translation", action="append", default=[], metavar="LANG=FILE", help="repeatable"
    )
    parser.add_argument("--media", help="media.json from extract_audio (for the frame rate)")
    args = parser.parse_args(argv)
    translations = dict(item.split("=", 1) for item in args.translation)
    Path(args.prefix).parent.mkdir(parents=True, exist_ok=True)

    def work() -> None:
        config = config_from_options(args, KEYS)
        subtitles = config["subtitles"]
        options = SubtitleOptions(
            source_label=source_label(config),
            formats=tuple(subtitles["formats"]),
            bilingual=subtitles["bilingual"],
            layout=subtitles["layout"],
            sentences=SentenceOptions(**config["translate"]["sentences"]),
        )
        make_subtitles(
            Path(args.prefix).name,
            args.prefix,
            args.transcript,
            translations,
            f"{args.prefix}.qa.json",
            media_path=args.media,
            options=options,
        )

    run_step("make_srt", args.prefix, args.log, work)


def run_under_snakemake(snakemake) -> None:
    """The rule: its inputs and outputs, and its settings from its params only."""
    p = snakemake.params

    def work() -> None:
        options = SubtitleOptions(
            source_label=p.source_label,
            formats=tuple(p.formats),
            bilingual=p.bilingual,
            layout=p.layout,
            sentences=SentenceOptions(**p.run_with.config["translate"]["sentences"]),
        )
        make_subtitles(
            snakemake.wildcards.video,
            p.prefix,
            snakemake.input.transcript,
            dict(zip(p.targets, snakemake.input.translations, strict=True)),
            snakemake.output.qa,
            media_path=snakemake.input.media,
            options=options,
        )

    run_rule(snakemake, work)


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    run_under_snakemake(globals()["snakemake"])
elif __name__ == "__main__":
    main()
