"""The videos folder -> ``{video id: path}``, used by the Snakefile and the tests.

A video's id is its path under the folder without the extension, with ``/``
between folders: ``videos/season 1/ep.01.webm`` is ``season 1/ep.01``. The
folder is known by where it really is, so spelling it another way in the
config (absolute, through a link) changes no id and no path.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from autokr.core.errors import ConfigError

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
#: and a temporary name's ``.<pid>.<random>.tmp`` (records.write_text_atomic).
_TEMPORARY_ROOM = len(".") + len(".4194304.0123abcd.tmp")
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
        results = project / "results"
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
    folders = [project, project / "results", project / ".snakemake", project / "example"]
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


def is_media(name: str) -> bool:
    """True for a visible file name with a video or audio extension (any case)."""
    return not name.startswith(".") and Path(name).suffix.lower() in MEDIA_EXTENSIONS


def video_id(folder: Path, path: Path) -> str:
    """The id of ``path`` under ``folder``: relative path without its extension."""
    relative = path.relative_to(folder)
    return relative.with_suffix("").as_posix()


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
    kept = frozenset(f for f in rules.left_out if not _inside(root, frozenset({f})))
    return dataclasses.replace(rules, left_out=kept)


def _media_files(root: Path, rules: ScanRules, skipped: list[Skipped]) -> Iterator[Path]:
    """Every media file under ``root``, folders in sorted order, hidden and left-out
    folders not entered; a folder reached a second time (a link loop) is skipped."""
    seen_dirs = {root.resolve()}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        kept_dirs = []
        for name in sorted(d for d in dirnames if not d.startswith(".")):
            real = (Path(dirpath) / name).resolve()
            if _inside(str(real), rules.left_out):
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
            if is_media(name) and not _inside(os.path.realpath(path), rules.left_out):
                yield path


def _inside(real: str, folders: frozenset[str]) -> bool:
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


def shown_path(path: Path) -> Path:
    """``path`` as it can be printed and written in UTF-8: bytes that are not UTF-8
    (a Shift-JIS name) shown as ``\\x83``."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return Path(os.fsencode(text).decode("utf-8", "backslashreplace"))
    return path


def _unusable(root: Path, path: Path, rules: ScanRules) -> tuple[str, str] | None:
    """Why ``path`` cannot be processed, and how the report counts it; or None."""
    relative = str(path.relative_to(root))
    bad = [what for ch, what in _UNCARRIABLE.items() if ch in relative]
    if bad:
        return f"name contains {' and '.join(bad)}", "name"
    problem = _not_utf8(relative) or _too_long(path, rules) or _periodic(path, root)
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


def _too_long(path: Path, rules: ScanRules) -> str | None:
    """Why the names autokr would derive from ``path``'s stem are too long for the file
    system of the video's folder or of ``results/``, or None."""
    stem = len(os.fsencode(path.stem))
    suffix = max(rules.suffixes, key=lambda s: len(s.encode()))
    needed = stem + len(suffix.encode()) + _TEMPORARY_ROOM
    limit = min(_name_max(path.parent), _name_max(rules.results or path.parent))
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
