"""The JSON files between steps: their shapes, and the only code that reads or writes them.

Every file is UTF-8 JSON with a top-level ``version`` and the settings that
produced it. Writes are atomic (``name.tmp`` then ``os.replace``), so a killed
step never leaves a half-written file under the final name.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autokr.errors import RecordError

VERSION = 1


@dataclass(frozen=True)
class Word:
    """One word with its timing as Whisper aligned it."""

    start: float
    end: float
    word: str
    probability: float


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


@dataclass(frozen=True)
class Run:
    """Where and when a step ran: the resolved device, and wall-clock start and end."""

    device: str
    compute_type: str
    started: float
    finished: float
    host: str = ""


@dataclass(frozen=True)
class Transcript:
    """What ``transcribe`` writes: ``results/videos/{video}/transcript.json``."""

    language: str
    language_probability: float
    duration: float
    segments: tuple[Segment, ...]
    settings: dict[str, Any]
    run: Run
    version: int = VERSION


@dataclass(frozen=True)
class Cue:
    """One timed line pair: the source text and its translation."""

    start: float
    end: float
    source: str
    text: str


@dataclass(frozen=True)
class Translation:
    """What ``translate`` writes: ``results/videos/{video}/translation.{lang}.json``."""

    source_language: str
    target_language: str
    cues: tuple[Cue, ...]
    settings: dict[str, Any]
    run: Run
    version: int = VERSION


@dataclass
class _Reader:
    """Pulls typed fields out of parsed JSON, naming the bad field on failure."""

    path: Path
    where: list[str] = field(default_factory=list)

    def fail(self, cause: str) -> RecordError:
        at = ".".join(self.where)
        return RecordError(f"{self.path}: {at + ': ' if at else ''}{cause}")

    def get(self, obj: Any, key: str, kind: type | tuple[type, ...]) -> Any:
        if not isinstance(obj, dict):
            return self._bad_type(obj, dict)
        if key not in obj:
            raise self.fail(f"missing field {key!r}")
        value = obj[key]
        # bool is an int in Python; a JSON true where a number belongs is still wrong.
        if isinstance(value, bool) and bool not in _as_tuple(kind):
            return self._bad_type(value, kind, key)
        if not isinstance(value, kind):
            return self._bad_type(value, kind, key)
        return float(value) if kind == (int, float) else value

    def _bad_type(self, value: Any, kind: Any, key: str | None = None) -> Any:
        names = "/".join(k.__name__ for k in _as_tuple(kind))
        at = f"field {key!r}" if key else "value"
        raise self.fail(f"{at} should be {names}, not {type(value).__name__}")

    def items(self, obj: Any, key: str) -> list[Any]:
        return self.get(obj, key, list)


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


_NUMBER = (int, float)


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(f"{path}: file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RecordError(f"{path}: expected a JSON object at the top")
    if data.get("version") != VERSION:
        raise RecordError(
            f"{path}: version {data.get('version')!r} is not {VERSION}; "
            "delete it and run the workflow again"
        )
    return data


def _read_run(r: _Reader, data: dict[str, Any]) -> Run:
    obj = r.get(data, "run", dict)
    return Run(
        device=r.get(obj, "device", str),
        compute_type=r.get(obj, "compute_type", str),
        started=r.get(obj, "started", _NUMBER),
        finished=r.get(obj, "finished", _NUMBER),
        host=obj.get("host", "") if isinstance(obj.get("host", ""), str) else "",
    )


def read_transcript(path: str | os.PathLike) -> Transcript:
    """Read and check a transcript written by ``transcribe`` (or edited by a user)."""
    path = Path(path)
    data = _load(path)
    r = _Reader(path)
    segments = []
    for i, seg in enumerate(r.items(data, "segments")):
        r.where = [f"segments[{i}]"]
        words = []
        for j, w in enumerate(r.items(seg, "words")):
            r.where = [f"segments[{i}]", f"words[{j}]"]
            words.append(
                Word(
                    start=r.get(w, "start", _NUMBER),
                    end=r.get(w, "end", _NUMBER),
                    word=r.get(w, "word", str),
                    probability=r.get(w, "probability", _NUMBER),
                )
            )
        r.where = [f"segments[{i}]"]
        segments.append(
            Segment(
                start=r.get(seg, "start", _NUMBER),
                end=r.get(seg, "end", _NUMBER),
                text=r.get(seg, "text", str),
                no_speech_prob=r.get(seg, "no_speech_prob", _NUMBER),
                avg_logprob=r.get(seg, "avg_logprob", _NUMBER),
                compression_ratio=r.get(seg, "compression_ratio", _NUMBER),
                words=tuple(words),
            )
        )
    r.where = []
    return Transcript(
        language=r.get(data, "language", str),
        language_probability=r.get(data, "language_probability", _NUMBER),
        duration=r.get(data, "duration", _NUMBER),
        segments=tuple(segments),
        settings=r.get(data, "settings", dict),
        run=_read_run(r, data),
    )


def read_translation(path: str | os.PathLike) -> Translation:
    """Read and check a translation written by ``translate``."""
    path = Path(path)
    data = _load(path)
    r = _Reader(path)
    cues = []
    for i, cue in enumerate(r.items(data, "cues")):
        r.where = [f"cues[{i}]"]
        cues.append(
            Cue(
                start=r.get(cue, "start", _NUMBER),
                end=r.get(cue, "end", _NUMBER),
                source=r.get(cue, "source", str),
                text=r.get(cue, "text", str),
            )
        )
    r.where = []
    return Translation(
        source_language=r.get(data, "source_language", str),
        target_language=r.get(data, "target_language", str),
        cues=tuple(cues),
        settings=r.get(data, "settings", dict),
        run=_read_run(r, data),
    )


def write_record(record: Transcript | Translation, path: str | os.PathLike) -> None:
    """Write a record as JSON, atomically."""
    data = asdict(record)
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write text to ``path`` through ``path.tmp`` and a rename, so readers see all or nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
