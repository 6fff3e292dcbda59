"""The scan of a videos folder -> ``{video id: path}``, used by the Snakefile and the tests.

A video's id is its path under the folder without the extension
(``video_names``, which also says which names a run cannot carry). The
folder is known by where it really is, so spelling it another way in the
config (absolute, through a link) changes no id and no path.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from autokr.batch.video_names import is_media, name_problem, shown_path, video_id
from autokr.core.errors import ConfigError
from autokr.core.results_layout import RESULTS

#: The endings autokr adds to a stem, when the caller names none.
DERIVED_SUFFIXES = (".ko.srt",)
#: Where the watch lists the files still being written (a JSON list of paths),
#: for its run's scan to leave out.
WAITING_ENV = "AUTOKR_WATCH_WAITING"


@dataclass(frozen=True)
class Skipped:
    """An input the scan found but will not process, and why."""

    path: Path
    reason: str
    # name, duplicate, link, subtitled or waiting: how the morning report counts it
    kind: str = "name"


@dataclass
class Scan:
    """The result of scanning a videos folder."""

    videos: dict[str, Path] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True)
class ScanRules:
    """What the scan leaves out, besides names it cannot carry.

    left_out: real paths of folders never entered: the project's own, when the
        videos folder holds the project (``project_folders``).
    waiting: real paths of files still being written, skipped by this run (the
        watch's, through WAITING_ENV).
    suffixes: the endings autokr adds to a stem (``.ko.srt``, ``.ja-ko.srt``); a
        stem too long for the file system with them is skipped.
    results: the folder autokr writes under, whose file system limits names too.
    """

    left_out: frozenset[str] = frozenset()
    waiting: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = DERIVED_SUFFIXES
    results: Path | None = None

    @classmethod
    def for_project(
        cls,
        project: Path,
        models_dir: str | os.PathLike | None,
        suffixes: Iterable[str] = DERIVED_SUFFIXES,
        environ: Mapping[str, str] = os.environ,
    ) -> ScanRules:
        """The rules of a run in ``project``: its own folders left out, the watch's
        waiting files skipped, names checked against ``results/``."""
        results = project / RESULTS
        return cls(
            project_folders(project, models_dir),
            waiting_files(environ),
            tuple(suffixes) or DERIVED_SUFFIXES,
            results if results.is_dir() else project,
        )


def project_folders(project: Path, models_dir: str | os.PathLike | None = None) -> frozenset[str]:
    """The project's own folders, by real path: the project itself, and its ``results/``,
    ``.snakemake/``, ``example/`` and models folder.

    A videos folder that holds the project never looks inside them (autokr's
    muxed copies, kept audio and test media are no new videos); the scan
    drops those that hold the videos folder itself (``videos/`` in the
    project, ``example/`` on a fresh clone).
    """
    folders = [project, project / RESULTS, project / ".snakemake", project / "example"]
    if models_dir:
        folders.append(project / os.path.expanduser(models_dir))
    return frozenset(os.path.realpath(folder) for folder in folders)


def waiting_files(environ: Mapping[str, str] = os.environ) -> frozenset[str]:
    """The real paths of the files the watch says are still being written (WAITING_ENV)."""
    text = environ.get(WAITING_ENV, "")
    if not text:
        return frozenset()
    try:
        paths = json.loads(text)
    except ValueError:
        paths = None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ConfigError(f"{WAITING_ENV}: not a JSON list of paths")
    return frozenset(os.path.realpath(path) for path in paths)


def real_folder(folder: str | os.PathLike, workdir: str | os.PathLike | None = None) -> Path:
    """``folder`` by where it really is: links resolved, relative to ``workdir`` when inside it.

    So ``videos``, its absolute path, a link to it and the link's target are
    one folder, and the paths autokr gives its rules (and records) stay the
    same however the config spells it.
    """
    real = os.path.realpath(folder)
    if workdir is not None:
        base = os.path.realpath(workdir)
        if real == base or real.startswith(base.rstrip(os.sep) + os.sep):
            return Path(os.path.relpath(real, base))
    return Path(real)


def scan_videos(
    folder: str | os.PathLike, rules: ScanRules | None = None, workdir: Path | None = None
) -> Scan:
    """Scan ``folder`` recursively, in sorted order, for video and audio files.

    The folder is known by its real path (``real_folder``; paths relative to
    ``workdir``, the working directory, when inside it), ids by the path under
    it. Raises ConfigError when the folder is missing or holds no media at
    all. Names that cannot be carried (not UTF-8, too long for the file
    system, Snakemake's syntax), ids that two files would share (also when
    they differ only in letter case or Unicode normalisation), broken links,
    link loops and files ``rules`` says are still being written are returned
    in ``skipped`` and left out of ``videos``; folders ``rules`` leaves out
    are not entered. A file reached twice through a symlink is taken once,
    under the first name met.
    """
    if not Path(folder).is_dir():
        raise ConfigError(f"{folder}: videos folder not found (set 'videos' in the config)")
    root = real_folder(folder, workdir)
    rules = _outside(rules or ScanRules(), os.path.realpath(root))
    scan = Scan()
    found: dict[str, list[Path]] = {}
    seen_files: dict[Path, Path] = {}
    for path in _media_files(root, rules, scan.skipped):
        problem = _unusable(root, path, rules)
        if problem:
            scan.skipped.append(Skipped(shown_path(path), *problem))
            continue
        real = path.resolve()
        if real in seen_files:
            reason = f"same file as {seen_files[real]}"
            scan.skipped.append(Skipped(path, reason, "duplicate"))
            continue
        seen_files[real] = path
        key = unicodedata.normalize("NFC", video_id(root, path)).casefold()
        found.setdefault(key, []).append(path)
    _take_unique(root, found, scan)
    if not scan.videos and not scan.skipped:
        raise ConfigError(f"{folder}: no video or audio files found")
    return scan


def _outside(rules: ScanRules, root: str) -> ScanRules:
    """``rules`` less the left-out folders that hold the scanned folder ``root``."""
    kept = frozenset(f for f in rules.left_out if not is_inside(root, frozenset({f})))
    return dataclasses.replace(rules, left_out=kept)


def _media_files(root: Path, rules: ScanRules, skipped: list[Skipped]) -> Iterator[Path]:
    """Every media file under ``root``, folders in sorted order, hidden and left-out
    folders not entered; a folder reached a second time (a link loop) is skipped."""
    seen_dirs = {root.resolve()}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        kept_dirs = []
        for name in sorted(d for d in dirnames if not d.startswith(".")):
            real = (Path(dirpath) / name).resolve()
            if is_inside(str(real), rules.left_out):
                continue  # the project's own: autokr's files, not the user's videos
            if real in seen_dirs:
                reason = "links to a folder already scanned (a symlink loop?); not followed"
                skipped.append(Skipped(shown_path(Path(dirpath) / name), reason, "link"))
                continue
            seen_dirs.add(real)
            kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if is_media(name) and not is_inside(os.path.realpath(path), rules.left_out):
                yield path


def is_inside(real: str, folders: Collection[str]) -> bool:
    """True when the real path ``real`` is one of ``folders`` or inside one."""
    return any(
        real == folder or real.startswith(folder.rstrip(os.sep) + os.sep) for folder in folders
    )


def _take_unique(root: Path, found: dict[str, list[Path]], scan: Scan) -> None:
    """Add each file whose id no other file shares to ``scan.videos``; skip the others."""
    for paths in found.values():
        if len(paths) == 1:
            scan.videos[video_id(root, paths[0])] = paths[0]
            continue
        for path in paths:
            others = ", ".join(str(p) for p in paths if p != path)
            ids = {unicodedata.normalize("NFC", video_id(root, p)) for p in paths}
            but = " but for letter case" if len({i.lower() for i in ids}) < len(ids) else ""
            reason = f"same name as {others}{but}; rename one of them"
            scan.skipped.append(Skipped(path, reason, "duplicate"))
    scan.videos = dict(sorted(scan.videos.items()))


def _unusable(root: Path, path: Path, rules: ScanRules) -> tuple[str, str] | None:
    """Why ``path`` cannot be processed, and how the report counts it; or None."""
    problem = name_problem(root, path, rules.suffixes, rules.results)
    if problem:
        return problem, "name"
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop", "link"
        broken = "broken symlink" if path.is_symlink() else f"cannot be read ({exc.strerror})"
        return broken, "link"
    if os.path.realpath(path) in rules.waiting:
        return "still being written; the watch runs it once it has stopped changing", "waiting"
    return None
