"""Progress you can watch: how far the batch is, and how far each long job is.

Snakemake's logger sees jobs start and finish but not inside them, so a job
reports through a small JSON file, ``results/progress/{rule}/{wildcards}.json``
(``report``: seconds of audio or sentences done of total, rewritten at most
every ``REPORT_EVERY`` seconds). The display (``Board``) is fed Snakemake's
log events by autokr's logger plugin (``logger/``, ``--logger autokr``), reads
those files for the jobs that run, and says in a few lines where the batch is
and how long is left. At the start of a run the Snakefile writes the videos
it has work for to ``results/progress/run.json``.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from autokr.core.record_files import write_text_atomic
from autokr.core.results_layout import PROGRESS, PROGRESS_RUN, progress_file

ROOT = Path(PROGRESS)
RUN_FILE = Path(PROGRESS_RUN)
#: Seconds between two writes of a job's progress file.
REPORT_EVERY = 2.0

_reporter: dict = {}


def start(path: Path) -> None:
    """Make this process report its progress to ``path`` (a step calls it once)."""
    _reporter.update(path=Path(path), started=time.time(), written=0.0)


def report(done: float, total: float, unit: str) -> None:
    """Say how far this step is; a no-op unless ``start`` was called."""
    path = _reporter.get("path")
    now = time.time()
    if path is None or (now - _reporter["written"] < REPORT_EVERY and done < total):
        return
    _reporter["written"] = now
    record = {"done": done, "total": total, "unit": unit, "started": _reporter["started"]}
    _write_json(path, {**record, "updated": now})


def write_run(videos: list[str], path: Path = RUN_FILE) -> None:
    """Record the videos this run has work for (the Snakefile, at the start)."""
    _write_json(path, {"videos": sorted(videos), "started": time.time()})


def _write_json(path: Path, data: dict) -> None:
    with contextlib.suppress(OSError):  # progress is a courtesy: never fail a step over it
        write_text_atomic(path, json.dumps(data))


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass
class Job:
    """A job the display knows of, from Snakemake's log events."""

    rule: str
    wildcards: dict[str, str]
    started: float


@dataclass
class Board:
    """The batch as the logger sees it; ``lines()`` says it in a few lines."""

    root: Path = ROOT
    clock: object = time.time
    jobs: dict[int, Job] = field(default_factory=dict)
    running: set[int] = field(default_factory=set)
    done_videos: set[str] = field(default_factory=set)
    failed_videos: set[str] = field(default_factory=set)
    steps: tuple[int, int] = (0, 0)

    def observe(self, event: str, fields: dict) -> None:
        """Take in one of Snakemake's log events (its ``event`` name and its fields)."""
        if event == "job_info" and "jobid" in fields:
            wildcards = {k: str(v) for k, v in (fields.get("wildcards") or {}).items()}
            self.jobs[fields["jobid"]] = Job(fields.get("rule_name", ""), wildcards, self.clock())
            self.running.add(fields["jobid"])
            # A job that failed a try and is tried again has not failed its video.
            self.failed_videos.discard(wildcards.get("video", ""))
        elif event == "job_finished" and fields.get("job_id") in self.jobs:
            job = self.jobs[fields["job_id"]]
            self.running.discard(fields["job_id"])
            if job.rule == "make_srt":
                self.done_videos.add(job.wildcards.get("video", ""))
        elif event == "job_error" and fields.get("jobid") in self.jobs:
            job = self.jobs[fields["jobid"]]
            self.running.discard(fields["jobid"])
            if "video" in job.wildcards:
                self.failed_videos.add(job.wildcards["video"])
        elif event == "progress":
            self.steps = (int(fields.get("done", 0)), int(fields.get("total", 0)))

    def lines(self) -> list[str]:
        """Where the batch is, then one line per running job."""
        run = _read_json(self.root / RUN_FILE.name)
        return [self._headline(run), *(self._job_line(self.jobs[j]) for j in sorted(self.running))]

    def _headline(self, run: dict | None) -> str:
        videos = len(run["videos"]) if run else 0
        done, failed = len(self.done_videos), len(self.failed_videos)
        parts = [f"{done} of {videos} videos done"]
        if failed:
            parts.append(f"{failed} failed")
        if self.steps[1]:
            parts.append(f"{self.steps[0]} of {self.steps[1]} jobs")
        if run and done and videos > done + failed:
            per_video = (self.clock() - run["started"]) / done
            parts.append(f"about {_duration(per_video * (videos - done - failed))} left")
        return "autokr: " + ", ".join(parts)

    def _job_line(self, job: Job) -> str:
        name = " ".join([job.rule, *job.wildcards.values()])
        path = progress_file(job.rule, list(job.wildcards.values()), self.root)
        state = _read_json(path)
        now = self.clock()
        if not state or state.get("updated", 0) < job.started or not state.get("total"):
            return f"  {name}: running for {_duration(now - job.started)}"
        done, total, unit = state["done"], state["total"], state["unit"]
        amount = (
            f"{_duration(done)} of {_duration(total)} of audio"
            if unit == "s"
            else f"{done:.0f} of {total:.0f} {unit}"
        )
        rate = done / max(state["updated"] - state["started"], 1e-6)
        left = f", about {_duration((total - done) / rate)} left" if done and rate else ""
        return f"  {name}: {amount}{left}"


def _duration(seconds: float) -> str:
    """``1:02:03``, ``4:05`` or ``0:07``."""
    seconds = max(round(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
