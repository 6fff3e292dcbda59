"""Step 2: transcribe a WAV with faster-whisper into ``transcript.json``.

Under Snakemake: rule ``transcribe``. By hand:
    python scripts/transcribe.py AUDIO.wav OUT.json --model large-v3 --language ja
"""

import argparse
import dataclasses
import logging
import socket
import time

from autokr import asr, languages
from autokr.config import RUN_ONLY, step_settings
from autokr.devices import (
    Attempt,
    GpuMemorySampler,
    cpu_threads,
    is_out_of_memory,
    resolve_placement,
    step_memory,
)
from autokr.errors import OutOfMemory
from autokr.records import write_record
from autokr.steps import run_step, snakemake_log
from autokr.switches import hold

log = logging.getLogger("autokr.transcribe")


def transcribe_audio(
    audio: str,
    out: str,
    options: asr.TranscribeOptions,
    device: str = "auto",
    compute_type: str = "auto",
    threads: int | None = None,
    attempt: Attempt | None = None,
) -> None:
    """Load the model, transcribe ``audio`` and write the transcript to ``out``.

    ``attempt`` is Snakemake's retry count: each retry after running out of
    memory halves the batch (see ``Attempt`` for what gets lighter after that).
    """
    started = time.time()
    attempt = attempt or Attempt()
    configured_batch = options.batch_size
    options = dataclasses.replace(options, batch_size=attempt.batch_size(configured_batch))
    placement = resolve_placement(device, compute_type)
    placement = dataclasses.replace(
        placement, compute_type=attempt.compute_type(placement, configured_batch)
    )
    log.info(
        "try %d of %d: model %s on %s (%s), batch %d",
        attempt.number,
        attempt.last,
        options.model,
        placement.device,
        placement.compute_type,
        options.batch_size,
    )
    try:
        with GpuMemorySampler(placement.device) as gpu:
            model = asr.load_model(options.model, placement, cpu_threads(threads))
            hold("transcribe.model")
            transcript = asr.transcribe(model, audio, options, placement)
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        raise OutOfMemory(
            f"{audio}: out of memory on {placement.device} with batch_size "
            f"{options.batch_size} and {placement.compute_type} (attempt {attempt.number}); "
            "a retry takes lighter settings"
        ) from None
    transcript = dataclasses.replace(
        transcript,
        settings={
            **transcript.settings,
            "batch_size": configured_batch,
            "device": device,
            "compute_type": compute_type,
        },
        # The job's time includes loading the model, not just decoding.
        run=dataclasses.replace(
            transcript.run,
            started=started,
            host=socket.gethostname(),
            attempt=attempt.number,
            batch_size=options.batch_size,
            **step_memory(gpu),
        ),
    )
    write_record(transcript, out)
    log.info(
        "%d segments, language %s (p=%.2f), %.1f s of audio in %.1f s",
        len(transcript.segments),
        transcript.language,
        transcript.language_probability,
        transcript.duration,
        transcript.run.finished - started,
    )


def options_from(language: str, settings: dict) -> asr.TranscribeOptions:
    """Build options from config-style values (``language`` may be ``auto`` or an NLLB code)."""
    source = languages.source_language(language)
    settings = {**settings, "temperature": tuple(settings.get("temperature", (0.0,)))}
    return asr.TranscribeOptions(language=source.whisper if source else None, **settings)


def main(argv: list[str] | None = None) -> None:
    """The command line: parse the arguments, run the step."""
    defaults = asr.TranscribeOptions()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audio")
    parser.add_argument("out")
    parser.add_argument("--model", default=defaults.model)
    parser.add_argument("--language", default="ja", help="Whisper code, NLLB code, or auto")
    parser.add_argument("--beam-size", type=int, default=defaults.beam_size)
    parser.add_argument("--no-vad", action="store_true", help="decode silence too")
    parser.add_argument("--condition-on-previous-text", action="store_true")
    parser.add_argument("--initial-prompt", help="text that names people and places")
    parser.add_argument("--hotwords", help="words to favour in decoding")
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    parser.add_argument("--compute-type", default="auto")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--log", help="also write the log to this file")
    args = parser.parse_args(argv)

    def work() -> None:
        settings = {
            "model": args.model,
            "beam_size": args.beam_size,
            "vad": not args.no_vad,
            "condition_on_previous_text": args.condition_on_previous_text,
            "temperature": defaults.temperature,
            "initial_prompt": args.initial_prompt,
            "hotwords": args.hotwords,
        }
        options = options_from(args.language, settings)
        transcribe_audio(
            args.audio, args.out, options, args.device, args.compute_type, args.threads
        )

    run_step("transcribe", args.audio, args.log, work)


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    snakemake = globals()["snakemake"]

    def work() -> None:
        # Params hold only what decides reruns; the step runs with every setting.
        settings = step_settings(snakemake.config, "transcribe")
        machine = {key: settings.pop(key) for key in RUN_ONLY["transcribe"]}
        transcribe_audio(
            snakemake.input.audio,
            snakemake.output.transcript,
            options_from(snakemake.params.language, settings),
            machine["device"],
            machine["compute_type"],
            snakemake.threads,
            Attempt(snakemake.resources.attempt),
        )

    run_step("transcribe", snakemake.wildcards.video, snakemake_log(snakemake), work)
elif __name__ == "__main__":
    main()
