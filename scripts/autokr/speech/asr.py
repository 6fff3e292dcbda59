"""Speech recognition with faster-whisper: load the model, transcribe, keep the signals.

What is done with the segments' times (speech no word covers, segments cut,
split and merged) is in ``autokr.speech.segments``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from autokr.batch import progress
from autokr.core.defaults import schema_default
from autokr.core.devices import Placement
from autokr.core.errors import ModelError
from autokr.core.records import Run, Segment, Span, Transcript
from autokr.core.switches import fault_switch
from autokr.models import locate
from autokr.speech.hallucinations import GuardOptions, screen_segments
from autokr.speech.media import SAMPLE_RATE
from autokr.speech.segments import (
    decoding_clips,
    from_whisper,
    merge_segments,
    shifted,
    speech_within,
    split_at_pauses,
    uncovered_speech,
    words_within,
)
from autokr.text.sentences import repeats_itself

log = logging.getLogger("autokr.transcribe")


@dataclass(frozen=True)
class TranscribeOptions:
    """Everything that shapes a transcript; all of it is recorded in the output.

    model: a Whisper size name (``large-v3``), a Hugging Face repo id or a local folder.
    language: a Whisper code, or None to let Whisper detect it.
    beam_size: beams for the decoder.
    batch_size: speech chunks decoded together by the batched pipeline; 1 is
        the sequential decoder (also used when vad is off).
    vad: drop non-speech with Silero VAD before decoding (keeps Whisper from
        inventing lines over silence and music); vad_options tunes it.
    condition_on_previous_text: feed the previous segment as a prompt; off by
        default because it lets one error repeat itself for minutes.
    compression_ratio_threshold, log_prob_threshold, no_speech_threshold,
        temperature: the decoder's guards; a window that fails the first two
        is decoded again at the next temperature, and one the decoder thinks is
        silence is skipped.
    initial_prompt, hotwords: names and words to steer the spelling of.
    """

    model: str = schema_default("transcribe.model")
    language: str | None = schema_default("source_language")
    beam_size: int = schema_default("transcribe.beam_size")
    batch_size: int = schema_default("transcribe.batch_size")
    vad: bool = schema_default("transcribe.vad")
    vad_options: dict[str, Any] = field(
        default_factory=lambda: schema_default("transcribe.vad_options")
    )
    condition_on_previous_text: bool = schema_default("transcribe.condition_on_previous_text")
    compression_ratio_threshold: float = schema_default("transcribe.compression_ratio_threshold")
    log_prob_threshold: float = schema_default("transcribe.log_prob_threshold")
    no_speech_threshold: float = schema_default("transcribe.no_speech_threshold")
    temperature: tuple[float, ...] = tuple(schema_default("transcribe.temperature"))
    initial_prompt: str | None = schema_default("transcribe.initial_prompt")
    hotwords: str | None = schema_default("transcribe.hotwords")


def load_model(model: str, placement: Placement, cpu_threads: int):
    """Load a faster-whisper model once for this process."""
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(
            str(locate.local_folder(model) or model),
            device=placement.device,
            compute_type=placement.compute_type,
            cpu_threads=cpu_threads,
            local_files_only=locate.offline(),
        )
    except (OSError, ValueError, RuntimeError) as exc:
        # Hub errors derive from OSError/ValueError; CTranslate2 raises
        # RuntimeError for a folder that holds no model.
        if locate.is_local(model):
            raise ModelError(
                f"{model}: not a faster-whisper model folder ({locate.first_line(exc)})"
            ) from None
        if isinstance(exc, RuntimeError):
            raise
        raise locate.not_found(model, "transcribe.model", exc) from None


def _decoder_args(options: TranscribeOptions) -> dict[str, Any]:
    """What both decoders take from the options."""
    return {
        "beam_size": options.beam_size,
        "word_timestamps": True,
        "compression_ratio_threshold": options.compression_ratio_threshold,
        "log_prob_threshold": options.log_prob_threshold,
        "no_speech_threshold": options.no_speech_threshold,
        "temperature": list(options.temperature),
        "initial_prompt": options.initial_prompt or None,
        "hotwords": options.hotwords or None,
    }


#: faster-whisper's batched pipeline splits speech at 160 ms of silence when
#: given no VAD parameters, but at the sequential 2000 ms once given any.
BATCHED_MIN_SILENCE_MS = 160


def _vad_parameters(options: TranscribeOptions, batched: bool) -> dict[str, Any] | None:
    """VAD parameters set in the config; null ones keep faster-whisper's default for the mode."""
    chosen = {k: v for k, v in options.vad_options.items() if v is not None}
    if chosen and batched:
        chosen.setdefault("min_silence_duration_ms", BATCHED_MIN_SILENCE_MS)
    return chosen or None


#: A run said this many times in a row makes a segment a decoder loop. Speech
#: repeats itself for real ("はいはいはい", "そうそうそう"), and a false alarm
#: costs a decoding again, so one more than for NLLB output (translation.checks).
_LOOP_TIMES = 4


def needs_redecoding(seg: Segment, options: TranscribeOptions) -> str | None:
    """Why a batched segment must be decoded again with the guarded decoder, or None.

    The batched pipeline decodes once at one temperature: it skips the checks
    the sequential decoder makes on every window (compression ratio,
    log-probability, no-speech) and its fallback to higher temperatures.
    """
    if seg.compression_ratio > options.compression_ratio_threshold:
        return f"compression ratio {seg.compression_ratio:.2f}"
    if seg.avg_logprob < options.log_prob_threshold:
        return f"avg_logprob {seg.avg_logprob:.2f}"
    if repeats_itself(seg.text, _LOOP_TIMES):
        return "repeats itself"
    return None


