"""Step 3: translate a transcript with NLLB-200 into ``translation.{lang}.json``.

Under Snakemake: rule ``translate``. By hand, with any translate.* key as an option:
    python scripts/translate.py transcript.json OUT.json --target ko \
        --model facebook/nllb-200-distilled-600M
"""

import argparse
import dataclasses
import logging
import os
import socket
import time

from autokr.batch import progress
from autokr.core import languages
from autokr.core.config import add_config_options, config_from_options, step_settings
from autokr.core.devices import (
    Attempt,
    Placement,
    backend_library,
    claim_gpu,
    cpu_threads,
    out_of_memory_as_one_line,
    resolve_placement,
)
from autokr.core.errors import ConfigError
from autokr.core.memory import GpuMemorySampler, step_memory
from autokr.core.records import (
    Cue,
    ModelManifest,
    Run,
    Transcript,
    Translation,
    read_record,
    read_transcript,
    write_record,
)
from autokr.core.steps import run_step, snakemake_log
from autokr.core.switches import hold
from autokr.models import store
from autokr.text.sentences import SentenceOptions, join_sentences, share_text
from autokr.translation import mt

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
    prepared: tuple[str, dict[str, str]] | None = None,
    model_choice: str = "",
) -> None:
    """Translate a transcript sentence by sentence into ``target``; write the cues to ``out``.

    ``attempt`` is Snakemake's try: each retry after running out of memory halves the batch.
    ``prepared`` is the model steps' manifest and its folders by stored weights (``_prepared``);
    ``model_choice`` why ``model: auto`` chose the model, if it did.
    """
    started = time.time()
    attempt = attempt or Attempt()
    configured = options
    options = attempt.halve(options, "batch_size", "batch_tokens")
    transcript = read_transcript(transcript_path)
    src, tgt = _nllb_codes(transcript_path, transcript, source, target)
    placement = _placement(options, device, attempt, configured.batch_size)
    if prepared:
        options = dataclasses.replace(options, model=_prepared(prepared, placement))
    sentence_options = sentence_options or SentenceOptions()
    sentences = join_sentences(transcript.segments, sentence_options)
    translated, retries, gpu = [], [], None
    if sentences:  # loading NLLB takes seconds and gigabytes; a silent video needs neither
        log.info(
            "try %d of %d: model %s (%s) on %s %s, %s -> %s, batch %d",
            *(attempt.number, attempt.last, options.model, options.backend, placement.device),
            *(placement.compute_type, src, tgt, options.batch_size),
        )
        with (
            out_of_memory_as_one_line(transcript_path, placement, options.batch_size, attempt),
            GpuMemorySampler(placement.device) as gpu,
        ):
            translator = mt.load_translator(options, placement, cpu_threads(threads))
            hold("translate.model")
            translated, retries = mt.translate_checked(
                translator, [s.text for s in sentences], src, tgt, options.beam_size
            )
    cues = tuple(sentence_cues(sentences, translated, retries, tgt))
    translation = Translation(
        src,
        tgt,
        cues,
        _settings(configured, sentence_options, device, target, model_choice),
        run=_run(placement, started, attempt, options.batch_size, gpu),
        sentences=len(sentences),
        retries=tuple(retries),
    )
    write_record(translation, out)
    log.info("%d sentences, %d cues, %d retried", len(sentences), len(cues), len(retries))


def _settings(options, sentence_options, device: str, target: str, model_choice: str) -> dict:
    """The settings a translation records: the step's, and why auto chose its model."""
    return {
        **dataclasses.asdict(options),
        **dataclasses.asdict(sentence_options),
        **{"device": device, "target": target},
        **({"model_choice": model_choice} if model_choice else {}),
    }


def _run(placement, started: float, attempt: Attempt, batch: int, gpu) -> Run:
    """Where and how this try ran: device, times, host, try, batch, card and memory."""
    return Run(
        placement.device,
        placement.compute_type,
        started,
        time.time(),
        socket.gethostname(),
        attempt=attempt.number,
        batch_size=batch,
        gpu=os.environ.get("CUDA_VISIBLE_DEVICES", ""),
        **step_memory(gpu),
    )


def _nllb_codes(path: str, transcript: Transcript, source: str, target: str) -> tuple[str, str]:
    """The NLLB codes of the source (as configured or detected) and the target."""
    try:
        src = source_nllb_code(source, transcript)
    except ConfigError as exc:  # a detected language NLLB cannot translate
        raise ConfigError(f"{path}: {exc}") from None
    return src, languages.target_language(target).nllb


