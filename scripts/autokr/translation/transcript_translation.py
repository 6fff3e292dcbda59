"""The translate step's work: a transcript to ``translation.{lang}.json``, one try of NLLB.

``translate_with_config`` is what ``scripts/translate.py`` calls, with the
config its job runs with; ``translate_transcript`` is the same step with its
options as records. The transcript is joined into sentences, each sentence
translated (and checked), and each translation shared back over the pieces
of speech it was made of, as cues.
"""

from __future__ import annotations

import dataclasses
import logging

from autokr.core import languages
from autokr.core.config import glossary_path, nllb_backend, step_settings
from autokr.core.devices import Attempt, claim_gpu, cpu_threads
from autokr.core.errors import ConfigError
from autokr.core.record_files import read_record, write_record
from autokr.core.records import (
    Cue,
    ModelManifest,
    TermMissing,
    Transcript,
    Translation,
    read_transcript,
)
from autokr.core.switches import hold
from autokr.models import store
from autokr.models.choice import chosen_by_hand
from autokr.models.tries import ModelJob, ModelTry
from autokr.text.sentences import SentenceOptions, join_sentences, share_text
from autokr.translation import checks, mt, scenes
from autokr.translation.glossary import Glossary, read_glossary
from autokr.translation.llm_backend import LLM_BACKENDS, Instructed, check_server, free, open_chat

log = logging.getLogger("autokr.translate")

#: The model steps' manifest, and the folders it names by stored weights.
Prepared = tuple[str, dict[str, str]]


def source_nllb_code(configured: str, transcript: Transcript) -> str:
    """The NLLB code of the spoken language: as configured, or as Whisper detected it."""
    if configured == languages.AUTO:
        return languages.nllb_code_for_detected(transcript.language)
    return languages.language(configured).nllb


def translate_transcript(
    transcript_path: str,
    out: str,
    *,
    source: str,
    target: str,
    options: mt.TranslateOptions,
    sentence_options: SentenceOptions | None = None,
    device: str = "auto",
    threads: int | None = None,
    attempt: Attempt | None = None,
    prepared: Prepared | None = None,
    model_choice: str = "",
    glossary: Glossary | None = None,
    instructed: Instructed | None = None,
) -> None:
    """Translate a transcript sentence by sentence into ``target``; write the cues to ``out``.

    ``attempt`` is Snakemake's try: each retry after running out of memory halves the batch.
    ``prepared`` is the model steps' manifest and its folders by stored weights
    (``prepared_model``); ``model_choice`` why ``model: auto`` chose the model, if it did.
    ``glossary``: terms each sentence keeps (see ``autokr.translation.glossary``).
    ``instructed``: the instruction model that translates (backend llm or openai),
    scene by scene, with ``options``' NLLB for the sentences it fails; None: NLLB alone.
    """
    tried = ModelTry(attempt or Attempt(), options.batch_size)
    configured = options
    options = tried.lighter(options, "batch_size", "batch_tokens")
    transcript = read_transcript(transcript_path)
    src, tgt = _nllb_codes(transcript_path, transcript, source, target)
    # torch has no lighter type than float16 to fall to: only CTranslate2's lightens.
    placement = tried.place(
        mt.placement(options, device), lighter_type=options.backend == "ctranslate2"
    )
    if prepared:
        options = dataclasses.replace(options, model=_prepared(prepared, placement.compute_type))
    sentence_options = sentence_options or SentenceOptions()
    sentences = join_sentences(transcript.segments, sentence_options)
    texts = [s.text for s in sentences]
    glossary = glossary or Glossary()
    spaced = languages.uses_spaces(src)
    langs = scenes.Languages(src, tgt, _name(source, transcript), languages.language_name(target))
    nllb = (tried, options, placement, cpu_threads(threads))
    translated, retries = _translate_sentences(
        nllb, instructed, sentences, glossary, langs, transcript_path
    )
    cues = tuple(sentence_cues(sentences, translated, retries, tgt))
    settings = _settings(configured, sentence_options, device, target, model_choice, glossary)
    translation = Translation(
        src,
        tgt,
        cues,
        {**settings, **({"llm": instructed.record()} if instructed else {})},
        run=tried.run(),
        sentences=len(sentences),
        retries=tuple(retries),
        glossary_missing=terms_missing(glossary, texts, translated, spaced),
    )
    write_record(translation, out)
    log.info("%d sentences, %d cues, %d retried", len(sentences), len(cues), len(retries))


