"""Taking published files back.

autokr removes a published file only in a run that holds Snakemake's lock
(a job of rule ``unpublish``, or the end of a run), and only while it is byte
for byte what autokr wrote (``remove_own``). It removes:

- the copies beside a video that is gone (its file deleted or moved away);
- the copies beside a video whose file was replaced and whose new file failed
  (they are the old file's subtitles, and a player would show them with it);
- a kind of file, or all, on ``make unpublish KIND=...``: never because a
  run's config leaves a kind out, which may be a one-off.

A video's publish job takes back only its own copies in a language it no
longer publishes (``beside_video``).

A muxed copy whose video is gone is never removed, even on ``make unpublish``:
it may be the only copy of the video left. It is named in every summary.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from autokr.core.errors import RecordError
from autokr.core.results_layout import PUBLISH_RECORD, result_path
from autokr.publishing.manifest import MANIFEST, Published, manifest_files, read_manifest
from autokr.publishing.outcomes import Outcome
from autokr.publishing.own_files import unchanged_since_written

log = logging.getLogger("autokr.publish")

#: Why a muxed copy whose video is gone stays.
ONLY_COPY = "it may be the only copy of the video left, so autokr never removes it"


def remove_own(path: str, entry: Published, why: str) -> Outcome:
    """Remove a file autokr published if it is still byte for byte what autokr wrote.

    Outcomes: ``removed``; ``gone`` (nothing there); ``kept`` (changed since:
    it is the user's now); ``not removed`` (it cannot be read or removed: a
    read-only folder, say; still autokr's, for a later run).
    """
    file = Path(path)
    if not file.exists() and not file.is_symlink():
        return Outcome(path, "gone", why)
    try:
        ours = unchanged_since_written(file, entry)
        if ours:
            file.unlink()
    except OSError as exc:
        reason = f"cannot remove it: {exc.strerror}; {why}"
        log.warning("%s: not removed (%s)", path, reason)
        return Outcome(path, "not removed", reason)
    if not ours:
        reason = f"changed since autokr wrote it, so it is yours; {why}"
        log.warning("%s: kept (%s)", path, reason)
        return Outcome(path, "kept", reason)
    log.info("%s: removed (%s)", path, why)
    return Outcome(path, "removed", why)


def take_back(path: str, files: dict[str, Published], why: str) -> Outcome:
    """``remove_own`` for a file of the manifest ``files``, which forgets it unless it
    could not be removed (it is still autokr's then, and a later run tries again)."""
    outcome = remove_own(path, files[path], why)
    if outcome.action != "not removed":
        del files[path]
    return outcome


def video_gone(entry: Published) -> bool:
    """True when the video a file was published from is no longer there.

    A folder that cannot be read (permissions, a stale network mount) proves
    nothing: the video counts as there, and its copies are kept.
    """
    try:
        os.stat(entry.input)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def pending_gone(manifest: str | os.PathLike = MANIFEST) -> bool:
    """True when copies beside videos that are gone wait to be taken back.

    Only reads: an input function asks it whether a run needs the removal job.
    A damaged manifest waits on the user (the end of the run says so).
    """
    try:
        files = read_manifest(manifest).files
    except RecordError:
        return False
    return any(_copy_of_gone(path, entry) for path, entry in files.items())


def _copy_of_gone(path: str, entry: Published) -> bool:
    """A copy beside a video that is gone, still there, in a folder that is there (not
    on a drive that is not mounted)."""
    here = Path(path)
    try:
        return (
            entry.kind == "next_to_video"
            and video_gone(entry)
            and here.parent.is_dir()
            and (here.exists() or here.is_symlink())
        )
    except OSError:  # an unreadable folder: nothing is known, nothing is taken back
        return False


def unpublish_gone(results: Path, manifest: str | os.PathLike = MANIFEST) -> list[Outcome]:
    """Take back the copies beside videos that are gone; name their muxed copies, kept.

    Entries whose file someone removed are forgotten, unless its folder is
    missing too (a drive not mounted: the copy may well come back with it).
    """
    if not Path(manifest).exists():  # nothing published: no lock file either
        return []
    outcomes = []
    with manifest_files(manifest) as files:
        for path, entry in list(files.items()):
            if not video_gone(entry):
                continue
            why = f"its video {entry.input} is gone"
            here = Path(path)
            if not here.parent.is_dir():
                continue
            if not here.exists() and not here.is_symlink():
                del files[path]
            elif entry.kind == "mux":
                outcomes.append(Outcome(path, "kept", f"{why}; {ONLY_COPY}"))
            else:
                outcomes.append(take_back(path, files, why))
                _forget_record(results, entry.video)
    return outcomes


def unpublish_replaced(
    results: Path, videos: list[str], manifest: str | os.PathLike = MANIFEST
) -> list[Outcome]:
    """Take back the copies beside ``videos``: those whose file was replaced and whose
    new file failed, so that their subtitles were removed. Their muxed copies hold
    the old file and its subtitles, in step: kept, until the new file is muxed."""
    why = "its video's file was replaced and the new one failed: they were the old file's"
    if not Path(manifest).exists():  # nothing published: no lock file either
        return []
    outcomes = []
    with manifest_files(manifest) as files:
        for path, entry in list(files.items()):
            if entry.video in videos and entry.kind == "next_to_video":
                outcomes.append(take_back(path, files, why))
                _forget_record(results, entry.video)
    return outcomes


def unpublish_kinds(
    results: Path, kinds: list[str], why: str, manifest: str | os.PathLike = MANIFEST
) -> list[Outcome]:
    """Take back every file of ``kinds`` that is still what autokr wrote (``make
    unpublish``); muxed copies whose video is gone stay. The videos' publish records
    go too, so a run that publishes the kind again makes their files again."""
    if not Path(manifest).exists():  # nothing published: no lock file either
        return []
    outcomes = []
    with manifest_files(manifest) as files:
        for path, entry in list(files.items()):
            if entry.kind not in kinds:
                continue
            if entry.kind == "mux" and video_gone(entry) and Path(path).exists():
                gone = f"its video {entry.input} is gone; {ONLY_COPY}"
                outcomes.append(Outcome(path, "kept", gone))
                continue
            outcomes.append(take_back(path, files, why))
            _forget_record(results, entry.video)
    return outcomes


def _forget_record(results: Path, video: str) -> None:
    """Remove a video's publish record (autokr's own, under results/), so that the
    next run that publishes its kinds runs its publish job again."""
    result_path(PUBLISH_RECORD, results, video=video).unlink(missing_ok=True)
