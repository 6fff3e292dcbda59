"""Launching Snakemake: the project's own, once a lock left by a killed run is cleared.

``make run`` runs it in the foreground (``run_once``); the watch starts it in
the background, one run at a time (``WorkflowRun``). Both clear a stale lock
the same way first (``free_lock``; ``run_lock`` says when a lock is provably
stale), and both let Snakemake clean up when Ctrl-C stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Collection
from pathlib import Path

from autokr.batch.discovery import WAITING_ENV
from autokr.batch.run_config import EXAMPLE, config_file_problem, wants_example, with_config
from autokr.batch.run_lock import clear_stale_lock
from autokr.core.results_layout import SUBTITLES_FOLDER

Say = Callable[[str], None]


def snakemake_command(args: list[str]) -> list[str]:
    """The command that runs the project's Snakemake (the one beside this Python) with ``args``."""
    return [str(Path(sys.executable).parent / "snakemake"), *args]


def free_lock(workdir: Path, say: Say) -> str:
    """Clear ``workdir``'s lock when it is provably stale, saying so; why it is kept, else ''."""
    removed, kept = clear_stale_lock(workdir)
    if removed:
        say("removed a stale lock left by a run that was killed; going on")
    return kept


def run_snakemake(command: list[str]) -> int:
    """Run Snakemake and wait for it, however it ends.

    Ctrl-C reaches Snakemake as well as this process: Snakemake stops its jobs
    and releases its lock, so this one ignores SIGINT while it waits rather
    than kill it mid-cleanup (as ``subprocess.call`` would, 0.25 s later).
    """
    proc = subprocess.Popen(command)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return proc.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


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
        """True while the run's processes are going."""
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


def _say(message: str) -> None:
    """One line of `make run`'s own, on stderr."""
    print(f"autokr: {message}", file=sys.stderr)


def run_once(args: list[str]) -> int:
    """What `make run` does: check the config files, clear a stale lock, then run Snakemake
    with ``args`` in the current folder, on the bundled example on a fresh clone.

    Returns Snakemake's exit status (1 for a config file that is no YAML).
    """
    problem = config_file_problem(args)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    kept = free_lock(Path.cwd(), _say)
    if kept:
        _say(
            f"the folder is locked ({kept}); if no run is going, clear it with "
            "'.venv/bin/snakemake --unlock'"
        )
    example = wants_example(args)
    if example:
        _say(
            "no videos/ folder yet: subtitling the bundled example "
            f"({EXAMPLE}/autokr-example.mp4) to show how it goes"
        )
        args = with_config(args, f"videos={EXAMPLE}")
    status = run_snakemake(snakemake_command(args))
    if example and status == 0:
        print(
            f"\nautokr: the example's subtitles are in {SUBTITLES_FOLDER}/ "
            "(autokr-example.ja.srt, autokr-example.ko.srt).\n"
            "To subtitle your own videos, put them in videos/ (or set `videos:` in "
            "config/config.yaml to their folder) and run `make run` again.",
            file=sys.stderr,
        )
    return status
