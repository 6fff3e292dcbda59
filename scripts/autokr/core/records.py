"""The JSON files between steps: their shapes (read and written by ``record_files``).

Every file is UTF-8 JSON with a top-level ``version`` and the settings that
produced it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from autokr.core.record_files import VERSION, read_record


@dataclass(frozen=True)
class Run:
    """Where and when a step ran: the resolved device, and wall-clock start and end."""

    device: str
    compute_type: str
    started: float
    finished: float
    host: str = ""
    attempt: int = 1
    batch_size: int | None = None
    #: Peak resident memory (MB) of the step's process and of its largest child
    #: (ffmpeg), from the kernel; GPU memory sampled with NVML on CUDA.
    peak_rss_mb: float = 0.0
    children_peak_rss_mb: float = 0.0
    gpu_peak_mb: float | None = None
    #: The card(s) the job held (CUDA_VISIBLE_DEVICES), or "" when it took none.
    gpu: str = ""

    @property
    def seconds(self) -> float:
        return self.finished - self.started


@dataclass(frozen=True)
class Media:
    """What ``extract_audio`` learnt of the input: ``results/videos/{video}/media.json``."""

    source: str
    size: int
    mtime: float
    duration: float
    frame_rate: float | None
    audio_streams: int
    run: Run
    audio_track: int = 0
    audio_language: str = ""
    audio_offset: float = 0.0
    #: How the mono audio was made ("center of 5.1(side)", "downmix of stereo"),
    #: and why it is not what was asked for, where it is not.
    audio_channels: str = ""
    audio_channels_note: str = ""
    #: Stretches of the track with no audio packets, filled with silence.
    audio_holes: tuple[Span, ...] = ()
    version: int = VERSION


@dataclass(frozen=True)
class Word:
    """One word with its timing as Whisper aligned it."""

    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class Span:
    """A stretch of time in seconds."""

    start: float
    end: float


@dataclass(frozen=True)
class TimedText:
    """A stretch of time in seconds and the text said or shown in it."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Segment:
    """One decoded segment with the decoder's own confidence signals."""

    start: float
    end: float
    text: str
    no_speech_prob: float
    avg_logprob: float
    compression_ratio: float
    words: tuple[Word, ...] = ()
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """A segment the guards dropped, flagged or collapsed, and why."""

    start: float
    end: float
    text: str
    action: str
    reason: str

    @classmethod
    def of(cls, seg: Segment, action: str, reason: str) -> Decision:
        """The decision taken on ``seg``."""
        return cls(seg.start, seg.end, seg.text, action, reason)


#: The flag of a segment made from a subtitle cue: its words were cut from the
#: text and timed by character over the cue, not heard.
WORDS_FROM_TEXT = "words_from_text"


@dataclass(frozen=True)
class TextSource:
    """Where a transcript's text came from, and the subtitles passed over (one line each).

    ``kind`` is ``speech`` (Whisper heard it), ``file`` (a subtitle file
    beside the video, ``path``) or ``track`` (subtitle track ``track`` inside
    the video ``path``; 0 is the first subtitle track).
    """

    kind: str = "speech"
    path: str = ""
    track: int | None = None
    format: str = ""
    encoding: str = ""
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transcript:
    """What ``transcribe`` or ``read_subtitles`` writes: ``videos/{video}/transcript.json``."""

    language: str
    language_probability: float
    duration: float
    segments: tuple[Segment, ...]
    settings: dict[str, Any]
    run: Run
    decisions: tuple[Decision, ...] = ()
    mode: str = "sequential"
    #: Batched pieces decoded again because they failed a guard.
    redecoded: int = 0
    #: Seconds of audio the sequential decoder went over again (pieces and uncovered speech).
    redecoded_seconds: float = 0.0
    #: Seconds of VAD speech that no word covered, before and after decoding it again.
    uncovered_before: float = 0.0
    uncovered_after: float = 0.0
    #: Where speech may still be missing from the transcript.
    uncovered: tuple[Span, ...] = ()
    source: TextSource = TextSource()
    version: int = VERSION


@dataclass(frozen=True)
class Cue:
    """One timed piece of a translated sentence.

    ``sentence`` numbers the sentence it belongs to (pieces of one sentence
    share it); ``method`` says how its translation was made.
    """

    start: float
    end: float
    source: str
    text: str
    sentence: int = 0
    method: str = "sentence"


