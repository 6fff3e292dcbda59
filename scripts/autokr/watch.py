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
the project's ``results/`` and ``.snakemake/`` and every file named in a
publish manifest under ``results/``.
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

from autokr.discovery import is_media, scan_videos
from autokr.errors import ConfigError
from autokr.run_lock import clear_stale_lock

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
        """True when something changed and everything that changed has settled."""
        return bool(self.pending) and all(item.settled for item in self.pending.values())

    def take(self) -> list[Pending]:
        """Hand every waiting file to a run, in path order."""
        taken = sorted(self.pending.values(), key=lambda item: item.path)
        self.pending.clear()
        return taken

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


def in_scope(path: Path, folder: Path, left_out: Collection[Path] = ()) -> bool:
    """True for a path under ``folder`` that the scan would look at.

    Hidden files and folders are out, as are ``left_out`` folders (the
    project's ``results/`` and ``.snakemake/`` when the videos folder holds them).
    """
    try:
        relative = path.relative_to(folder)
    except ValueError:
        return False
    if any(part.startswith(".") for part in relative.parts):
        return False
    return not any(path == out or out in path.parents for out in left_out)


def published_files(results: Path) -> set[Path]:
    """Every path named in a publish manifest under ``results`` (absolute).

    A manifest is any JSON file with ``publish`` in its name; every string in
    it that names a path counts, so its exact shape does not matter here.
    Relative paths are taken from the project folder (``results``' parent).
    """
    found: set[Path] = set()
    if not results.is_dir():
        return found
    for manifest in results.rglob("*publish*.json"):
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # being written, or not ours: the next change reads it again
        found |= {Path(os.path.abspath(results.parent / text)) for text in _strings(data)}
    return found


def _strings(data: object) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield key
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)


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


def has_media(folder: Path) -> bool:
    """True when the scan of ``folder`` finds anything to process or report."""
    try:
        scan_videos(folder)
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

    def start(self) -> None:
        """Clear a provably stale lock (as ``make run`` does) and start Snakemake."""
        removed, kept = clear_stale_lock(self.workdir)
        if removed:
            self.say("removed a stale lock left by a run that was killed; going on")
        elif kept:
            self.say(
                f"the folder is locked ({kept}); if no run is going, clear it with "
                "'.venv/bin/snakemake --unlock'"
            )
        self.process = subprocess.Popen(
            self.command, cwd=self.workdir, stdin=subprocess.DEVNULL, start_new_session=True
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


class FolderWatch:
    """The videos folder, its waiting changes and the run they start."""

    def __init__(
        self, folder: Path, shown: str, project: Path, run: WorkflowRun, settle: float, say: Say
    ) -> None:
        self.folder = Path(os.path.abspath(folder))
        self.shown = shown.rstrip("/") or shown
        self.project = Path(os.path.abspath(project))
        self.left_out = (self.project / "results", self.project / ".snakemake")
        self.settling = Settling(settle)
        self.run = run
        self.say = say
        self.started = False

    def show(self, path: Path) -> str:
        """``path`` as the user names it: the configured folder, then the path inside."""
        return f"{self.shown}/{path.relative_to(self.folder).as_posix()}"

    def first_run(self) -> None:
        """Run once for what the folder holds now (nothing to run in an empty one)."""
        self.started = True
        if has_media(self.folder):
            self.say(f"running once for what {self.shown}/ holds now")
            self.run.start()
        else:
            self.say(f"no videos in {self.shown}/ yet")

    def note(self, changes: Collection[tuple[object, str]]) -> None:
        """Take in a batch of file events (watchfiles' (change, path) pairs)."""
        kinds: dict[Path, set[object]] = {}
        for change, raw in changes:
            kinds.setdefault(Path(raw), set()).add(change)
        published: set[Path] | None = None
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
            if path in published:
                continue
            if not path.exists():
                self._note_file(path, "removed")
            else:
                self._note_file(path, "new" if Change.added in changed else "changed")

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
            outcome = "finished" if status == 0 else f"failed (exit {status})"
            self.say(f"run {outcome}; watching {self.shown}/")
        newly = self.settling.check()
        if self.run.running:
            for item in newly:
                self.say(f"{item.label}: {self.show(item.path)}; running after the current run")
        elif self.settling.ready:
            self.say(f"{describe(self.settling.take(), self.show)}; running")
            self.run.start()

    def stop(self, forced: threading.Event) -> str:
        """Stop a run in progress cleanly (SIGINT to all of it, then wait); what became of it."""
        if not self.run.running:
            return ""
        self.run.send(signal.SIGINT)
        self.run.wait()
        if forced.is_set():
            return "the run was killed (the next run redoes what it cut off)"
        return "the run in progress was interrupted (the next run finishes it)"


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
        names = [show(item.path) for item in items if item.label == label]
        if len(names) > most:
            names = [*names[: most - 1], f"{names[most - 1]} and {len(names) - most} more"]
        if names:
            parts.append(f"{label}: {', '.join(names)}")
    return "; ".join(parts)


def file_changes(
    folder: Path, shown: str, options: WatchOptions, stop: threading.Event, say: Say
) -> Iterator[set[tuple[Change, str]]]:
    """watchfiles' batches of changes under ``folder``, and an empty one at least every second.

    Polls where events do not arrive (see ``polling_reason``), and falls back
    to polling when the system refuses file events (inotify's watch limit, say).
    """
    reason = polling_reason(folder, options.poll)
    tick_ms = int(min(1000, max(100, options.settle * 250)))
    while True:
        how = f" (polling every {options.poll_interval:g} s: {reason})" if reason else ""
        say(f"watching {shown}/ for new videos{how}")
        try:
            yield from watchfiles.watch(
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
            return
        except OSError as exc:
            if reason or not folder.is_dir():
                raise
            say(f"file events are not available here ({exc}); polling instead")
            reason = "no file events"


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
) -> int:
    """Run ``command`` once, then again whenever videos under ``folder`` arrive and settle.

    Returns 0 on a clean stop (Ctrl-C, SIGTERM); 1 when a second signal had to
    kill a run, or the folder went away.
    """
    stop, forced = threading.Event(), threading.Event()
    run = WorkflowRun(command, project, say)
    stop_on_signals(stop, forced, run)
    watch = FolderWatch(folder, shown, project, run, options.settle, say)
    failure = ""
    try:
        for changes in file_changes(watch.folder, watch.shown, options, stop, say):
            if not watch.started:  # the watcher is live: nothing added from now on is missed
                watch.first_run()
            watch.note(changes)
            if not watch.folder.is_dir():
                failure = f"{watch.shown}/ is gone (a share unmounted?)"
                break
            if stop.is_set():
                break
            watch.step()
    except OSError as exc:
        failure = f"{watch.shown}/: cannot watch it ({exc})"
    what = watch.stop(forced)
    say("; ".join(part for part in (failure, "stopped", what) if part))
    return 1 if failure or forced.is_set() else 0
