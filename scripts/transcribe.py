"""Step 2: transcribe a WAV with faster-whisper into ``transcript.json``.

Under Snakemake: rule ``transcribe``. By hand, with any transcribe.* key as an option:
    python scripts/transcribe.py AUDIO.wav OUT.json --model large-v3 --source-language ja
"""

import argparse
import dataclasses
import logging
import os
import socket
import time
from pathlib import Path

from autokr.batch import progress
from autokr.core import languages
from autokr.core.config import RUN_ONLY, add_config_options, config_from_options, step_settings
from autokr.core.devices import (
    Attempt,
    claim_gpu,
    cpu_threads,
    out_of_memory_as_one_line,
    resolve_placement,
)
from autokr.core.errors import AutokrError
from autokr.core.memory import GpuMemorySampler, step_memory
from autokr.core.records import ModelManifest, TextSource, read_record, write_record
from autokr.core.steps import run_step, snakemake_log
from autokr.core.switches import hold
from autokr.publishing.copies import MANIFEST, published_by_autokr
from autokr.speech import asr
from autokr.text import text_source

log = logging.getLogger("autokr.transcribe")


def _placement(device: str, compute_type: str, attempt: Attempt, batch: int):
    """Where this try runs, with the compute type its try number calls for."""
    placement = resolve_placement(device, compute_type)
    return dataclasses.replace(placement, compute_type=attempt.compute_type(placement, batch))


def transcribe_audio(
    audio: str,
    out: str,
    options: asr.TranscribeOptions,
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
    started = time.time()
    attempt = attempt or Attempt()
    configured_batch = options.batch_size
    options = attempt.halve(options, "batch_size")
    placement = _placement(device, compute_type, attempt, configured_batch)
    log.info(
        "try %d of %d: model %s on %s (%s), batch %d",
        *(attempt.number, attempt.last, options.model),
        *(placement.device, placement.compute_type, options.batch_size),
    )
    with (
        out_of_memory_as_one_line(audio, placement, options.batch_size, attempt),
        GpuMemorySampler(placement.device) as gpu,
    ):
        model = asr.load_model(model_folder or options.model, placement, cpu_threads(threads))
        hold("transcribe.model")
        transcript = asr.transcribe(model, audio, options, placement)
    transcript = dataclasses.replace(
        transcript,
        settings={
            **transcript.settings,
            **{"batch_size": configured_batch, "device": device, "compute_type": compute_type},
            **({"model_choice": model_choice} if model_choice else {}),
        },
        # The job's time includes loading the model, not just decoding.
        run=dataclasses.replace(
            transcript.run,
            started=started,
            host=socket.gethostname(),
            attempt=attempt.number,
            batch_size=options.batch_size,
            gpu=os.environ.get("CUDA_VISIBLE_DEVICES", ""),
            **step_memory(gpu),
        ),
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
    threads: int | None = None,
    attempt: Attempt | None = None,
    model_folder: str | None = None,
    video: str | None = None,
) -> None:
    """Run the step with a whole (checked, filled) config, as the workflow does.

    A job that may use a GPU first takes a free card of its own (``claim_gpu``).
    ``video`` is the input the audio came from: its own subtitles that were
    passed over (transcribe.source) are recorded with the transcript.
    """
    settings = step_settings(config, "transcribe")
    machine = {key: settings.pop(key) for key in RUN_ONLY["transcribe"]}
    mode = settings.pop("source", "auto")  # chooses the rule (RULE_CHOICE), not an option
    if machine["device"] != "cpu":
        claim_gpu(config["gpus"])
    transcribe_audio(
        audio,
        out,
        options_from(config["source_language"], settings),
        machine["device"],
        machine["compute_type"],
        threads or machine["threads"],
        attempt,
        model_folder,
        config.get("model_choice", {}).get("transcribe", ""),
        _passed_over(video, config["source_language"], mode) if video else None,
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


#: The config keys this step reads; each is an option when it runs by hand.
KEYS = ["source_language", "transcribe"]


def main(argv: list[str] | None = None) -> None:
    """The command line: every transcribe.* key and source_language as an option."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audio")
    parser.add_argument("out")
    add_config_options(parser, KEYS)
    parser.add_argument("--log", help="also write the log to this file")
    args = parser.parse_args(argv)
    run_step(
        "transcribe",
        args.audio,
        args.log,
        lambda: transcribe_with_config(args.audio, args.out, config_from_options(args, KEYS)),
    )


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    snakemake = globals()["snakemake"]
    # The model is on disk (download_model): a job never reaches the Hub.
    os.environ["HF_HUB_OFFLINE"] = "1"
    # How far it is, for the terminal (autokr.batch.progress).
    progress.start(progress.progress_path("transcribe", [snakemake.wildcards.video]))
    run_step(
        "transcribe",
        snakemake.wildcards.video,
        snakemake_log(snakemake),
        lambda: transcribe_with_config(
            snakemake.input.audio,
            snakemake.output.transcript,
            snakemake.params.run_with.config,
            snakemake.threads,
            Attempt(snakemake.resources.attempt),
            read_record(ModelManifest, snakemake.input.model).folder,
            snakemake.input.video,
        ),
    )
elif __name__ == "__main__":
    main()
