"""Publish a video's subtitles where players find them: beside the video, and muxed into a copy.

Under Snakemake: rule ``publish``, one job per video, when config ``publish``
lists ``next_to_video`` and/or ``mux``. By hand:
    python scripts/publish.py "videos/ep.01.mkv" --subtitle ko=results/subtitles/ep.01.ko.srt \
        --subtitle ja=results/subtitles/ep.01.ja.srt --next-to-video --mux results/muxed/ep.01.mkv
copies ep.01.ko.srt and ep.01.ja.srt beside the video (never over a file autokr
did not write) and writes results/muxed/ep.01.mkv with both as tracks (only under
results/, never over the video itself); results/published.json records them.
"""

from pathlib import Path

from autokr.core.records import read_qa
from autokr.core.results_layout import MUXED_FOLDER, PUBLISHED, RESULTS
from autokr.core.steps import run_rule, run_step, step_parser
from autokr.publishing.jobs import publish_video


def main(argv: list[str] | None = None) -> None:
    """The command line: the video, its subtitle files, and where to publish them."""
    parser = step_parser(__doc__)
    parser.add_argument("video", help="the video file the subtitles belong to")
    parser.add_argument(
        "--subtitle",
        action="append",
        default=[],
        metavar="LANG=FILE",
        help="repeatable; translations first, the first is the default track",
    )
    parser.add_argument("--source", help="the label of the transcript's file (not a translation)")
    parser.add_argument("--detected", help="the language heard, for a subtitle labelled orig")
    parser.add_argument("--next-to-video", action="store_true", help="copy them beside the video")
    parser.add_argument(
        "--mux",
        metavar="OUT.mkv",
        help=f"write a copy of the video with them, under {RESULTS}/ ({MUXED_FOLDER}/NAME.mkv)",
    )
    parser.add_argument("--manifest", default=PUBLISHED)
    args = parser.parse_args(argv)
    files = [tuple(item.split("=", 1)) for item in args.subtitle]
    targets = [label for label, _ in files if label != (args.source or "orig")]
    kinds = ["next_to_video"] * args.next_to_video + ["mux"] * bool(args.mux)
    if not kinds:
        parser.error("say where: --next-to-video and/or --mux OUT.mkv")
    run_step(
        "publish",
        args.video,
        args.log,
        lambda: publish_video(
            video_id=Path(args.video).stem,
            video=args.video,
            files=files,
            targets=targets,
            kinds=kinds,
            detected=args.detected,
            muxed=args.mux,
            manifest=args.manifest,
        ),
    )


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    snakemake = globals()["snakemake"]
    p = snakemake.params
    run_rule(
        snakemake,
        lambda: publish_video(
            video_id=snakemake.wildcards.video,
            video=snakemake.input.video,
            files=list(zip(p.labels, snakemake.input.subtitles, strict=True)),
            targets=p.targets,
            kinds=p.kinds,
            record=snakemake.output.record,
            detected=read_qa(snakemake.input.qa).language,
            muxed=p.muxed or None,
            manifest=p.manifest,
        ),
    )
elif __name__ == "__main__":
    main()
