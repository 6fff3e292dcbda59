"""Speech recognition with faster-whisper: load the model, transcribe, keep the signals."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from autokr import models
from autokr.devices import Placement
from autokr.errors import ModelError
from autokr.hallucinations import GuardOptions, screen_segments
from autokr.records import Run, Segment, Transcript, Word

log = logging.getLogger("autokr.transcribe")

SAMPLE_RATE = 16000


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

    model: str = "large-v3"
    language: str | None = "ja"
    beam_size: int = 5
    batch_size: int = 8
    vad: bool = True
    vad_options: dict[str, Any] = field(default_factory=dict)
    condition_on_previous_text: bool = False
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    no_speech_threshold: float = 0.6
    temperature: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    initial_prompt: str | None = None
    hotwords: str | None = None


def load_model(model: str, placement: Placement, cpu_threads: int):
    """Load a faster-whisper model once for this process."""
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(
            str(model),
            device=placement.device,
            compute_type=placement.compute_type,
            cpu_threads=cpu_threads,
            local_files_only=models.offline(),
        )
    except (OSError, ValueError, RuntimeError) as exc:
        # Hub errors derive from OSError/ValueError; CTranslate2 raises
        # RuntimeError for a folder that holds no model.
        if models.is_local(model):
            raise ModelError(
                f"{model}: not a faster-whisper model folder ({models.first_line(exc)})"
            ) from None
        if isinstance(exc, RuntimeError):
            raise
        raise models.not_found(model, "transcribe.model", exc) from None


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


_LOOP = re.compile(r"(.{2,}?)\1{3,}")


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
    if _LOOP.search("".join(seg.text.split())):
        return "repeats itself"
    return None


def transcribe(model, audio: str, options: TranscribeOptions, placement: Placement) -> Transcript:
    """Transcribe ``audio`` with a loaded model; return the whole transcript.

    With ``batch_size`` above 1 (and VAD on) speech chunks are decoded in
    batches; every batched segment that fails a decoder guard is decoded again
    over its window by the sequential decoder, guards and all.
    """
    from faster_whisper import BatchedInferencePipeline
    from faster_whisper.audio import decode_audio

    started = time.time()
    samples = decode_audio(str(audio), sampling_rate=SAMPLE_RATE)
    batched = options.batch_size > 1 and options.vad
    if batched:
        segments, info = BatchedInferencePipeline(model).transcribe(
            samples,
            language=options.language,
            vad_filter=True,
            vad_parameters=_vad_parameters(options, batched=True),
            batch_size=options.batch_size,
            **_decoder_args(options),
        )
    else:
        segments, info = model.transcribe(
            samples,
            language=options.language,
            vad_filter=options.vad,
            vad_parameters=_vad_parameters(options, batched=False),
            condition_on_previous_text=options.condition_on_previous_text,
            **_decoder_args(options),
        )
    out: list[Segment] = []
    redecoded = 0
    next_report = started + 30
    for raw in segments:  # a generator: decoding happens as we iterate
        seg = _segment(raw)
        why = needs_redecoding(seg, options) if batched else None
        if why:
            again = _redecode(model, samples, seg, info.language, options)
            log.info("decoded %.2f-%.2f again (%s): %r", seg.start, seg.end, why, seg.text)
            out += again
            redecoded += 1
        else:
            out += split_at_pauses(seg) if batched else [seg]
        if time.time() >= next_report:
            log.info("at %.0f of %.0f s", seg.end, info.duration)
            next_report = time.time() + 30
    guards = GuardOptions(
        no_speech_threshold=options.no_speech_threshold,
        log_prob_threshold=options.log_prob_threshold,
    )
    kept, decisions = screen_segments(out, guards)
    for d in decisions:
        log.info("%s %.2f-%.2f %r: %s", d.action, d.start, d.end, d.text, d.reason)
    return Transcript(
        language=info.language,
        language_probability=float(info.language_probability),
        duration=float(info.duration),
        segments=tuple(kept),
        settings=asdict(options),
        run=Run(placement.device, placement.compute_type, started, time.time()),
        decisions=tuple(decisions),
        mode=f"batched ({options.batch_size})" if batched else "sequential",
        redecoded=redecoded,
    )


#: Silence (seconds) between two words of one batched segment that splits it.
SPLIT_PAUSE = 2.0


def split_at_pauses(seg: Segment, pause: float = SPLIT_PAUSE) -> list[Segment]:
    """Split a batched segment where its words are far apart.

    The batched pipeline glues speech chunks from across the file into one
    30-second window and reports it as one segment spanning all of them (seen:
    one segment from 5 to 55 minutes). Its words keep their true times.
    """
    if not seg.words or "".join(w.word for w in seg.words).strip() != seg.text:
        return [seg]
    groups: list[list] = [[seg.words[0]]]
    for word in seg.words[1:]:
        if word.start - groups[-1][-1].end >= pause:
            groups.append([])
        groups[-1].append(word)
    return [
        dataclasses.replace(
            seg,
            start=g[0].start,
            end=g[-1].end,
            text="".join(w.word for w in g).strip(),
            words=tuple(g),
        )
        for g in groups
    ]


def _redecode(model, samples, seg: Segment, language: str, options: TranscribeOptions):
    """Decode one window again with the sequential decoder; times back on the full timeline."""
    first, last = int(seg.start * SAMPLE_RATE), int(seg.end * SAMPLE_RATE)
    segments, _ = model.transcribe(
        samples[first:last],
        language=language,
        vad_filter=False,
        condition_on_previous_text=False,
        **_decoder_args(options),
    )
    return [_shift(_segment(s), seg.start) for s in segments]


def _shift(seg: Segment, offset: float) -> Segment:
    words = tuple(
        dataclasses.replace(w, start=w.start + offset, end=w.end + offset) for w in seg.words
    )
    return dataclasses.replace(seg, start=seg.start + offset, end=seg.end + offset, words=words)


def _segment(seg) -> Segment:
    words = tuple(
        Word(float(w.start), float(w.end), w.word, float(w.probability)) for w in (seg.words or ())
    )
    return Segment(
        start=float(seg.start),
        end=float(seg.end),
        text=seg.text.strip(),
        no_speech_prob=float(seg.no_speech_prob),
        avg_logprob=float(seg.avg_logprob),
        compression_ratio=float(seg.compression_ratio),
        words=words,
    )
