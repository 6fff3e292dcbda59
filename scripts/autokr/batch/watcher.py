"""Watching the videos folder: run the workflow whenever videos arrive and have settled.

``make watch`` runs the workflow once, then waits for changes to video and
audio files under the videos folder (recursively). A file that changed is
run only once it has stopped changing: its size and modification time the
same, and no event for it, for ``settle`` seconds, so a copy in progress is
not taken half-written. Runs are one at a time: what settles during a run
waits for it to end, then everything waiting goes in one more run.

What autokr writes never starts a run: only names with a video or audio
extension count (so subtitles, ``*.part``, ``*.tmp`` and the like never do),
hidden files and folders are left out as the scan leaves them out, and so are
the project's own folders (``discovery.project_folders``, by real path) and
every file a publish manifest under ``results/`` names as published.

A file that keeps changing (a recording in progress) waits on its own: the
files that have settled run, and the run's scan leaves the others out
(``discovery.WAITING_ENV``). A run that fails is tried again for the same
files, after a wait that doubles each time; one refused because another run
holds the folder's lock waits for the lock to go. An error from watchfiles
restarts the watch, and a run then catches up with what it may have missed;
whatever stops the watch, the run it started is stopped and waited for.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import watchfiles
from watchfiles import Change

from autokr.batch.discovery import (
    WAITING_ENV,
    ScanRules,
    is_media,
    project_folders,
    scan_videos,
)
from autokr.batch.run_lock import clear_stale_lock
from autokr.core.errors import AutokrError, ConfigError

#: Filesystems where changes made by another machine raise no event here.
NETWORK_FILESYSTEMS = frozenset(
    "nfs nfs4 cifs smb smb3 smbfs ncpfs afs 9p ceph glusterfs lustre gpfs beegfs "
    "davfs fuse.sshfs fuse.rclone fuse.s3fs fuse.gcsfuse fuse.davfs2 fuse.glusterfs".split()
)
POLLING_ENV = "WATCHFILES_FORCE_POLLING"

Say = Callable[[str], None]


@dataclass(frozen=True)
class WatchOptions:
    """How the folder is watched.

    settle: seconds a changed file must stay unchanged before a run takes it.
    poll: look for changes every ``poll_interval`` seconds instead of waiting
        for file events (a network share, where another machine's writes raise
        none); also on when the folder is on a network filesystem or
        WATCHFILES_FORCE_POLLING is set.
    """

    settle: float = 30.0
    poll: bool = False
    poll_interval: float = 5.0
    retry: float = 60.0


#: Tries again of a run that failed, after waits of retry, 2 x retry, 4 x retry.
RETRIES = 3


class WatchError(AutokrError):
    """The folder cannot be watched any more."""


@dataclass
class Pending:
    """A file that changed, until a run has taken it."""

    path: Path
    label: str  # new, changed or removed
    since: float  # when it was last seen to change
    signature: tuple[int, int] | None = None  # (size, mtime_ns) when last looked at
    settled: bool = False


class Settling:
    """Changed files, each waiting until it has not changed for ``settle`` seconds."""

    def __init__(
        self,
        settle: float,
        clock: Callable[[], float] = time.monotonic,
        stat: Callable[[Path], os.stat_result] = os.stat,
    ) -> None:
        self.settle = settle
        self.clock = clock
        self.stat = stat
        self.pending: dict[Path, Pending] = {}

    def note(self, path: Path, label: str) -> bool:
        """Record a change to ``path``; True when it was not waiting already."""
        known = self.pending.get(path)
        if label == "removed":
            if known is not None and known.label == "new":
                del self.pending[path]  # came and went before any run took it
                return False
            self.pending[path] = Pending(path, "removed", self.clock(), settled=False)
            return known is None
        if known is None or known.label == "removed":
            self.pending[path] = Pending(path, label, self.clock())
            return known is None
        known.since, known.settled = self.clock(), False
        return False

    def check(self) -> list[Pending]:
        """Look at every unsettled file; return those that have just settled."""
        now = self.clock()
        newly = []
        for item in list(self.pending.values()):
            if item.settled:
                continue
            if item.label != "removed":
                signature = self._signature(item)
                if signature is None:
                    continue
                if signature != item.signature:
                    if item.signature is not None:  # the first look only sets the mark
                        item.since = now
                    item.signature = signature
                if now - item.since < self.settle:
                    continue
            item.settled = True
            newly.append(item)
        return newly

    @property
    def ready(self) -> bool:
        """True when a changed file has settled (others may still be changing)."""
        return any(item.settled for item in self.pending.values())

    def take(self) -> list[Pending]:
        """Hand every settled file to a run, in path order; the others go on waiting."""
        taken = sorted(
            (item for item in self.pending.values() if item.settled), key=lambda item: item.path
        )
        for item in taken:
            del self.pending[item.path]
        return taken

    def changing(self) -> list[Path]:
        """The files still changing, in path order: a run now must leave them out."""
        return sorted(
            item.path
            for item in self.pending.values()
            if not item.settled and item.label != "removed"
        )

    def _signature(self, item: Pending) -> tuple[int, int] | None:
        """(size, mtime) of ``item``; None when it is gone (then it is dropped or removed)."""
        try:
            stat = self.stat(item.path)
        except FileNotFoundError:
            if item.label == "new":
                del self.pending[item.path]
                return None
            item.label, item.since = "removed", self.clock()
            return None
        except OSError as exc:  # unreadable: unchanged, so a run reports what is wrong
            return (-1, exc.errno or 0)
        return (stat.st_size, stat.st_mtime_ns)


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
    return not any(real == out or real.startswith(out.rstrip(os.sep) + os.sep) for out in left_out)


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


def filesystem_type(path: Path, mounts: str) -> str:
    """The filesystem type of ``path`` from ``/proc/self/mounts`` text ('' if unknown)."""
    real = os.path.realpath(path)
    best, kind = "", ""
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def polling_reason(folder: Path, forced: bool, environ=os.environ, mounts: str | None = None):
    """Why the folder is polled rather than watched for events, or None.

    ``--poll`` wins; then WATCHFILES_FORCE_POLLING (``false`` turns polling
    off even on a share); then a network filesystem, where another machine's
    writes raise no event here.
    """
    if forced:
        return "--poll"
    setting = environ.get(POLLING_ENV, "")
    if setting:
        return None if setting.lower() in {"false", "disable", "disabled"} else POLLING_ENV
    if mounts is None:
        try:
            mounts = Path("/proc/self/mounts").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    kind = filesystem_type(folder, mounts)
    return f"{kind} network share" if kind in NETWORK_FILESYSTEMS else None


def has_media(folder: Path, left_out: frozenset[str] = frozenset()) -> bool:
    """True when the scan of ``folder`` finds anything to process or report."""
    try:
        scan_videos(folder, ScanRules(left_out=left_out))
    except ConfigError:
        return False
    return True


class WorkflowRun:
    """One Snakemake run at a time, in its own process group.

    Its own group keeps a terminal's Ctrl-C from reaching it directly: the
    watch passes the stop on (SIGINT to the whole group, as Ctrl-C gives a
    plain ``snakemake``) and waits for Snakemake to clean up.
    """

    def __init__(self, command: list[str], workdir: Path, say: Say) -> None:
        self.command = command
        self.workdir = workdir
        self.say = say
        self.process: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, changing: Collection[Path] = ()) -> None:
        """Start Snakemake; its scan leaves out ``changing``, the files still being written."""
        waiting = json.dumps([os.fspath(path) for path in changing])  # ASCII: \\udc83 escapes
        self.process = subprocess.Popen(
            self.command,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, WAITING_ENV: waiting},
        )

    def finished(self) -> int | None:
        """The exit status of a run that has just ended (once), else None."""
        if self.process is None or self.process.poll() is None:
            return None
        status, self.process = self.process.returncode, None
        return status

    def send(self, sig: signal.Signals) -> None:
        """Send ``sig`` to every process of the run."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):  # ended since poll()
                os.killpg(self.process.pid, sig)

    def wait(self) -> int | None:
        """Wait for the run to end; its exit status (None when there was none)."""
        if self.process is None:
            return None
        return self.process.wait()


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
            out
            for out in project_folders(self.project, models_dir)
            if not (real == out or real.startswith(out.rstrip(os.sep) + os.sep))
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
                published = published_files(self.project / "results")
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
                "until something changes (see results/summary.md)"
            )
            return
        wait = self.retry_seconds * 2 ** (self.failures - 1)
        self.retry = Retry(self.taken, self.clock() + wait)
        self.say(
            f"run failed (exit {status}); trying again in {_duration(wait)} for {what} "
            "(see results/summary.md)"
        )

    def _locked(self) -> bool:
        """True, with a line when the reason is new, while another run holds the
        folder's lock (a run now would be refused); a stale lock is cleared."""
        removed, kept = clear_stale_lock(self.project)
        if removed:
            self.say("removed a stale lock left by a run that was killed; going on")
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