def _translate(
    tried: ModelTry,
    options: mt.TranslateOptions,
    placement,
    threads: int,
    texts: list[str],
    codes: tuple[str, str],
    transcript_path: str,
) -> tuple[list[str], list]:
    """Load NLLB and translate ``texts`` from and to ``codes``, each output checked.

    Loading NLLB takes seconds and gigabytes; a silent video needs neither.
    """
    if not texts:
        return [], []
    log.info(
        "try %d of %d: model %s (%s) on %s %s, %s -> %s, batch %d",
        *(tried.attempt.number, tried.attempt.last, options.model, options.backend),
        *(placement.device, placement.compute_type, *codes, options.batch_size),
    )
    with tried.running(transcript_path):
        translator = mt.load_translator(options, placement, threads)
        hold("translate.model")
        return checks.translate_checked(translator, texts, *codes, options.beam_size)


def _translate_sentences(
    nllb: tuple,
    instructed: Instructed | None,
    sentences: list,
    glossary: Glossary,
    langs: scenes.Languages,
    transcript_path: str,
) -> tuple[list[str], list]:
    """Each sentence's translation, its glossary terms written in: by NLLB (``nllb``:
    its try, options, placement and threads) or by the instruction model."""
    spaced = languages.uses_spaces(langs.source)
    texts = [s.text for s in sentences]
    written_in = [glossary.write_in(text, spaced) for text in texts]
    codes = (langs.source, langs.target)
    if instructed is None:
        return _translate(*nllb, written_in, codes, transcript_path)
    said = (sentences, [glossary.found(text, spaced) for text in texts])
    return _translate_instructed(instructed, nllb, written_in, said, langs, transcript_path)


def _translate_instructed(
    instructed: Instructed,
    nllb: tuple,
    texts: list[str],
    said: tuple[list, list[list]],
    langs: scenes.Languages,
    transcript_path: str,
) -> tuple[list[str], list]:
    """Ask the instruction model scene by scene; NLLB (``nllb``: its try, options,
    placement and threads) translates the sentences it failed.

    ``said``: the sentences, and the glossary terms found in each.
    """
    if not texts:
        return [], []
    sentences, found = said
    times = [(s.pieces[0].start, s.pieces[-1].end) for s in sentences]
    tried = nllb[0]
    where = f" at {instructed.server}" if instructed.server else ""
    log.info(
        "%s model %s%s, %s -> %s",
        *(instructed.backend, instructed.model, where, langs.source, langs.target),
    )

    def terms_of(indices: list[int]) -> tuple[tuple[str, str, str], ...]:
        terms = dict.fromkeys(term for i in indices for term in found[i])
        return tuple((term.source, term.target, term.note) for term in terms)

    # A retry after running out of memory asks in smaller batches.
    options = tried.lighter(instructed.scenes, "batch_sentences", "batch_chars")
    _, nllb_options, placement, threads = nllb
    with tried.running(transcript_path):  # one sampler: the job's peak over both models
        chat = open_chat(instructed, tried.placement)
        hold("translate.model")
        outcome = scenes.SceneTranslator(chat, texts, langs, options).run(times, terms_of)
        free(chat)  # before NLLB loads on the same card
        fallen = {}
        if outcome.fallback:
            indices = sorted(outcome.fallback)
            log.info("NLLB translates %d sentences the instruction model failed", len(indices))
            translator = mt.load_translator(nllb_options, placement, threads)
            failed = [texts[i] for i in indices]
            outputs, _ = checks.translate_checked(
                translator, failed, langs.source, langs.target, nllb_options.beam_size
            )
            fallen = dict(zip(indices, outputs, strict=True))
    return scenes.with_fallback(outcome, fallen)


def _name(source: str, transcript: Transcript) -> str:
    """The spoken language's English name, as configured or as Whisper detected it."""
    code = transcript.language if source == languages.AUTO else source
    try:
        return languages.language_name(code)
    except ConfigError:
        return code


