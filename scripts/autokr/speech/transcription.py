"""The transcribe step's work: a WAV to ``transcript.json``, one try of faster-whisper.

``transcribe_with_config`` is what ``scripts/transcribe.py`` calls, with the
config its job runs with; ``transcribe_audio`` is the same step with its
options as records.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from autokr.core import languages
from autokr.core.config import RUN_ONLY, step_settings
from autokr.core.devices import Attempt, claim_gpu, cpu_threads, resolve_placement
from autokr.core.errors import AutokrError
from autokr.core.record_files import read_record, write_record
from autokr.core.records import ModelManifest, TextSource
from autokr.core.switches import hold
from autokr.models.choice import chosen_by_hand
from autokr.models.tries import ModelJob, ModelTry
from autokr.publishing.manifest import MANIFEST, published_by_autokr
from autokr.speech import asr
from autokr.text import text_source

log = logging.getLogger("autokr.transcribe")


def transcribe_audio(
    audio: str,
    out: str,
    options: asr.TranscribeOptions,
    *,
    device: str = "auto",
    compute_type: str = "auto",
    threads: int | None = None,
    attempt: Attempt | None = None,
    model_folder: str | None = None,
    model_choice: str = "",
    source: TextSource | None = None,
) -> None:
    """Load the model, transcribe ``audio`` and write the transcript to ``out``.

    ``attempt`` is Snakemake's retry count: each retry after running out of
    memory halves the batch (see ``Attempt`` for what gets lighter after that).
    ``model_folder`` is where download_model put ``options.model``, if it did;
    ``model_choice`` why ``model: auto`` chose it, if it did; ``source`` the
    video's own subtitles passed over, if any were.
    """
    tried = ModelTry(attempt or Attempt(), options.batch_size)
    options = tried.lighter(options, "batch_size")
    placement = tried.place(resolve_placement(device, compute_type))
    log.info(
        "try %d of %d: model %s on %s (%s), batch %d",
        *(tried.attempt.number, tried.attempt.last, options.model),
        *(placement.device, placement.compute_type, options.batch_size),
    )
    with tried.running(audio):
        model = asr.load_model(model_folder or options.model, placement, cpu_threads(threads))
        hold("transcribe.model")
        transcript = asr.transcribe(model, audio, options, placement)
    transcript = dataclasses.replace(
        transcript,
        settings={
            **transcript.settings,
            # The batch as configured: a retry's halved one is in the run.
            "batch_size": tried.configured_batch,
            "device": device,
            "compute_type": compute_type,
            **({"model_choice": model_choice} if model_choice else {}),
        },
        # The job's time includes loading the model, not just decoding.
        run=tried.run(finished=transcript.run.finished),
        source=source or TextSource(),
    )
    write_record(transcript, out)
    log.info(
        "%d segments, language %s (p=%.2f), %.1f s of audio",
        *(len(transcript.segments), transcript.language, transcript.language_probability),
        transcript.duration,
    )


def options_from(language: str, settings: dict) -> asr.TranscribeOptions:
    """Build options from config-style values (``language`` may be ``auto`` or an NLLB code)."""
    source = languages.source_language(language)
    settings = {**settings, "temperature": tuple(settings.get("temperature", (0.0,)))}
    return asr.TranscribeOptions(language=source.whisper if source else None, **settings)


def transcribe_with_config(
    audio: str,
    out: str,
    config: dict,
    job: ModelJob | None = None,
    video: str | None = None,
) -> None:
    """Run the step with a whole (checked, filled) config, as the workflow does.

    A job that may use a GPU first takes a free card of its own (``claim_gpu``).
    ``job`` is what the workflow gives the job (its threads, try and model;
    None: a step run by hand).
    ``video`` is the input the audio came from: its own subtitles that
    were passed over (transcribe.source) are recorded with the transcript.
    """
    # Read first, as before any card is waited for: a bad manifest fails at once.
    if job is None:  # a step run by hand: ``model: auto`` is chosen here
        config, job = chosen_by_hand(config, "transcribe"), ModelJob()
    manifest = job.model_manifest
    folder = read_record(ModelManifest, manifest).folder if manifest else None
    settings = step_settings(config, "transcribe")
    machine = {key: settings.pop(key) for key in RUN_ONLY["transcribe"]}
    mode = settings.pop("source", "auto")  # chooses the rule (RULE_CHOICE), not an option
    if machine["device"] != "cpu":
        claim_gpu(config["gpus"])
    transcribe_audio(
        audio,
        out,
        options_from(config["source_language"], settings),
        device=machine["device"],
        compute_type=machine["compute_type"],
        threads=job.threads or machine["threads"],
        attempt=Attempt(job.attempt),
        model_folder=folder,
        model_choice=config.get("model_choice", {}).get("transcribe", ""),
        source=_passed_over(video, config["source_language"], mode) if video else None,
    )


def _passed_over(video: str, language: str, mode: str) -> TextSource:
    """The transcript's source, speech, with the video's own subtitles passed over and why.

    Looked for again here rather than handed down as a param: a param would
    redo a whole transcription whenever a broken subtitle file came or went.
    """
    try:
        published = published_by_autokr(MANIFEST)
        return text_source.speech_source(Path(video), language, mode, published)
    except AutokrError as exc:  # an unreadable manifest: the transcript matters more
        return TextSource(skipped=(str(exc),))
