"""Which files under the videos folder the watch looks at, and which it leaves alone.

Only names with a video or audio extension count (so subtitles, ``*.part``,
``*.tmp`` and the like never start a run); hidden files and folders are left
out as the scan leaves them out, and so are the project's own folders
(``discovery.project_folders``, by real path) and every file a publish
manifest under ``results/`` names as published.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from pathlib import Path

from autokr.batch.discovery import ScanRules, is_inside, scan_videos
from autokr.batch.video_names import is_media
from autokr.core.errors import ConfigError


def in_scope(path: Path, folder: Path, left_out: Collection[str] = ()) -> bool:
    """True for a path under ``folder`` that the scan would look at.

    Hidden files and folders are out, as are the ``left_out`` folders (real
    paths: the project's own, when the videos folder holds the project),
    links into them included.
    """
    try:
        relative = path.relative_to(folder)
    except ValueError:
        return False
    if any(part.startswith(".") for part in relative.parts):
        return False
    real = os.path.realpath(path)
    return not is_inside(real, left_out)


def published_files(results: Path) -> set[str]:
    """Every file a publish manifest under ``results`` names as published, by real path.

    A manifest is any JSON file with ``publish`` in its name: ``published.json``
    keys its ``files`` by path, a video's ``publish.json`` lists ``files``
    with a ``path`` each. The videos they were made from are named there too
    (``input``), and are not published files: a replaced video runs again.
    Relative paths are taken from the project folder (``results``' parent).
    """
    found: set[str] = set()
    if not results.is_dir():
        return found
    for manifest in results.rglob("*publish*.json"):
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # being written, or not ours: the next change reads it again
        found |= {os.path.realpath(results.parent / text) for text in _published_paths(data)}
    return found


def _published_paths(data: object) -> list[str]:
    """The paths a manifest lists as published: the keys of its ``files``, or the
    ``path`` of each of its ``files``."""
    files = data.get("files") if isinstance(data, dict) else None
    if isinstance(files, dict):
        return [key for key in files if isinstance(key, str)]
    if isinstance(files, list):
        return [f["path"] for f in files if isinstance(f, dict) and isinstance(f.get("path"), str)]
    return []


def has_media(folder: Path, left_out: frozenset[str] = frozenset()) -> bool:
    """True when the scan of ``folder`` finds anything to process or report."""
    try:
        scan_videos(folder, ScanRules(left_out=left_out))
    except ConfigError:
        return False
    return True


def media_under(folder: Path) -> list[Path]:
    """Video and audio files under ``folder``, hidden ones left out, as the scan does."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / name for name in sorted(filenames) if is_media(name)]
    return found