@dataclass(frozen=True)
class Retry:
    """A sentence whose first translation failed a check, and what was done."""

    sentence: int
    source: str
    first: str
    problems: tuple[str, ...]
    method: str
    final: str


@dataclass(frozen=True)
class TermMissing:
    """A glossary term of a sentence whose target its translation does not hold."""

    sentence: int
    source: str
    translation: str
    term: str
    target: str


@dataclass(frozen=True)
class Translation:
    """What ``translate`` writes: ``results/videos/{video}/translation.{lang}.json``."""

    source_language: str
    target_language: str
    cues: tuple[Cue, ...]
    settings: dict[str, Any]
    run: Run
    sentences: int = 0
    retries: tuple[Retry, ...] = ()
    #: Sentences whose translation lost a term of translate.glossary.
    glossary_missing: tuple[TermMissing, ...] = ()
    version: int = VERSION


@dataclass(frozen=True)
class QA:
    """What ``make_srt`` writes: ``results/videos/{video}/qa.json``, the video's report."""

    video: str
    duration: float
    language: str
    language_probability: float
    cues: dict[str, int]
    decisions: tuple[Decision, ...]
    retries: dict[str, tuple[Retry, ...]]
    rule_breaks: dict[str, list[dict[str, Any]]]
    seconds: dict[str, float]
    settings: dict[str, Any] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    #: Each step's peak host memory in MB (the process or its child, whichever
    #: is larger), and its peak GPU memory where it ran on CUDA.
    peak_memory_mb: dict[str, float] = field(default_factory=dict)
    gpu_peak_mb: dict[str, float] = field(default_factory=dict)
    transcription: str = "sequential"
    redecoded: int = 0
    redecoded_seconds: float = 0.0
    #: Seconds of speech no word covered, before and after decoding it again,
    #: and where it is left: where the subtitles may miss a line.
    uncovered_before: float = 0.0
    uncovered_after: float = 0.0
    uncovered: tuple[Span, ...] = ()
    #: Each step's model, and why where ``model: auto`` chose it.
    models: dict[str, str] = field(default_factory=dict)
    model_choice: dict[str, str] = field(default_factory=dict)
    #: Where the transcript's text came from (TextSource.describe), and the
    #: subtitles passed over and why.
    text_source: str = "speech"
    text_skipped: tuple[str, ...] = ()
    #: What extract_audio heard (see Media): the channels, why not those asked
    #: for, and the holes in the track it filled with silence.
    audio_channels: str = ""
    audio_channels_note: str = ""
    audio_holes: tuple[Span, ...] = ()
    #: By target language: the sentences whose translation lost a glossary term.
    glossary_missing: dict[str, tuple[TermMissing, ...]] = field(default_factory=dict)
    version: int = VERSION


@dataclass(frozen=True)
class ModelManifest:
    """What ``download_model`` or ``convert_model`` prepared: a model's folder, and its files.

    Written once per model; the model jobs take it as input and load ``folder``
    offline. A CTranslate2 manifest lists its ``conversions``: the folder of
    each stored weight type (``int8``, ``float16``) under ``folder``.
    """

    model: str
    kind: str
    folder: str
    files: dict[str, int]
    conversions: dict[str, str] = field(default_factory=dict)
    version: int = VERSION


@dataclass(frozen=True)
class InputFile:
    """The input a video's current subtitles were made from: ``videos/{video}/input.json``.

    Written by the end of the run that made them (autokr.reports.summary). A later run
    in which the video fails tells a replaced input (other bytes) from one only
    touched (a new modification time) by it: a replacement is a change of
    content, not of time.
    """

    path: str
    size: int
    mtime_ns: int
    #: SHA-256 of the file's first and last MiB (of all of it, when it is smaller).
    ends_sha256: str
    version: int = VERSION


Record = Media | Transcript | Translation | QA | ModelManifest | InputFile


def read_media(path: str | os.PathLike) -> Media:
    """Read ``media.json`` written by ``extract_audio``."""
    return read_record(Media, path)


def read_transcript(path: str | os.PathLike) -> Transcript:
    """Read a transcript written by ``transcribe`` (or edited by a user)."""
    return read_record(Transcript, path)


def read_translation(path: str | os.PathLike) -> Translation:
    """Read a translation written by ``translate``."""
    return read_record(Translation, path)


def read_qa(path: str | os.PathLike) -> QA:
    """Read a QA report written by ``make_srt``."""
    return read_record(QA, path)
