"""Step 3: translate a transcript with NLLB-200 into ``translation.{lang}.json``.

Under Snakemake: rule ``translate``. By hand:
    python scripts/translate.py transcript.json OUT.json --target ko \
        --model facebook/nllb-200-distilled-600M
"""

import argparse
import dataclasses
import logging
import socket
import time

from autokr import languages, mt
from autokr.config import step_settings
from autokr.devices import (
    Attempt,
    GpuMemorySampler,
    backend_library,
    cpu_threads,
    is_out_of_memory,
    resolve_placement,
    step_memory,
)
from autokr.errors import ConfigError, OutOfMemory
from autokr.records import Cue, Run, Transcript, Translation, read_transcript, write_record
from autokr.sentences import SentenceOptions, join_sentences, share_text
from autokr.steps import run_step, snakemake_log
from autokr.switches import hold

log = logging.getLogger("autokr.translate")


def source_nllb_code(configured: str, transcript: Transcript) -> str:
    """The NLLB code of the spoken language: as configured, or as Whisper detected it."""
    if configured == languages.AUTO:
        return languages.nllb_code_for_detected(transcript.language)
    return languages.language(configured).nllb


def translate_transcript(
    transcript_path: str,
    out: str,
    source: str,
    target: str,
    options: mt.TranslateOptions,
    sentence_options: SentenceOptions | None = None,
    device: str = "auto",
    threads: int | None = None,
    attempt: Attempt | None = None,
) -> None:
    """Translate a transcript sentence by sentence into ``target``; write the cues to ``out``.

    ``attempt`` is Snakemake's retry count: each retry after running out of
    memory halves the batch.
    """
    started = time.time()
    attempt = attempt or Attempt()
    configured_batch = options.batch_size
    options = dataclasses.replace(
        options,
        batch_size=attempt.batch_size(configured_batch),
        batch_tokens=attempt.batch_size(options.batch_tokens),
    )
    transcript = read_transcript(transcript_path)
    try:
        src = source_nllb_code(source, transcript)
    except ConfigError as exc:  # a detected language NLLB cannot translate
        raise ConfigError(f"{transcript_path}: {exc}") from None
    tgt = languages.target_language(target).nllb
    placement = resolve_placement(device, library=backend_library(options.backend))
    placement = dataclasses.replace(
        placement, compute_type=mt.compute_type(options.backend, placement, options.compute_type)
    )
    if options.backend == "ctranslate2":  # torch has no lighter type than float16 to fall to
        placement = dataclasses.replace(
            placement, compute_type=attempt.compute_type(placement, configured_batch)
        )
    sentence_options = sentence_options or SentenceOptions()
    sentences = join_sentences(transcript.segments, sentence_options)
    texts = [s.text for s in sentences]
    retries: list = []
    if texts:
        # Loading NLLB takes seconds and gigabytes; a silent video needs neither.
        log.info(
            "model %s (%s) on %s %s, %s -> %s, batch %d (attempt %d)",
            options.model,
            options.backend,
            placement.device,
            placement.compute_type,
            src,
            tgt,
            options.batch_size,
            attempt.number,
        )
        try:
            with GpuMemorySampler(placement.device) as gpu:
                translator = mt.load_translator(options, placement, cpu_threads(threads))
                hold("translate.model")
                translated, retries = mt.translate_checked(
                    translator, texts, src, tgt, options.beam_size
                )
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            raise OutOfMemory(
                f"{transcript_path}: out of memory on {placement.device} with batch_size "
                f"{options.batch_size} (attempt {attempt.number}); a retry halves the batch"
            ) from None
    else:
        translated, gpu = [], None
    retried = {r.sentence: r.method for r in retries}
    cues = []
    for i, (sentence, text) in enumerate(zip(sentences, translated, strict=True)):
        parts = share_text(text, sentence.pieces, languages.uses_spaces(tgt))
        method = f"retried: {retried[i]}" if i in retried else "sentence"
        cues += [
            Cue(piece.start, piece.end, piece.text, part, i, method)
            for piece, part in zip(sentence.pieces, parts, strict=True)
        ]
    translation = Translation(
        source_language=src,
        target_language=tgt,
        cues=tuple(cues),
        settings={
            **dataclasses.asdict(options),
            "batch_size": configured_batch,
            **dataclasses.asdict(sentence_options),
            "device": device,
            "target": target,
        },
        run=Run(
            placement.device,
            placement.compute_type,
            started,
            time.time(),
            socket.gethostname(),
            attempt.number,
            options.batch_size,
            **step_memory(gpu),
        ),
        sentences=len(sentences),
        retries=tuple(retries),
    )
    write_record(translation, out)
    log.info(
        "%d sentences, %d cues, %d retried, in %.1f s",
        len(sentences),
        len(cues),
        len(retries),
        translation.run.seconds,
    )


def main(argv: list[str] | None = None) -> None:
    """The command line: parse the arguments, run the step."""
    defaults = mt.TranslateOptions()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("transcript")
    parser.add_argument("out")
    parser.add_argument(
        "--source", default="ja", help="spoken language, or auto to use the detected one"
    )
    parser.add_argument("--target", default="ko")
    parser.add_argument("--model", default=defaults.model)
    parser.add_argument("--backend", default=defaults.backend, choices=mt.BACKENDS)
    parser.add_argument("--compute-type", default=defaults.compute_type)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--batch-tokens", type=int, default=defaults.batch_tokens)
    parser.add_argument("--beam-size", type=int, default=defaults.beam_size)
    parser.add_argument("--max-length", type=int, default=defaults.max_length)
    parser.add_argument("--no-repeat-ngram-size", type=int, default=defaults.no_repeat_ngram_size)
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    parser.add_argument("--threads", type=int)
    parser.add_argument("--log", help="also write the log to this file")
    args = parser.parse_args(argv)
    options = mt.TranslateOptions(
        model=args.model,
        backend=args.backend,
        compute_type=args.compute_type,
        batch_size=args.batch_size,
        batch_tokens=args.batch_tokens,
        beam_size=args.beam_size,
        max_length=args.max_length,
        no_repeat_ngram_size=args.no_repeat_ngram_size,
    )
    run_step(
        "translate",
        args.transcript,
        args.log,
        lambda: translate_transcript(
            args.transcript,
            args.out,
            args.source,
            args.target,
            options,
            device=args.device,
            threads=args.threads,
        ),
    )


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    snakemake = globals()["snakemake"]
    # Params hold only what decides reruns; the step runs with every setting.
    settings = step_settings(snakemake.config, "translate")
    sentences = settings.pop("sentences")
    device = settings.pop("device")
    settings.pop("threads")
    run_step(
        "translate",
        snakemake.wildcards.video,
        snakemake_log(snakemake),
        lambda: translate_transcript(
            snakemake.input.transcript,
            snakemake.output.translation,
            snakemake.params.source,
            snakemake.wildcards.lang,
            mt.TranslateOptions(**settings),
            SentenceOptions(**sentences),
            device,
            snakemake.threads,
            Attempt(snakemake.resources.attempt),
        ),
    )
elif __name__ == "__main__":
    main()