def transcribe(model, audio: str, options: TranscribeOptions, placement: Placement) -> Transcript:
    """Transcribe ``audio`` with a loaded model; return the whole transcript.

    With ``batch_size`` above 1 (and VAD on) speech chunks are decoded in
    batches; every piece of a batched segment that fails a decoder guard is
    decoded again over its own speech by the sequential decoder, guards and
    all. In either mode, speech that no word of the transcript covers is
    decoded again on its own (see ``uncovered_speech``), and what is left
    uncovered is recorded.
    """
    from faster_whisper.audio import decode_audio

    started = time.time()
    samples = decode_audio(str(audio), sampling_rate=SAMPLE_RATE)
    batched = options.batch_size > 1 and options.vad
    speech = speech_spans(samples, options)
    first = _first_pass(model, samples, speech, options, batched)
    out, language, clips = first.segments, first.info.language, first.clips
    guards = GuardOptions(
        no_speech_threshold=options.no_speech_threshold,
        log_prob_threshold=options.log_prob_threshold,
    )
    kept, decisions = screen_segments(out, guards)
    missing = uncovered_speech(speech, kept)
    if missing:
        log.info("speech no word covers: %s", ", ".join(f"{s.start}-{s.end}" for s in missing))
        clips += decoding_clips(missing)
        found = _decode_spans(model, samples, decoding_clips(missing), language, options)
        out = merge_segments(out, [p for seg in found for p in words_within(seg, missing)])
        kept, decisions = screen_segments(out, guards)
    left = uncovered_speech(speech, kept)
    return Transcript(
        language=language,
        language_probability=float(first.info.language_probability),
        duration=float(first.info.duration),
        segments=tuple(kept),
        settings=asdict(options),
        run=Run(placement.device, placement.compute_type, started, time.time()),
        decisions=tuple(decisions),
        mode=f"batched ({options.batch_size})" if batched else "sequential",
        redecoded=first.redecoded,
        redecoded_seconds=_seconds(clips),
        uncovered_before=_seconds(missing),
        uncovered_after=_seconds(left),
        uncovered=tuple(left),
    )


@dataclass
class _FirstPass:
    """The first decoding of a file: its segments, and what was decoded again on the way."""

    segments: list[Segment]
    info: Any
    redecoded: int = 0
    clips: list[Span] = field(default_factory=list)


def _first_pass(model, samples, speech: list[Span], options: TranscribeOptions, batched: bool):
    """Decode the file; in batched mode, decode pieces that fail a guard again over their speech."""
    segments, info = _decode(model, samples, options, batched)
    found = _FirstPass([], info)
    next_report = time.time() + 30
    for raw in segments:  # a generator: decoding happens as we iterate
        for piece in split_at_pauses(from_whisper(raw)) if batched else [from_whisper(raw)]:
            why = needs_redecoding(piece, options) if batched else None
            if not why:
                found.segments.append(piece)
                continue
            spans = speech_within(speech, piece.start, piece.end)
            log.info("decoding %.2f-%.2f again (%s): %r", piece.start, piece.end, why, piece.text)
            found.segments += _decode_spans(model, samples, spans, info.language, options)
            found.clips += spans
            found.redecoded += 1
        progress.report(raw.end, info.duration, "s")
        if time.time() >= next_report:
            log.info("at %.0f of %.0f s", raw.end, info.duration)
            next_report = time.time() + 30
    return found


def _seconds(spans: list[Span]) -> float:
    return round(sum(s.end - s.start for s in spans), 3)


def _decode(model, samples, options: TranscribeOptions, batched: bool):
    """The first pass: the batched pipeline, or the sequential decoder."""
    from faster_whisper import BatchedInferencePipeline

    if batched:
        fault_switch(options.batch_size)
        return BatchedInferencePipeline(model).transcribe(
            samples,
            language=options.language,
            vad_filter=True,
            vad_parameters=_vad_parameters(options, batched=True),
            batch_size=options.batch_size,
            **_decoder_args(options),
        )
    return model.transcribe(
        samples,
        language=options.language,
        vad_filter=options.vad,
        vad_parameters=_vad_parameters(options, batched=False),
        condition_on_previous_text=options.condition_on_previous_text,
        **_decoder_args(options),
    )


def speech_spans(samples, options: TranscribeOptions) -> list[Span]:
    """Where Silero VAD hears speech, tightly (the coverage check's reference).

    Spans split at 160 ms of silence and are padded by only 100 ms, so that a
    stretch without words is speech and not the VAD's own margin. The check
    uses it with VAD off too (``vad: false`` decodes the whole file): pauses
    are still no speech, and never counted as missing text.
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    threshold = options.vad_options.get("threshold")
    vad = VadOptions(
        threshold=0.5 if threshold is None else threshold,
        min_silence_duration_ms=160,
        speech_pad_ms=100,
    )
    return [
        Span(round(s["start"] / SAMPLE_RATE, 3), round(s["end"] / SAMPLE_RATE, 3))
        for s in get_speech_timestamps(samples, vad)
    ]


def _decode_spans(model, samples, spans: list[Span], language: str, options: TranscribeOptions):
    """Decode each span with the sequential decoder; times back on the full timeline."""
    found: list[Segment] = []
    for span in spans:
        first, last = int(span.start * SAMPLE_RATE), int(span.end * SAMPLE_RATE)
        segments, _ = model.transcribe(
            samples[first:last],
            language=language,
            vad_filter=False,
            condition_on_previous_text=False,
            **_decoder_args(options),
        )
        found += [shifted(from_whisper(s), span.start) for s in segments]
    return found
