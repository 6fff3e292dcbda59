"""The summary's account of what was published: the end of a run's take-backs, and its
Published section.

The summary (``autokr.reports.summary``) writes ``results/summary.md``; this module
only gives it the section's lines.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from autokr.core.errors import AutokrError, RecordError
from autokr.core.record_files import read_record
from autokr.core.results_layout import (
    MUXED_FOLDER,
    PUBLISH_RECORD,
    PUBLISHED,
    UNPUBLISH_FOLDER,
    job_log,
    result_path,
)
from autokr.publishing.manifest import DAMAGED, Published, read_manifest
from autokr.publishing.outcomes import Outcome, PublishRecord, UnpublishRecord, outcome_line
from autokr.publishing.take_back import ONLY_COPY, unpublish_gone, unpublish_replaced


def published_section(
    results: Path, videos: dict[str, Path], run_started: float, replaced: Sequence[str] = ()
) -> list[str]:
    """At the end of a run (which holds the lock): take back what waits to be taken back
    (``unpublish_gone``, ``unpublish_replaced``), print one line for each, and return
    the summary's Published section: how many files autokr published, and those that
    need a look. No lines when autokr published nothing and nothing needs a look.
    """
    manifest = result_path(PUBLISHED, results)
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
        return []
    return _section_lines(files, manifest, rows)


def _section_lines(files: list[Published], manifest: Path, rows: list[list[str]]) -> list[str]:
    """The Published section: how many files, and those that need a look."""
    beside = sum(1 for e in files if e.kind == "next_to_video")
    muxed = sum(1 for e in files if e.kind == "mux")
    lines = [
        "## Published",
        "",
        f"{beside} subtitle files beside their videos, {muxed} muxed videos in "
        f"{MUXED_FOLDER}/ (autokr's own files are listed in {manifest}).",
        "",
    ]
    if rows:
        lines += ["| file | what happened |", "| --- | --- |"]
        lines += [f"| {path} | {what} |" for path, what in rows] + [""]
    return lines


def _this_runs_removals(results: Path, run_started: float) -> list[Outcome]:
    """What this run's removal jobs did, from their records."""
    outcomes: list[Outcome] = []
    for path in sorted(result_path(UNPUBLISH_FOLDER, results).glob("*.json")):
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
    record = result_path(PUBLISH_RECORD, results, video=video)
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
    publish_log = job_log("publish", [video], results)
    if publish_log.exists() and publish_log.stat().st_mtime >= run_started:
        errors = [
            line
            for line in publish_log.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.startswith("autokr: ")
        ]
        if errors:
            rows.append([video, f"failed: {errors[-1].removeprefix('autokr: ')} ({publish_log})"])
    return rows
