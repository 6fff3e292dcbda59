"""The videos folder -> ``{video id: path}``, used by the Snakefile and the tests.

A video's id is its path under the folder without the extension, with ``/``
between folders: ``videos/season 1/ep.01.webm`` is ``season 1/ep.01``.
"""

from __future__ import annotations

import errno
import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autokr.errors import ConfigError

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .mkv .webm .mov .avi .m4v .ts .m2ts .flv .wmv .mpg .mpeg".split()
)
AUDIO_EXTENSIONS = frozenset(".mp3 .m4a .aac .flac .wav .ogg .opus".split())
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS | AUDIO_EXTENSIONS

#: Characters a Snakemake wildcard value cannot carry, or that no subtitle
#: file name should: braces and angle brackets (``<name>`` path variables)
#: are Snakemake's own syntax.
_UNCARRIABLE = {
    "{": "'{'",
    "}": "'}'",
    "<": "'<'",
    ">": "'>'",
    "\n": "a newline",
    "\r": "a carriage return",
}


@dataclass(frozen=True)
class Skipped:
    """An input the scan found but will not process, and why."""

    path: Path
    reason: str
    kind: str = "name"  # name, duplicate, link or subtitled: how the morning report counts it


@dataclass
class Scan:
    """The result of scanning a videos folder."""

    videos: dict[str, Path] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)


def is_media(name: str) -> bool:
    """True for a visible file name with a video or audio extension (any case)."""
    return not name.startswith(".") and Path(name).suffix.lower() in MEDIA_EXTENSIONS


def video_id(folder: Path, path: Path) -> str:
    """The id of ``path`` under ``folder``: relative path without its extension."""
    relative = path.relative_to(folder)
    return relative.with_suffix("").as_posix()


def scan_videos(folder: str | os.PathLike) -> Scan:
    """Scan ``folder`` recursively, in sorted order, for video and audio files.

    Raises ConfigError when the folder is missing or holds no media at all.
    Names that cannot be carried, ids that two files would share (also when
    they differ only in Unicode normalisation), broken links and link loops
    are returned in ``skipped`` and left out of ``videos``. A file reached
    twice through a symlink is taken once, under the first name met.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: videos folder not found (set 'videos' in the config)")
    scan = Scan()
    found: dict[str, list[Path]] = {}
    seen_files: dict[Path, Path] = {}
    seen_dirs = {folder.resolve()}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        kept_dirs = []
        for name in sorted(d for d in dirnames if not d.startswith(".")):
            real = (Path(dirpath) / name).resolve()
            if real in seen_dirs:
                reason = "links to a folder already scanned (a symlink loop?); not followed"
                scan.skipped.append(Skipped(Path(dirpath) / name, reason, "link"))
                continue
            seen_dirs.add(real)
            kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            if not is_media(name):
                continue
            path = Path(dirpath) / name
            problem = _unusable(folder, path)
            if problem:
                kind = "name" if problem.startswith("name") else "link"
                scan.skipped.append(Skipped(path, problem, kind))
                continue
            real = path.resolve()
            if real in seen_files:
                reason = f"same file as {seen_files[real]}"
                scan.skipped.append(Skipped(path, reason, "duplicate"))
                continue
            seen_files[real] = path
            key = unicodedata.normalize("NFC", video_id(folder, path))
            found.setdefault(key, []).append(path)
    for paths in found.values():
        if len(paths) == 1:
            scan.videos[video_id(folder, paths[0])] = paths[0]
            continue
        for path in paths:
            others = ", ".join(str(p) for p in paths if p != path)
            reason = f"same name as {others}; rename one of them"
            scan.skipped.append(Skipped(path, reason, "duplicate"))
    scan.videos = dict(sorted(scan.videos.items()))
    if not scan.videos and not scan.skipped:
        raise ConfigError(f"{folder}: no video or audio files found")
    return scan


def _unusable(folder: Path, path: Path) -> str | None:
    """Why ``path`` cannot be processed, or None."""
    bad = [what for ch, what in _UNCARRIABLE.items() if ch in str(path.relative_to(folder))]
    if bad:
        return f"name contains {' and '.join(bad)}"
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        return "broken symlink" if path.is_symlink() else f"cannot be read ({exc.strerror})"
    return None


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
    """The languages of ``wanted`` that subtitle files beside ``video`` give, and the file.

    A file belongs to the video with the longest name it starts with, as
    ``ep.01.ko.srt`` belongs to ``ep.01.mkv`` and not to ``ep.mkv``.
    """
    stems = {Path(n).stem for n in names if is_media(n)}
    found: dict[str, str] = {}
    for name in names:
        if Path(name).suffix.lower() not in SUBTITLE_EXTENSIONS:
            continue
        owners = [s for s in stems if name.startswith(f"{s}.")]
        if max(owners, key=len, default=None) != video.stem:
            continue
        parts = name[len(video.stem) + 1 :].split(".")[:-1]
        if _PARTIAL & {p.lower() for p in parts} or published(video.parent / name):
            continue
        for code, tags in wanted.items():
            if code not in found and any(_names(part, tags) for part in parts):
                found[code] = name
    return found


def _tracks(video: Path, wanted: dict[str, frozenset[str]]) -> dict[str, str]:
    """The languages of ``wanted`` that subtitle tracks inside ``video`` are tagged with."""
    found: dict[str, str] = {}
    for number, tag, forced in subtitle_tracks(video):
        for code, tags in wanted.items():
            if code not in found and not forced and _names(tag, tags):
                found[code] = f"subtitle track {number} ({tag})"
    return found


def subtitle_tracks(path: Path) -> list[tuple[int, str, bool]]:
    """Each subtitle track of a media file: its number (0 is the first), language tag, and
    whether it is forced. Read with PyAV (the libavformat that ffprobe uses); [] for a file
    it cannot read, which the steps then report."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            streams = [s for s in container.streams if s.type == "subtitle"]
            return [
                (
                    n,
                    s.metadata.get("language", ""),
                    bool(s.disposition & av.stream.Disposition.forced),
                )
                for n, s in enumerate(streams)
            ]
    except (av.FFmpegError, OSError):
        return []


def _names(tag: str, tags: frozenset[str]) -> bool:
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