def _settings(
    options, sentence_options, device: str, target: str, model_choice: str, glossary: Glossary
) -> dict:
    """The settings a translation records: the step's, why auto chose its model, the glossary."""
    return {
        **dataclasses.asdict(options),
        **dataclasses.asdict(sentence_options),
        **{"device": device, "target": target},
        **({"model_choice": model_choice} if model_choice else {}),
        **({"glossary": glossary.record()} if glossary.terms else {}),
    }


def _prepared(prepared: Prepared, compute_type: str) -> str:
    """The prepared folder this try loads (see ``store.folder_for``)."""
    manifest, folders = prepared
    return store.folder_for(folders, compute_type, manifest)


def _nllb_codes(path: str, transcript: Transcript, source: str, target: str) -> tuple[str, str]:
    """The NLLB codes of the source (as configured or detected) and the target."""
    try:
        src = source_nllb_code(source, transcript)
    except ConfigError as exc:  # a detected language NLLB cannot translate
        raise ConfigError(f"{path}: {exc}") from None
    return src, languages.target_language(target).nllb


def terms_missing(
    glossary: Glossary, texts: list[str], translated: list[str], spaced: bool
) -> tuple[TermMissing, ...]:
    """Each glossary term of each sentence whose target its translation lacks, logged."""
    missing = []
    for i, (text, output) in enumerate(zip(texts, translated, strict=True)):
        for term in glossary.missing(text, output, spaced):
            log.warning(
                "sentence %d: glossary term %r not translated as %r", i, term.source, term.target
            )
            missing.append(TermMissing(i, text, output, term.source, term.target))
    return tuple(missing)


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


def prepared_model(manifest: str) -> Prepared:
    """The manifest, and the folders it names by stored weights ("checkpoint": not converted)."""
    prepared = read_record(ModelManifest, manifest)
    return manifest, prepared.conversions or {"checkpoint": prepared.folder}


def translate_with_config(
    transcript: str,
    out: str,
    target: str,
    config: dict,
    job: ModelJob | None = None,
) -> None:
    """Run the step with a whole (checked, filled) config, as the workflow does.

    A job that may use a GPU first takes a free card of its own (``claim_gpu``).
    ``job`` is what the workflow gives the job (its threads, try and model;
    None: a step run by hand).
    """
    # Read first, as before any card is waited for: a bad manifest fails at once.
    if job is None:  # a step run by hand: ``model: auto`` is chosen here
        config, job = chosen_by_hand(config, "translate"), ModelJob()
        if config["translate"]["backend"] == "openai":  # as a run checks it at its start
            problem = check_server(config["translate"]["llm"])
            if problem:
                raise ConfigError(problem)
    manifest = job.model_manifest
    prepared = prepared_model(manifest) if manifest else None
    settings = step_settings(config, "translate")
    sentences = settings.pop("sentences")
    device = settings.pop("device")
    configured_threads = settings.pop("threads")
    # Read as the run started checked it; a file gone since is one line.
    settings.pop("glossary")
    path = glossary_path(config, target)
    glossary = read_glossary(path) if path else None
    instructed = _instructed(settings, job)
    if instructed and instructed.backend == "openai":
        device = "cpu"  # the job holds no card: NLLB's fallback runs on the CPU
    settings["backend"] = nllb_backend(settings)
    if device != "cpu":
        claim_gpu(config["gpus"])
    translate_transcript(
        transcript,
        out,
        source=config["source_language"],
        target=target,
        options=mt.TranslateOptions(**settings),
        sentence_options=SentenceOptions(**sentences),
        device=device,
        threads=job.threads or configured_threads,
        attempt=Attempt(job.attempt),
        prepared=prepared,
        model_choice=config.get("model_choice", {}).get("translate", ""),
        glossary=glossary,
        instructed=instructed,
    )


def _instructed(settings: dict, job: ModelJob) -> Instructed | None:
    """The instruction model of backend llm or openai (taken out of ``settings``), or None."""
    llm, instructions = settings.pop("llm"), settings.pop("instructions")
    if settings["backend"] not in LLM_BACKENDS:
        return None
    folder = read_record(ModelManifest, job.llm_manifest).folder if job.llm_manifest else ""
    return Instructed.from_config(settings["backend"], llm, instructions, folder)
