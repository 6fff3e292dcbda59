"""Speech recognition with faster-whisper: load the model, transcribe, keep the signals."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from autokr.batch import progress
from autokr.core.devices import Placement
from autokr.core.errors import ModelError
from autokr.core.records import Run, Segment, Span, Transcript, Word
from autokr.core.switches import fault_switch
from autokr.models import locate
from autokr.speech.hallucinations import GuardOptions, screen_segments
from autokr.speech.media import SAMPLE_RATE
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
#: costs a decoding again, so one more than for NLLB output (mt).
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
        clips += _clips(missing)
        found = _decode_spans(model, samples, _clips(missing), language, options)
        out = merge_segments(out, [p for seg in found for p in _within(seg, missing)])
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
        for piece in split_at_pauses(_segment(raw)) if batched else [_segment(raw)]:
            why = needs_redecoding(piece, options) if batched else None
            if not why:
                found.segments.append(piece)
                continue
            spans = _speech_within(speech, piece.start, piece.end)
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


#: Speech (seconds) with no word on it that is decoded again, and that counts
#: as uncovered in the record: shorter gaps are breaths and word-timing slack.
MIN_UNCOVERED = 1.0
#: How far (seconds) a word's timing may be off and still cover its speech.
WORD_SLACK = 0.2
#: Silence (seconds) added around speech that is decoded again.
CLIP_PAD = 0.2
#: Speech this close (seconds, padding included) is decoded again as one clip.
JOIN_GAP = 1.0


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


def uncovered_speech(
    speech: list[Span], segments: list[Segment], shortest: float = MIN_UNCOVERED
) -> list[Span]:
    """Stretches of speech, ``shortest`` seconds or longer, that no word of ``segments`` covers.

    The batched pipeline can leave out a whole sentence with no sign in what
    it returns (no segment, no low score): only the audio shows it. A segment
    without word timings covers its whole span.
    """
    covered = sorted(
        (w.start - WORD_SLACK, w.end + WORD_SLACK)
        for seg in segments
        for w in (seg.words or [Word(seg.start, seg.end, seg.text, 1.0)])
    )
    found = []
    for span in speech:
        at = span.start
        for start, end in covered:
            if end <= at or start >= span.end:
                continue
            if start - at >= shortest:
                found.append(Span(round(at, 3), round(start, 3)))
            at = max(at, end)
        if span.end - at >= shortest:
            found.append(Span(round(at, 3), span.end))
    return found


def _clips(spans: list[Span]) -> list[Span]:
    """Spans padded a little, and joined where they nearly touch: what is decoded again.

    VAD cuts speech at every breath; a sentence decoded in one piece reads
    better than its halves decoded apart.
    """
    clips: list[Span] = []
    for span in spans:
        start, end = max(0.0, span.start - CLIP_PAD), span.end + CLIP_PAD
        if clips and start - clips[-1].end < JOIN_GAP:
            clips[-1] = Span(clips[-1].start, end)
        else:
            clips.append(Span(start, end))
    return clips


def _speech_within(speech: list[Span], start: float, end: float) -> list[Span]:
    """The speech between ``start`` and ``end``, padded a little: what a piece is decoded over.

    A glued batched segment can span minutes of music between two sentences;
    only its speech is decoded again. Spans close together are decoded as one.
    """
    inside = [
        Span(max(s.start, start), min(s.end, end))
        for s in speech
        if s.end > start and s.start < end
    ]
    return _clips(inside or [Span(start, end)])


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
        found += [_shift(_segment(s), span.start) for s in segments]
    return found


def _within(seg: Segment, spans: list[Span]) -> list[Segment]:
    """The words of ``seg`` heard inside ``spans`` (not in the padding), as segments."""

    def inside(start: float, end: float) -> bool:
        mid = (start + end) / 2
        return any(s.start - WORD_SLACK <= mid <= s.end + WORD_SLACK for s in spans)

    if not _words_match(seg):
        return [seg] if inside(seg.start, seg.end) else []
    words = tuple(w for w in seg.words if inside(w.start, w.end))
    if not words:
        return []
    text = "".join(w.word for w in words).strip()
    return [
        dataclasses.replace(seg, start=words[0].start, end=words[-1].end, text=text, words=words)
    ]


def merge_segments(segments: list[Segment], new: list[Segment]) -> list[Segment]:
    """``new`` put into ``segments`` in time order, by word times.

    A segment that the new one falls inside (the batched pipeline's segments
    can span 30 s) is cut at the new one's start, where its words allow.
    """
    out = list(segments)
    for seg in sorted(new, key=lambda s: s.start):
        cut: list[Segment] = []
        for old in out:
            cut += _cut(old, seg.start) if old.start < seg.start < old.end else [old]
        out = sorted([*cut, seg], key=lambda s: s.start)
    return out


def _cut(seg: Segment, at: float) -> list[Segment]:
    """``seg`` as its words before ``at`` and its words after (whole if they do not match)."""
    if not _words_match(seg):
        return [seg]
    before = tuple(w for w in seg.words if (w.start + w.end) / 2 < at)
    after = seg.words[len(before) :]
    return [
        dataclasses.replace(
            seg, start=g[0].start, end=g[-1].end, text="".join(w.word for w in g).strip(), words=g
        )
        for g in (before, after)
        if g
    ]


def _words_match(seg: Segment) -> bool:
    """True when the segment's words spell its text (a user may have edited the text)."""
    return bool(seg.words) and "".join(w.word for w in seg.words).strip() == seg.text


#: Silence (seconds) between two words of one batched segment that splits it.
SPLIT_PAUSE = 2.0


def split_at_pauses(seg: Segment, pause: float = SPLIT_PAUSE) -> list[Segment]:
    """Split a batched segment where its words are far apart.

    The batched pipeline glues speech chunks from across the file into one
    30-second window and reports it as one segment spanning all of them (seen:
    one segment from 5 to 55 minutes). Its words keep their true times.
    """
    if not _words_match(seg):
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
