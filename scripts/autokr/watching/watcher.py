"""Watching the videos folder: run the workflow whenever videos arrive and have settled.

``make watch`` runs the workflow once, then waits for changes to video and
audio files under the videos folder (recursively; ``file_events``). A file
that changed is run only once it has stopped changing (``settling``), so a
copy in progress is not taken half-written. Runs are one at a time: what
settles during a run waits for it to end, then everything waiting goes in one
more run.

What autokr writes never starts a run (``watched_files`` says what the watch
looks at). A file that keeps changing (a recording in progress) waits on its
own: the files that have settled run, and the run's scan leaves the others
out (``discovery.WAITING_ENV``). A run that fails is tried again for the same
files, after a wait that doubles each time; one refused because another run
holds the folder's lock waits for the lock to go. An error from watchfiles
restarts the watch, and a run then catches up with what it may have missed;
whatever stops the watch, the run it started (``launch.WorkflowRun``) is
stopped and waited for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import yaml
from watchfiles import Change

from autokr.batch.discovery import is_inside, project_folders
from autokr.batch.launch import Say, WorkflowRun, free_lock, snakemake_command
from autokr.batch.run_config import configured
from autokr.batch.video_names import is_media
from autokr.core.errors import ConfigError
from autokr.core.results_layout import RESULTS, SUMMARY
from autokr.watching.file_events import EventsLost, WatchError, WatchOptions, file_changes
from autokr.watching.settling import Pending, Settling
from autokr.watching.watched_files import has_media, in_scope, media_under, published_files

#: Tries again of a run that failed, after waits of retry, 2 x retry, 4 x retry.
RETRIES = 3


@dataclass
class Retry:
    """A run that failed, to be tried again for the same files once ``due``."""

    items: list[Pending]
    due: float


class FolderWatch:
    """The videos folder, its waiting changes and the run they start."""

    def __init__(
        self,
        folder: Path,
        shown: str,
        project: Path,
        run: WorkflowRun,
        settle: float,
        say: Say,
        *,
        models_dir: str | None = None,
        retry: float = WatchOptions.retry,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folder = Path(os.path.abspath(folder))
        self.shown = shown.rstrip("/") or shown
        self.project = Path(os.path.abspath(project))
        real = os.path.realpath(self.folder)
        self.left_out = frozenset(
            out for out in project_folders(self.project, models_dir) if not is_inside(real, (out,))
        )
        self.settling = Settling(settle, clock=clock)
        self.run, self.say, self.clock = run, say, clock
        self.retry_seconds = retry
        self.started = False
        self.taken: list[Pending] = []  # what the run going now is for
        self.retry: Retry | None = None
        self.failures = 0  # runs failed in a row
        self.blocked = ""  # why no run could start (a lock), as last said

    def show(self, path: Path) -> str:
        """``path`` as the user names it: the configured folder, then the path inside."""
        return f"{self.shown}/{path.relative_to(self.folder).as_posix()}"

    def first_run(self) -> None:
        """Run once for what the folder holds now (nothing to run in an empty one)."""
        self.started = True
        if has_media(self.folder, self.left_out):
            self.say(f"running once for what {self.shown}/ holds now")
            if self._locked():
                self.retry = Retry([], self.clock())  # started once the lock is gone
            else:
                self._start([])
        else:
            self.say(f"no videos in {self.shown}/ yet")

    def note(self, changes: Collection[tuple[object, str]]) -> None:
        """Take in a batch of file events (watchfiles' (change, path) pairs)."""
        kinds: dict[Path, set[object]] = {}
        for change, raw in changes:
            kinds.setdefault(Path(raw), set()).add(change)
        published: set[str] | None = None
        for path, changed in sorted(kinds.items()):
            if not in_scope(path, self.folder, self.left_out):
                continue
            if path.is_dir():  # moved or copied in whole: its files raised no event of their own
                for found in media_under(path):
                    self._note_file(found, "new")
                continue
            if not is_media(path.name):
                continue
            if published is None:
                published = published_files(self.project / RESULTS)
            if os.path.realpath(path) in published:
                continue
            if not path.exists():
                self._note_file(path, "removed")
            else:
                self._note_file(path, "new" if Change.added in changed else "changed")

    def catch_up(self, since: float) -> None:
        """After events may have been lost: run once for what the folder holds, when
        nothing has been lost for the settle time; files changed since ``since`` (a
        time.time()) wait until they settle."""
        for path in media_under(self.folder):
            with contextlib.suppress(OSError):
                if in_scope(path, self.folder, self.left_out) and path.stat().st_mtime >= since:
                    self.settling.note(path, "changed")
        due = self.clock() + self.settling.settle
        if self.retry is not None:
            self.retry = Retry(self.retry.items, max(self.retry.due, due))
        else:
            self.retry = Retry([], due)

    def _note_file(self, path: Path, label: str) -> None:
        known = self.settling.pending.get(path)
        if label != "removed" and known is not None and known.label != "removed":
            label = known.label  # a copy in progress stays new however often it is written
        if self.settling.note(path, label) and label != "removed":
            self.say(f"{label}: {self.show(path)}; waiting until it stops changing")

    def step(self) -> None:
        """Notice a run's end, look at waiting files, start the next run when due."""
        status = self.run.finished()
        if status is not None:
            self._ended(status)
        newly = self.settling.check()
        if self.run.running:
            for item in newly:
                self.say(f"{item.label}: {self.show(item.path)}; running after the current run")
            return
        due = self.retry is not None and self.clock() >= self.retry.due
        if (due or self.settling.ready) and not self._locked():
            self._start(self.settling.take())

    def _start(self, items: list[Pending]) -> None:
        """Start a run for ``items`` (and a failed run's), leaving out files still changing."""
        again = self.retry is not None
        if self.retry is not None:
            earlier = {item.path: item for item in self.retry.items}
            items = sorted({**earlier, **{i.path: i for i in items}}.values(), key=lambda i: i.path)
            self.retry = None
        changing = self.settling.changing()
        if items or again:
            line = describe(items, self.show) or f"what {self.shown}/ holds"
            waits = f" ({describe_paths(changing, self.show)} still changing: waits)"
            self.say(f"{line}; running{waits if changing else ''}")
        self.taken = items
        try:
            self.run.start(changing)
        except OSError as exc:  # Snakemake missing or not runnable: a failed run
            self.say(f"cannot start the run ({exc.strerror or exc})")
            self._ended(127)

    def _ended(self, status: int) -> None:
        """A run ended: watch on, or try it again later when it failed."""
        if status == 0:
            self.failures = 0
            self.say(f"run finished; watching {self.shown}/")
            return
        self.failures += 1
        what = describe(self.taken, self.show) or f"what {self.shown}/ holds"
        if self.failures > RETRIES:
            self.failures = 0
            self.say(
                f"run failed (exit {status}), {RETRIES + 1} times in a row; giving up on {what} "
                f"until something changes (see {SUMMARY})"
            )
            return
        wait = self.retry_seconds * 2 ** (self.failures - 1)
        self.retry = Retry(self.taken, self.clock() + wait)
        self.say(
            f"run failed (exit {status}); trying again in {_duration(wait)} for {what} "
            f"(see {SUMMARY})"
        )

    def _locked(self) -> bool:
        """True, with a line when the reason is new, while another run holds the
        folder's lock (a run now would be refused); a stale lock is cleared."""
        kept = free_lock(self.project, self.say)
        if kept and kept != self.blocked:
            self.say(
                f"not running yet: the folder is locked ({kept}); running once it is free "
                "(if no run is going, clear it with '.venv/bin/snakemake --unlock')"
            )
        self.blocked = kept
        return bool(kept)

    def stop(self, forced: threading.Event) -> str:
        """Stop a run in progress cleanly (SIGINT to all of it, then wait); what became of it."""
        if not self.run.running:
            return ""
        self.run.send(signal.SIGINT)
        self.run.wait()
        if forced.is_set():
            return "the run was killed (the next run redoes what it cut off)"
        return "the run in progress was interrupted (the next run finishes it)"


def _duration(seconds: float) -> str:
    """``45 s``, ``2 min``, ``1 h 4 min``: a wait as a person says it."""
    if seconds < 60:
        return f"{seconds:g} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def describe(items: list[Pending], show: Callable[[Path], str], most: int = 3) -> str:
    """One line for what a run is for: ``new: videos/a.mkv, videos/b.mkv; removed: ...``."""
    parts = []
    for label in ("new", "changed", "removed"):
        names = describe_paths([item.path for item in items if item.label == label], show, most)
        if names:
            parts.append(f"{label}: {names}")
    return "; ".join(parts)


def describe_paths(paths: list[Path], show: Callable[[Path], str], most: int = 3) -> str:
    """``videos/a.mkv, videos/b.mkv and 2 more``: a few names, and how many others."""
    names = [show(path) for path in paths]
    if len(names) > most:
        names = [*names[: most - 1], f"{names[most - 1]} and {len(names) - most} more"]
    return ", ".join(names)


def stop_on_signals(stop: threading.Event, forced: threading.Event, run: WorkflowRun) -> None:
    """Ctrl-C, SIGTERM and SIGHUP stop the watch; a second one kills a run still going."""

    def on_signal(signum, frame) -> None:
        if stop.is_set():
            forced.set()
            run.send(signal.SIGKILL)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:  # under nohup, a hang-up stays ignored
            signal.signal(sig, on_signal)


def say_on_stderr(message: str) -> None:
    """One line for the user, on stderr as `make run` says its own."""
    print(f"autokr: watch: {message}", file=sys.stderr, flush=True)


def watch_folder(
    folder: Path,
    shown: str,
    project: Path,
    command: list[str],
    options: WatchOptions,
    say: Say = say_on_stderr,
    models_dir: str | None = None,
) -> int:
    """Run ``command`` once, then again whenever videos under ``folder`` arrive and settle.

    Returns 0 on a clean stop (Ctrl-C, SIGTERM); 1 when a second signal had to
    kill a run, or the folder went away or could no longer be watched.
    However the watch ends (a bug's exception too), the run it started is
    stopped and waited for.
    """
    stop, forced = threading.Event(), threading.Event()
    run = WorkflowRun(command, project, say)
    stop_on_signals(stop, forced, run)
    watch = FolderWatch(
        folder, shown, project, run, options.settle, say, models_dir=models_dir, retry=options.retry
    )
    failure = ""
    try:
        failure = _watch(watch, options, stop, say)
    except OSError as exc:
        failure = f"{watch.shown}/: cannot watch it ({exc})"
    except WatchError as exc:
        failure = str(exc)
    finally:
        what = watch.stop(forced)
        say("; ".join(part for part in (failure, "stopped", what) if part))
    return 1 if failure or forced.is_set() else 0


def _watch(watch: FolderWatch, options: WatchOptions, stop: threading.Event, say: Say) -> str:
    """Watch until stopped; why the watch cannot go on ('' on a stop)."""
    for changes in file_changes(watch.folder, watch.shown, options, stop, say):
        if not watch.started:  # the watcher is live: nothing added from now on is missed
            watch.first_run()
        if isinstance(changes, EventsLost):
            watch.catch_up(changes.since)
        else:
            watch.note(changes)
        if not watch.folder.is_dir():
            return f"{watch.shown}/ is gone (a share unmounted?)"
        if stop.is_set():
            return ""
        watch.step()
    return ""


def watch_videos(args: list[str], options: WatchOptions, project: Path) -> int:
    """What `make watch` does: watch the videos folder the config names (as Snakemake reads
    it from ``args``) and run Snakemake with ``args`` in ``project`` as videos settle.

    Returns 1, with one line, when the config cannot be read or the folder is
    missing; else as ``watch_folder``.
    """
    try:
        settings = configured(args)
    except ConfigError as exc:
        say_on_stderr(f"config: {exc}")
        return 1
    except yaml.YAMLError as exc:
        say_on_stderr(f"config: {' '.join(str(exc).split())}")
        return 1
    except OSError as exc:
        say_on_stderr(f"config: {exc.filename}: {exc.strerror}")
        return 1
    videos = settings["videos"]
    folder = Path(videos)
    if not folder.is_dir():
        say_on_stderr(
            f"{videos}: videos folder not found (create it, or set 'videos' in the config)"
        )
        return 1
    command = snakemake_command(args)
    return watch_folder(
        folder, videos, project, command, options, models_dir=settings["models_dir"]
    )
