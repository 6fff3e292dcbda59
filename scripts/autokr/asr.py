"""Speech recognition with faster-whisper: load the model, transcribe, keep the signals."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from autokr import models
from autokr.devices import Placement
from autokr.errors import ModelError
from autokr.hallucinations import GuardOptions, screen_segments
from autokr.records import Run, Segment, Transcript, Word

log = logging.getLogger("autokr.transcribe")

#: Whisper's own model names, which faster-whisper maps to repositories.
WHISPER_SIZES = (
    "tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en",
    "large-v1", "large-v2", "large-v3", "large", "distil-large-v2", "distil-large-v3",
    "distil-small.en", "distil-medium.en", "large-v3-turbo", "turbo",
)  # fmt: skip


@dataclass(frozen=True)
class TranscribeOptions:
    """Everything that shapes a transcript; all of it is recorded in the output.

    model: a Whisper size name (``large-v3``), a Hugging Face repo id or a local folder.
    language: a Whisper code, or None to let Whisper detect it.
    beam_size: beams for the decoder.
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


def transcribe(model, audio: str, options: TranscribeOptions, placement: Placement) -> Transcript:
    """Transcribe ``audio`` with a loaded model; return the whole transcript."""
    started = time.time()
    segments, info = model.transcribe(
        str(audio),
        language=options.language,
        beam_size=options.beam_size,
        vad_filter=options.vad,
        # null in the config means faster-whisper's own default (no limit).
        vad_parameters={k: v for k, v in options.vad_options.items() if v is not None} or None,
        word_timestamps=True,
        condition_on_previous_text=options.condition_on_previous_text,
        compression_ratio_threshold=options.compression_ratio_threshold,
        log_prob_threshold=options.log_prob_threshold,
        no_speech_threshold=options.no_speech_threshold,
        temperature=list(options.temperature),
        initial_prompt=options.initial_prompt or None,
        hotwords=options.hotwords or None,
    )
    out: list[Segment] = []
    next_report = started + 30
    for seg in segments:  # a generator: decoding happens as we iterate
        out.append(_segment(seg))
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
    )


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
