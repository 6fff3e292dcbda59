"""Taking published files back, and the summary's account of what was published.

autokr removes a published file only in a run that holds Snakemake's lock
(a job of rule ``unpublish``, or the end of a run), and only while it is byte
for byte what autokr wrote (``publish.remove_own``). It removes:

- the copies beside a video that is gone (its file deleted or moved away);
- the copies beside a video whose file was replaced and whose new file failed
  (they are the old file's subtitles, and a player would show them with it);
- a kind of file, or all, on ``make unpublish KIND=...``: never because a
  run's config leaves a kind out, which may be a one-off.

A muxed copy whose video is gone is never removed, even on ``make unpublish``:
it may be the only copy of the video left. It is named in every summary.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autokr.core.errors import AutokrError, RecordError
from autokr.core.records import VERSION, read_record, write_text_atomic
from autokr.publishing.copies import (
    DAMAGED,
    MANIFEST,
    Outcome,
    Published,
    PublishRecord,
    manifest_files,
    read_manifest,
    take_back,
)

#: Where each removal job writes what it did: ``{run}.{what}.json``.
RECORDS = Path("results") / "unpublish"
#: Why a muxed copy whose video is gone stays.
ONLY_COPY = "it may be the only copy of the video left, so autokr never removes it"


@dataclass(frozen=True)
class UnpublishRecord:
    """What a job of rule ``unpublish`` did: ``results/unpublish/{run}.{what}.json``.

    ``what`` is ``gone`` (copies of videos that are gone) or the kind taken
    back (``next_to_video``, ``mux``, ``all``).
    """

    what: str
    files: tuple[Outcome, ...]
    version: int = VERSION


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
    (results / "videos" / video / "publish.json").unlink(missing_ok=True)


def outcome_line(outcome: Outcome) -> str:
    """One line for the user: ``autokr: FILE: ACTION (REASON)``."""
    return f"autokr: {outcome.path}: {outcome.action}" + (
        f" ({outcome.reason})" if outcome.reason else ""
    )


def report_publishing(
    results: Path,
    summary: str,
    videos: dict[str, Path],
    run_started: float,
    replaced: Sequence[str] = (),
) -> str:
    """At the end of a run (which holds the lock): take back what waits to be taken back
    (``unpublish_gone``, ``unpublish_replaced``), print one line for each, and add
    what needs a look to the summary.

    Returns the summary's text, with a Published section when autokr published
    anything; ``results/summary.md`` is written again with it.
    """
    manifest = results / MANIFEST.name
    earlier = _this_runs_removals(results, run_started)
    rows = [[o.path, f"{o.action}: {o.reason}"] for o in earlier if o.action != "gone"]
    try:
        now = unpublish_gone(results, manifest) + unpublish_replaced(
            results, list(replaced), manifest
        )
        files = list(read_manifest(manifest).files.values())
    except AutokrError as exc:
        print(f"autokr: {exc}; {DAMAGED}", file=sys.stderr)
        now, files = [], []
        rows.append([str(manifest), str(exc).removeprefix(f"{manifest}: ")])
    shown = {o.path for o in earlier}
    for outcome in (o for o in now if o.action != "gone" and o.path not in shown):
        if ONLY_COPY not in outcome.reason:  # said in the summary, every run
            print(outcome_line(outcome), file=sys.stderr)
        rows.append([outcome.path, f"{outcome.action}: {outcome.reason}"])
    for video in videos:
        rows += _attention(results, video, run_started)
    if not rows and not manifest.exists():
        return summary
    text = summary.rstrip("\n") + "\n\n" + "\n".join(_published_section(files, manifest, rows))
    write_text_atomic(results / "summary.md", text)
    return text


def _published_section(files: list[Published], manifest: Path, rows: list[list[str]]) -> list[str]:
    """The summary's Published section: how many files, and those that need a look."""
    beside = sum(1 for e in files if e.kind == "next_to_video")
    muxed = sum(1 for e in files if e.kind == "mux")
    lines = [
        "## Published",
        "",
        f"{beside} subtitle files beside their videos, {muxed} muxed videos in "
        f"results/muxed/ (autokr's own files are listed in {manifest}).",
        "",
    ]
    if rows:
        lines += ["| file | what happened |", "| --- | --- |"]
        lines += [f"| {path} | {what} |" for path, what in rows] + [""]
    return lines


def _this_runs_removals(results: Path, run_started: float) -> list[Outcome]:
    """What this run's removal jobs did, from their records."""
    outcomes: list[Outcome] = []
    for path in sorted((results / RECORDS.name).glob("*.json")):
        try:
            if path.stat().st_mtime >= run_started:
                outcomes += read_record(UnpublishRecord, path).files
        except (OSError, RecordError):
            continue
    return outcomes


def _attention(results: Path, video: str, run_started: float) -> list[list[str]]:
    """A video's published files that need a look: those left alone, kept or removed
    by its publish job, and a publish job that failed in this run."""
    rows = []
    record = results / "videos" / video / "publish.json"
    try:
        outcomes = read_record(PublishRecord, record).files if record.exists() else ()
        # What stays needs a look every run; a removal, in the run that made it.
        this_run = outcomes and record.stat().st_mtime >= run_started
    except (OSError, RecordError):
        outcomes, this_run = (), False
    for o in outcomes:
        if o.action in ("left alone", "kept", "not removed") or (
            o.action == "removed" and this_run
        ):
            rows.append([o.path, f"{o.action}: {o.reason}"])
    job_log = results / "logs" / "publish" / f"{video}.log"
    if job_log.exists() and job_log.stat().st_mtime >= run_started:
        errors = [
            line
            for line in job_log.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.startswith("autokr: ")
        ]
        if errors:
            rows.append([video, f"failed: {errors[-1].removeprefix('autokr: ')} ({job_log})"])
    return rows