def media_under(folder: Path) -> list[Path]:
    """Video and audio files under ``folder``, hidden ones left out, as the scan does."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / name for name in sorted(filenames) if is_media(name)]
    return found


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


@dataclass(frozen=True)
class EventsLost:
    """What file_changes yields after watchfiles failed and was started again: changes
    made since ``since`` (a time.time()) may have raised no event here."""

    since: float


#: The longest pause before watchfiles is started again after errors in a row.
MOST_PAUSE = 30.0


def file_changes(
    folder: Path, shown: str, options: WatchOptions, stop: threading.Event, say: Say
) -> Iterator[set[tuple[Change, str]] | EventsLost]:
    """watchfiles' batches of changes under ``folder``, and an empty one at least every second.

    Polls where events do not arrive (see ``polling_reason``), and falls back
    to polling when the system refuses file events (inotify's watch limit, say).
    Any other error of watchfiles (a name it cannot decode raises RuntimeError)
    yields EventsLost and starts it again after a pause that doubles while the
    errors go on; WatchError once the folder itself is gone.
    """
    reason = polling_reason(folder, options.poll)
    tick_ms = int(min(1000, max(100, options.settle * 250)))
    errors, said, heard = 0, set(), time.time()
    while True:
        how = f" (polling every {options.poll_interval:g} s: {reason})" if reason else ""
        if not errors:
            say(f"watching {shown}/ for new videos{how}")
        try:
            for batch in _watchfiles(folder, options, stop, tick_ms, reason):
                errors, heard = 0, time.time()
                yield batch
            return
        except OSError as exc:
            if reason or not folder.is_dir():
                raise
            say(f"file events are not available here ({exc}); polling instead")
            reason = "no file events"
        except Exception as exc:  # watchfiles' own: RuntimeError and its kin
            if not folder.is_dir():
                raise WatchError(f"{shown}/ is gone (a share unmounted?)") from None
            cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if cause not in said:  # a file that keeps failing says so once
                said.add(cause)
                say(f"watching failed ({cause}); watching again, and running for what it missed")
            errors += 1
            yield EventsLost(heard - 2)
            yield from _pause(min(MOST_PAUSE, 2.0 ** (errors - 1)), stop)


def _watchfiles(folder: Path, options: WatchOptions, stop, tick_ms: int, reason: str | None):
    """watchfiles.watch as the watch uses it."""
    return watchfiles.watch(
        folder,
        watch_filter=None,  # every batch comes back, so waiting files are looked at
        debounce=500,
        rust_timeout=tick_ms,
        yield_on_timeout=True,
        stop_event=stop,
        raise_interrupt=False,
        force_polling=bool(reason),
        poll_delay_ms=int(options.poll_interval * 1000),
        ignore_permission_denied=True,
    )


def _pause(seconds: float, stop: threading.Event) -> Iterator[set]:
    """Wait ``seconds`` (less when stopped), with an empty batch every second meanwhile."""
    end = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < end:
        stop.wait(min(1.0, max(0.0, end - time.monotonic())))
        yield set()


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
