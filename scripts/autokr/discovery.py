"""The videos folder -> ``{video id: path}``, used by the Snakefile and the tests.

A video's id is its path under the folder without the extension, with ``/``
between folders: ``videos/season 1/ep.01.webm`` is ``season 1/ep.01``.
"""

from __future__ import annotations

import os
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
    Names that cannot be carried, and ids that two files would share, are
    returned in ``skipped`` and left out of ``videos``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: videos folder not found (set 'videos' in the config)")
    found: dict[str, list[Path]] = {}
    scan = Scan()
    for dirpath, dirnames, filenames in os.walk(folder):
        # Hidden folders are skipped; sorting here makes the walk order stable.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not is_media(name):
                continue
            path = Path(dirpath) / name
            bad = [what for ch, what in _UNCARRIABLE.items() if ch in str(path.relative_to(folder))]
            if bad:
                scan.skipped.append(Skipped(path, f"name contains {' and '.join(bad)}"))
                continue
            found.setdefault(video_id(folder, path), []).append(path)
    for vid, paths in sorted(found.items()):
        if len(paths) == 1:
            scan.videos[vid] = paths[0]
            continue
        for path in paths:
            others = ", ".join(str(p) for p in paths if p != path)
            scan.skipped.append(Skipped(path, f"same name as {others}; rename one of them"))
    if not scan.videos and not scan.skipped:
        raise ConfigError(f"{folder}: no video or audio files found")
    return scan
