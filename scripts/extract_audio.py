"""Step 1: decode a video's audio to 16 kHz mono WAV with ffmpeg.

Under Snakemake: rule ``extract_audio``. By hand:
    python scripts/extract_audio.py VIDEO OUT.wav
"""

import argparse
import logging
import os
import socket
import time

from autokr.core import languages
from autokr.core.config import add_config_options, config_from_options
from autokr.core.errors import MediaError
from autokr.core.memory import step_memory
from autokr.core.records import Media, Run, Span, write_record
from autokr.core.steps import run_step, snakemake_log
from autokr.speech.media import extract_audio

log = logging.getLogger("autokr.extract_audio")


def extract(
    video: str,
    wav: str,
    media_json: str | None = None,
    track: int | str = "auto",
    source_language: str = "auto",
    channels: str = "auto",
) -> None:
    """Extract one audio track of ``video`` to ``wav``; describe the input in JSON.

    ``track`` is an audio track number or ``auto`` (the track tagged with the
    source language, else the first); ``channels`` which of its channels to
    hear (``auto``: the centre channel of surround sound, else all).
    """
    started = time.time()
    try:
        stat = os.stat(video)
    except OSError as exc:
        raise MediaError(f"{video}: {exc.strerror.lower()}") from None
    tags = languages.track_tags(source_language) if source_language != "auto" else frozenset()
    done = extract_audio(video, wav, track, tags, channels)
    info, chosen = done.probe, done.track
    log.info(
        "wrote %s from audio track %d of %d (%s, %s), starting %.2f s in",
        wav,
        chosen.number,
        info.audio_streams,
        chosen.language or "untagged",
        done.heard,
        chosen.start - info.start,
    )
    if done.note:
        log.warning("%s: %s", video, done.note)
    for start, end in done.holes:
        log.warning(
            "%s: no audio for %.2f s at %.2f s (a hole in the track): filled with silence",
            video,
            end - start,
            start,
        )
    if media_json:
        record = Media(
            source=str(video),
            size=stat.st_size,
            mtime=stat.st_mtime,
            duration=info.duration or 0.0,
            frame_rate=info.frame_rate,
            audio_streams=info.audio_streams,
            run=Run("cpu", "", started, time.time(), socket.gethostname(), **step_memory()),
            audio_track=chosen.number,
            audio_language=chosen.language,
            audio_offset=round(max(chosen.start - info.start, 0.0), 3),
            audio_channels=done.heard,
            audio_channels_note=done.note,
            audio_holes=tuple(Span(start, end) for start, end in done.holes),
        )
        write_record(record, media_json)


#: The config keys this step reads; each is an option when it runs by hand.
KEYS = ["source_language", "audio_track", "audio_channels"]


def main(argv: list[str] | None = None) -> None:
    """The command line: the input, the WAV, and the step's config keys as options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("wav")
    parser.add_argument("--media", help="also describe the input in this JSON file")
    add_config_options(parser, KEYS)
    parser.add_argument("--log", help="also write the log to this file")
    args = parser.parse_args(argv)

    def work() -> None:
        config = config_from_options(args, KEYS)
        extract(
            args.video,
            args.wav,
            args.media,
            config["audio_track"],
            config["source_language"],
            config["audio_channels"],
        )

    run_step("extract_audio", args.video, args.log, work)


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    snakemake = globals()["snakemake"]
    run_step(
        "extract_audio",
        snakemake.wildcards.video,
        snakemake_log(snakemake),
        lambda: extract(
            snakemake.input.video,
            snakemake.output.wav,
            snakemake.output.media,
            snakemake.params.run_with.config["audio_track"],
            snakemake.params.language,
            snakemake.params.run_with.config["audio_channels"],
        ),
    )
elif __name__ == "__main__":
    main()