def _prepared(prepared: tuple[str, dict[str, str]], placement: Placement) -> str:
    """The prepared folder this try loads (see ``store.folder_for``)."""
    manifest, folders = prepared
    return store.folder_for(folders, placement.compute_type, manifest)


def _placement(options: mt.TranslateOptions, device: str, attempt: Attempt, batch: int):
    """Where this try runs, and with which compute type."""
    placement = resolve_placement(device, library=backend_library(options.backend))
    placement = dataclasses.replace(
        placement, compute_type=mt.compute_type(options.backend, placement, options.compute_type)
    )
    if options.backend == "ctranslate2":  # torch has no lighter type than float16 to fall to
        placement = dataclasses.replace(
            placement, compute_type=attempt.compute_type(placement, batch)
        )
    return placement


def sentence_cues(sentences, translated: list[str], retries, target: str) -> list[Cue]:
    """Each sentence's translation shared back over its pieces of speech, as cues."""
    retried = {r.sentence: r.method for r in retries}
    cues = []
    for i, (sentence, text) in enumerate(zip(sentences, translated, strict=True)):
        parts = share_text(text, sentence.pieces, languages.uses_spaces(target))
        method = f"retried: {retried[i]}" if i in retried else "sentence"
        cues += [
            Cue(piece.start, piece.end, piece.text, part, i, method)
            for piece, part in zip(sentence.pieces, parts, strict=True)
        ]
    return cues


def translate_with_config(
    transcript: str,
    out: str,
    target: str,
    config: dict,
    threads: int | None = None,
    attempt: Attempt | None = None,
    prepared: tuple[str, dict[str, str]] | None = None,
) -> None:
    """Run the step with a whole (checked, filled) config, as the workflow does.

    A job that may use a GPU first takes a free card of its own (``claim_gpu``).
    """
    settings = step_settings(config, "translate")
    sentences = settings.pop("sentences")
    device = settings.pop("device")
    configured_threads = settings.pop("threads")
    if device != "cpu":
        claim_gpu(config["gpus"])
    translate_transcript(
        transcript,
        out,
        config["source_language"],
        target,
        mt.TranslateOptions(**settings),
        SentenceOptions(**sentences),
        device,
        threads or configured_threads,
        attempt,
        prepared,
        config.get("model_choice", {}).get("translate", ""),
    )


def prepared_model(manifest: str) -> tuple[str, dict[str, str]]:
    """The manifest, and the folders it names by stored weights ("checkpoint": not converted)."""
    prepared = read_record(ModelManifest, manifest)
    return manifest, prepared.conversions or {"checkpoint": prepared.folder}


#: The config keys this step reads; each is an option when it runs by hand.
KEYS = ["source_language", "translate"]


def main(argv: list[str] | None = None) -> None:
    """The command line: every translate.* key and source_language as an option."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("transcript")
    parser.add_argument("out")
    parser.add_argument("--target", default="ko", help="one target language (default: ko)")
    add_config_options(parser, KEYS)
    parser.add_argument("--log", help="also write the log to this file")
    args = parser.parse_args(argv)
    run_step(
        "translate",
        args.transcript,
        args.log,
        lambda: translate_with_config(
            args.transcript,
            args.out,
            args.target,
            config_from_options(args, KEYS, base={"target_language": args.target}),
        ),
    )


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    snakemake = globals()["snakemake"]
    # The models are on disk (download_model, convert_model): a job never
    # reaches the Hub and never converts.
    os.environ["HF_HUB_OFFLINE"] = "1"
    # How far it is, for the terminal (autokr.batch.progress).
    wildcards = [snakemake.wildcards.video, snakemake.wildcards.lang]
    progress.start(progress.progress_path("translate", wildcards))
    run_step(
        "translate",
        snakemake.wildcards.video,
        snakemake_log(snakemake),
        lambda: translate_with_config(
            snakemake.input.transcript,
            snakemake.output.translation,
            snakemake.wildcards.lang,
            snakemake.params.run_with.config,
            snakemake.threads,
            Attempt(snakemake.resources.attempt),
            prepared_model(snakemake.input.model),
        ),
    )
elif __name__ == "__main__":
    main()
