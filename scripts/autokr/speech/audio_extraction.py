"""A video's audio for Whisper, and ``media.json``: what the video holds and what was heard."""

from __future__ import annotations

import logging
import os
import socket
import time

from autokr.core import languages
from autokr.core.errors import MediaError
from autokr.core.memory import step_memory
from autokr.core.record_files import write_record
from autokr.core.records import Media, Run, Span
from autokr.speech.media import Extraction, extract_audio

# The step's name in the log: extract_audio runs this.
log = logging.getLogger("autokr.extract_audio")


def extract_and_describe(
    video: str,
    wav: str,
    media_json: str | None = None,
    *,
    track: int | str = "auto",
    source_language: str = "auto",
    channels: str = "auto",
) -> None:
    """Extract one audio track of ``video`` to ``wav``; describe the input in ``media_json``.

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
    log_extraction(video, wav, done)
    if media_json:
        run = Run("cpu", "", started, time.time(), socket.gethostname(), **step_memory())
        write_record(media_record(video, stat, done, run), media_json)


def log_extraction(video: str, wav: str, done: Extraction) -> None:
    """One line for the track taken, and a warning for each thing the user should know."""
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


def media_record(video: str, stat: os.stat_result, done: Extraction, run: Run) -> Media:
    """The ``media.json`` record of ``video`` (``stat`` taken before it was read)."""
    info, chosen = done.probe, done.track
    return Media(
        source=str(video),
        size=stat.st_size,
        mtime=stat.st_mtime,
        duration=info.duration or 0.0,
        frame_rate=info.frame_rate,
        audio_streams=info.audio_streams,
        run=run,
        audio_track=chosen.number,
        audio_language=chosen.language,
        audio_offset=round(max(chosen.start - info.start, 0.0), 3),
        audio_channels=done.heard,
        audio_channels_note=done.note,
        audio_holes=tuple(Span(start, end) for start, end in done.holes),
    )
