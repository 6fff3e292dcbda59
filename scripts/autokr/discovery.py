"""The videos folder -> ``{video id: path}``, used by the Snakefile and the tests.

A video's id is its path under the folder without the extension, with ``/``
between folders: ``videos/season 1/ep.01.webm`` is ``season 1/ep.01``.
"""

from __future__ import annotations

import errno
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from autokr.errors import ConfigError

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .mkv .webm .mov .avi .m4v .ts .m2ts .flv .wmv .mpg .mpeg".split()
)
AUDIO_EXTENSIONS = frozenset(".mp3 .m4a .aac .flac .wav .ogg .opus".split())
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS | AUDIO_EXTENSIONS

#: Characters a Snakemake wildcard value cannot carry, or that no subtitle
#: file name should: braces are Snakemake's own syntax.
_UNCARRIABLE = {"{": "'{'", "}": "'}'", "\n": "a newline", "\r": "a carriage return"}


@dataclass(frozen=True)
class Skipped:
    """An input the scan found but will not process, and why."""

    path: Path
    reason: str
    kind: str = "name"  # name, duplicate or link: how the morning report counts it


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
