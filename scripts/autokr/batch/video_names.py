"""What a file's name means to a run: media or not, the video's id, and the names it skips.

A video's id is its path under the videos folder without the extension, with
``/`` between folders: ``videos/season 1/ep.01.webm`` is ``season 1/ep.01``.
Some names cannot be carried through a run (``name_problem``): Snakemake's own
syntax, names that are not UTF-8 (Snakemake keeps its records by UTF-8
names), names too long for the file system once autokr adds its endings, and
ids Snakemake reads as a rule feeding itself.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from pathlib import Path

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


#: Room kept after a stem for what autokr adds to it besides a subtitle suffix:
#: the leading dot of a hidden temporary file beside the video (publishing)
#: and a temporary name's ``.<pid>.<random>.tmp`` (record_files.write_text_atomic).
_TEMPORARY_ROOM = len(".") + len(".4194304.0123abcd.tmp")


def is_media(name: str) -> bool:
    """True for a visible file name with a video or audio extension (any case)."""
    return not name.startswith(".") and Path(name).suffix.lower() in MEDIA_EXTENSIONS


def video_id(folder: Path, path: Path) -> str:
    """The id of ``path`` under ``folder``: relative path without its extension."""
    relative = path.relative_to(folder)
    return relative.with_suffix("").as_posix()


def shown_path(path: Path) -> Path:
    """``path`` as it can be printed and written in UTF-8: bytes that are not UTF-8
    (a Shift-JIS name) shown as ``\\x83``."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return Path(os.fsencode(text).decode("utf-8", "backslashreplace"))
    return path


def name_problem(
    root: Path, path: Path, suffixes: Sequence[str], results: Path | None
) -> str | None:
    """Why the name of ``path`` (under the videos folder ``root``) cannot be carried through
    a run, or None.

    ``suffixes`` are the endings autokr adds to a stem (``.ko.srt``), and
    ``results`` the folder it writes under: both limit a name's length.
    """
    relative = str(path.relative_to(root))
    bad = [what for ch, what in _UNCARRIABLE.items() if ch in relative]
    if bad:
        return f"name contains {' and '.join(bad)}"
    return _not_utf8(relative) or _too_long(path, suffixes, results) or _periodic(path, root)


def _not_utf8(relative: str) -> str | None:
    """Why a name that is not UTF-8 cannot be taken (Snakemake keeps its records by
    UTF-8 names), with what it reads as in Shift-JIS when it does; or None."""
    try:
        relative.encode("utf-8")
        return None
    except UnicodeEncodeError:
        pass
    raw = os.fsencode(relative)
    try:
        hint = f" (in Shift-JIS it reads {raw.decode('cp932')!r})"
    except UnicodeDecodeError:
        hint = ""
    return f"name is not valid UTF-8{hint}; rename it in UTF-8 to have it done"


def _too_long(path: Path, suffixes: Sequence[str], results: Path | None) -> str | None:
    """Why the names autokr would derive from ``path``'s stem are too long for the file
    system of the video's folder or of ``results``, or None."""
    stem = len(os.fsencode(path.stem))
    suffix = max(suffixes, key=lambda s: len(s.encode()))
    needed = stem + len(suffix.encode()) + _TEMPORARY_ROOM
    limit = min(_name_max(path.parent), _name_max(results or path.parent))
    if needed <= limit:
        return None
    return (
        f"name too long: {stem} bytes before the extension, and with what autokr adds "
        f"({suffix} and a temporary name's ending) it passes this file system's "
        f"{limit}-byte limit; shorten it by {needed - limit} bytes"
    )


#: What Snakemake refuses as a wildcard value: one that ends in a piece repeated 20
#: times or more, which it reads as a rule feeding itself without end.
_PERIODIC = re.compile(r"(.+)\1{19,99}$", re.DOTALL)


def _periodic(path: Path, root: Path) -> str | None:
    """Why Snakemake would refuse ``path``'s id (``ep wwwwwwwwwwwwwwwwwwww``), or None."""
    found = _PERIODIC.search(video_id(root, path))
    if found is None:
        return None
    times = len(found.group(0)) // len(found.group(1))
    return (
        f"name ends in {found.group(1)!r} {times} times over, which Snakemake refuses "
        "(it reads it as a step feeding itself); repeat it fewer than 20 times"
    )


@functools.cache
def _name_max(folder: Path) -> int:
    """The longest file name (in bytes) the file system of ``folder`` takes."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255
