"""The subtitles a video already has: files beside it and tracks inside it.

``skip_existing`` leaves out a video that has subtitles in every target
language (``skip_subtitled``); ``transcribe.source`` reads a source-language
one (``text.text_source``). Both find them the same way: a file belongs to the
video whose name it starts with (``NAME.ko.srt``, ``NAME.kor.ass``,
``NAME.Korean.srt``, not ``.forced``), a track counts by its language tag, and
a file autokr published itself never counts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autokr.batch.discovery import Scan, Skipped
from autokr.batch.video_names import is_media

#: Extensions of subtitle files that players load beside a video.
SUBTITLE_EXTENSIONS = frozenset(".srt .ass .ssa .vtt .sub .idx .sup .smi".split())
#: Name parts that mark subtitles of only part of the dialogue (signs, foreign
#: lines): they do not stand in for full subtitles.
_PARTIAL = frozenset({"forced", "foreign"})
#: Subtags and spellings that say which script Chinese is written in.
_SCRIPTS = {"hans": "hans", "cn": "hans", "sg": "hans", "hant": "hant", "tw": "hant", "hk": "hant"}
_ALIASES = {"chs": "zh-hans", "cht": "zh-hant"}


def skip_subtitled(
    scan: Scan, wanted: dict[str, frozenset[str]], published: Callable[[Path], bool]
) -> Scan:
    """Leave out the videos that already have subtitles in every language of ``wanted``.

    ``wanted`` maps each target language to the tags that name it
    (``languages.subtitle_tags``). A video's subtitles are files beside it
    (``NAME.ko.srt``, ``NAME.kor.ass``, ``NAME.Korean.srt``, not ``.forced``)
    and subtitle tracks inside it; ``published(path)`` is true for a file
    autokr published itself, which never counts. The videos left out are
    added to ``skipped`` with what was found.
    """
    kept: dict[str, Path] = {}
    listings: dict[Path, list[str]] = {}
    for key, path in scan.videos.items():
        if path.parent not in listings:
            try:
                listings[path.parent] = sorted(os.listdir(path.parent))
            except OSError:  # unreadable now: no subtitles to see there
                listings[path.parent] = []
        found = _sidecars(path, listings[path.parent], wanted, published)
        if set(found) != set(wanted):
            found |= _tracks(path, {k: v for k, v in wanted.items() if k not in found})
        if set(found) != set(wanted):
            kept[key] = path
            continue
        where = ", ".join(found[code] for code in wanted)
        reason = f"already has {' and '.join(wanted)} subtitles ({where}); skip_existing is on"
        scan.skipped.append(Skipped(path, reason, "subtitled"))
    return Scan(kept, scan.skipped)


def _sidecars(
    video: Path, names: list[str], wanted: dict[str, frozenset[str]], published
) -> dict[str, str]:
    """The languages of ``wanted`` that subtitle files beside ``video`` give, and the file."""
    own = _own_subtitles(video, names, published)
    found: dict[str, str] = {}
    for code, tags in wanted.items():
        files = [name for name, parts in own if _gives(parts, tags)]
        if files:
            found[code] = files[0]
    return found


def sidecar_files(
    video: Path, names: list[str], tags: frozenset[str], published: Callable[[Path], bool]
) -> list[str]:
    """The subtitle files among ``names`` (``video``'s folder) that are ``video``'s and whose
    name gives a language of ``tags`` (``NAME.ja.srt``, ``NAME.jpn.ass``), in listing order.

    Forced and foreign-only subtitles, and files autokr published itself
    (``published(path)``), are left out, as for skip_existing.
    """
    own = _own_subtitles(video, names, published)
    return [name for name, parts in own if _gives(parts, tags)]


def _gives(parts: list[str], tags: frozenset[str]) -> bool:
    """True when a part of a subtitle file's name names a language of ``tags``."""
    return any(names_language(part, tags) for part in parts)


def _own_subtitles(video: Path, names: list[str], published) -> list[tuple[str, list[str]]]:
    """Each subtitle file of ``video`` among ``names``, with the name parts between the
    video's name and the extension.

    A file belongs to the video with the longest name it starts with, as
    ``ep.01.ko.srt`` belongs to ``ep.01.mkv`` and not to ``ep.mkv``.
    """
    stems = {Path(n).stem for n in names if is_media(n)}
    own = []
    for name in names:
        if Path(name).suffix.lower() not in SUBTITLE_EXTENSIONS:
            continue
        owners = [s for s in stems if name.startswith(f"{s}.")]
        if max(owners, key=len, default=None) != video.stem:
            continue
        parts = name[len(video.stem) + 1 :].split(".")[:-1]
        if _PARTIAL & {p.lower() for p in parts} or published(video.parent / name):
            continue
        own.append((name, parts))
    return own


def _tracks(video: Path, wanted: dict[str, frozenset[str]]) -> dict[str, str]:
    """The languages of ``wanted`` that subtitle tracks inside ``video`` are tagged with."""
    found: dict[str, str] = {}
    for track in subtitle_tracks(video):
        for code, tags in wanted.items():
            if code not in found and not track.forced and names_language(track.language, tags):
                found[code] = f"subtitle track {track.number} ({track.language})"
    return found


@dataclass(frozen=True)
class SubtitleTrack:
    """A subtitle track inside a media file.

    ``number`` counts subtitle tracks only (0 is the first, as ffmpeg's
    ``-map 0:s:N``); ``text`` is false for pictures of text (PGS, VobSub, DVB).
    """

    number: int
    language: str
    forced: bool
    codec: str
    text: bool


def subtitle_tracks(path: Path) -> list[SubtitleTrack]:
    """Each subtitle track of a media file. Read with PyAV (the libavformat that ffprobe
    uses); [] for a file it cannot read, which the steps then report."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            streams = [s for s in container.streams if s.type == "subtitle"]
            return [
                SubtitleTrack(
                    n,
                    s.metadata.get("language", ""),
                    bool(s.disposition & av.stream.Disposition.forced),
                    *_codec(s),
                )
                for n, s in enumerate(streams)
            ]
    except (av.FFmpegError, OSError):
        return []


def _codec(stream) -> tuple[str, bool]:
    """A subtitle stream's codec name, and whether it carries text rather than pictures."""
    try:
        codec = stream.codec_context.codec
        return codec.canonical_name, not codec.bitmap_sub
    except Exception:  # a codec this libavcodec cannot open: its name, if it has one
        return getattr(stream.codec_context, "name", None) or "unknown", False


def names_language(tag: str, tags: frozenset[str]) -> bool:
    """True when a file-name part or track tag (``ko``, ``ko-KR``, ``zh-TW``) names a language
    with ``tags``; a script or region that says another Chinese script does not."""
    tag = tag.lower().replace("_", "-")
    tag = _ALIASES.get(tag, tag)
    normal = {t.replace("_", "-") for t in tags}
    if tag in normal:
        return True
    primary, _, subtag = tag.partition("-")
    if not subtag or primary not in normal:
        return False
    script = _SCRIPTS.get(subtag.split("-")[0])
    scripts = {_SCRIPTS.get(t.partition("-")[2]) for t in normal} - {None}
    return script is None or not scripts or script in scripts
