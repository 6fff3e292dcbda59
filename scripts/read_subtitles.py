"""Step 2, for a video with subtitles of its own: read them into ``transcript.json``.

Under Snakemake: rule ``read_subtitles``, which makes the transcript instead of
``transcribe`` for a video whose source-language subtitles (a file beside it
or a text track inside it) ``transcribe.source`` lets autokr read. By hand:
    python scripts/read_subtitles.py VIDEO OUT.json --source-language ja
"""

import argparse
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path

from autokr.core.config import add_config_options, config_from_options
from autokr.core.errors import SubtitleError
from autokr.core.memory import step_memory
from autokr.core.records import Run, write_record
from autokr.core.steps import run_step, snakemake_log
from autokr.publishing.copies import MANIFEST, published_by_autokr
from autokr.text.text_source import (
    choose_text,
    describe,
    media_duration,
    missing_line,
    read_text,
    subtitle_transcript,
)

log = logging.getLogger("autokr.read_subtitles")


def read_video_subtitles(
    video: str,
    out: str,
    language: str,
    mode: str = "subtitles",
    published: Callable[[Path], bool] = lambda path: False,
    expected: tuple[str, int | None] | None = None,
) -> None:
    """Write the transcript of ``video`` made from its own ``language`` subtitles.

    ``mode`` is transcribe.source (``subtitles`` by hand). SubtitleError when
    there are none to read (under ``subtitles``, the line says why), and when
    ``expected`` (the file, or "" and the track, the workflow planned with) is
    no longer what would be read.
    """
    started = time.time()
    source = choose_text(Path(video), language, "subtitles", published)
    for line in source.skipped:
        log.info("passed over: %s", line)
    planned = (source.path if source.kind == "file" else "", source.track)
    if source.kind == "speech" and mode == "subtitles":
        raise SubtitleError(missing_line(video, language, source.skipped))
    if source.kind == "speech" or (expected is not None and expected != planned):
        raise SubtitleError(f"{video}: its subtitles changed while the run went on; run again")
    text = read_text(source)
    run = Run("cpu", "", started, time.time(), host=socket.gethostname(), **step_memory())
    transcript = subtitle_transcript(text, source, language, media_duration(Path(video)), run)
    write_record(transcript, out)
    log.info("%d cues from %s", len(transcript.segments), describe(source))


#: The config keys this step reads; each is an option when it runs by hand.
KEYS = ["source_language"]


def main(argv: list[str] | None = None) -> None:
    """The command line: the video, the output file, and source_language."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("out")
    add_config_options(parser, KEYS)
    parser.add_argument("--log", help="also write the log to this file")
    args = parser.parse_args(argv)

    def work() -> None:
        config = config_from_options(args, KEYS)
        language = config["source_language"]
        read_video_subtitles(
            args.video, args.out, language, published=published_by_autokr(MANIFEST)
        )

    run_step("read_subtitles", args.video, args.log, work)


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    snakemake = globals()["snakemake"]
    sidecar = snakemake.input.get("subtitles", "")
    run_step(
        "read_subtitles",
        snakemake.wildcards.video,
        snakemake_log(snakemake),
        lambda: read_video_subtitles(
            snakemake.input.video,
            snakemake.output.transcript,
            snakemake.params.language,
            snakemake.params.run_with.config["transcribe"]["source"],
            published_by_autokr(MANIFEST),
            (str(sidecar) if sidecar else "", snakemake.params.track),
        ),
    )
elif __name__ == "__main__":
    main()
