"""A run's start and its end: what the Snakefile's onstart, onsuccess and onerror do,
one call each, every action logged to ``results/logs/run/<started>.log``.

The start holds the project for this run (a second autokr run in the folder is
refused), stops a cluster run capped to one model job, tells the progress
display which videos have work, and records what ``model: auto`` chose. The
end, for a run that needed its videos: the summary (which takes back what a
failed replacement and a gone video leave behind, and what was published for
them), then the report's page and plots.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autokr.batch import progress
from autokr.batch.run_lock import record_owner
from autokr.batch.run_plan import RunPlan
from autokr.core.results_layout import REPORT_FOLDER, RESULTS_DIR, RUN_LOGS, SUMMARY
from autokr.models.choice import Resolved
from autokr.reports.html_report import write_report_files
from autokr.reports.summary import write_summary

log = logging.getLogger("autokr.run")

ANOTHER_RUN = (
    "autokr: another autokr run is working in this folder (make run, make watch or "
    "make unpublish); run again once it has finished"
)


def start_run(
    project: Path,
    plan: RunPlan,
    videos_with_work: Sequence[str],
    choices: Resolved,
    cluster_caps: Sequence[str] = (),
    server_problem: Callable[[], str | None] = lambda: None,
) -> None:
    """The run's start (onstart): Snakemake holds its lock and has planned its jobs.

    ``cluster_caps`` are the one-machine resources (gpu, model_jobs) a run on a
    cluster was given: they would cap the whole cluster to one model job at a
    time. ``server_problem`` checks translate's server (backend openai): one line
    when it cannot be used. Exits with one line when the run may not go on.
    """
    if not record_owner(project):
        sys.exit(ANOTHER_RUN)
    _log_to(plan.started)
    log.info("start: %s holds the project", project)
    if cluster_caps:
        sys.exit(
            f"autokr: --resources {' '.join(cluster_caps)} would cap the whole cluster to "
            "one model job at a time; add --workflow-profile none (profiles/default "
            "sets them for one machine; see docs/cluster.md)"
        )
    problem = server_problem()
    if problem:
        sys.exit(f"autokr: {problem}")
    progress.write_run(sorted(videos_with_work))
    log.info("start: %d videos have work: %s", len(videos_with_work), ", ".join(videos_with_work))
    choices.record()
    for line in choices.lines:
        log.info("start: %s", line.removeprefix("autokr: "))


def end_run(
    plan: RunPlan,
    config: dict[str, Any],
    source_label: str,
    subtitles: Callable[[str], list[Path]],
) -> None:
    """The run's end (onsuccess and onerror alike): the summary, printed, and the report.

    Nothing for a run that never needed its videos (``make models``, say).
    ``subtitles`` gives a video's subtitle files.
    """
    if not plan.scanned:
        return
    _log_to(plan.started)
    found = plan.scan()
    results = RESULTS_DIR
    text = write_summary(
        results, found.videos, plan.targets, found.skipped, plan.started, subtitles=subtitles
    )
    log.info("end: wrote %s", SUMMARY)
    print(text, file=sys.stderr)
    problems = write_report_files(
        results, found.videos, config, source_label, plan.targets, plan.started
    )
    for line in problems:
        log.info("end: %s", line.removeprefix("autokr: "))
        print(line, file=sys.stderr)
    log.info("end: wrote the report's page and plots under %s", REPORT_FOLDER)


#: Run logs kept in results/logs/run/: the newest, one a run.
KEEP_RUN_LOGS = 30


def _log_to(started: float) -> None:
    """Log what autokr's code does in Snakemake's own process (this module's lines, and
    the summary's and publishing's) to ``results/logs/run/<started>.log``; warnings
    still reach the terminal as before, as their bare message. The oldest run logs
    go, past KEEP_RUN_LOGS; a log that cannot be written is done without."""
    root = logging.getLogger("autokr")
    if root.handlers:
        return
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    folder = Path(RUN_LOGS)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(folder / f"{stamp}.log", encoding="utf-8")
        for old in sorted(folder.glob("*.log"))[:-KEEP_RUN_LOGS]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        print(f"autokr: {folder}: no run log ({exc.strerror})", file=sys.stderr)
        return
    to_file.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    to_terminal = logging.StreamHandler(sys.stderr)
    to_terminal.setLevel(logging.WARNING)
    root.addHandler(to_file)
    root.addHandler(to_terminal)
    root.setLevel(logging.INFO)
