"""autokr's progress display for Snakemake: ``snakemake --logger autokr``.

It writes Snakemake's own lines unchanged (Snakemake's formatter and filter),
so they stay parseable, and adds where the batch is (``autokr.batch.progress.Board``):
videos done of total, each running job's step and, for long jobs, how far it
is and how long is left. In a terminal those lines stay at the bottom and are
redrawn every second; elsewhere (CI logs, ``nohup``) they are plain lines,
printed every ``--logger-autokr-interval`` seconds (30) when they change, with
no control codes.

``make setup`` puts this folder on the virtualenv's path (``autokr-logger.pth``),
where Snakemake finds its plugins.
"""

import shutil
import sys
import threading
import unicodedata
from dataclasses import dataclass, field
from logging import LogRecord
from pathlib import Path
from typing import Optional

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.settings import LogHandlerSettingsBase

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from autokr.batch.progress import Board

#: Seconds between redraws in a terminal.
TERMINAL_EVERY = 1.0


@dataclass
class LogHandlerSettings(LogHandlerSettingsBase):
    interval: Optional[float] = field(  # noqa: UP045 (the plugin interface reads Optional)
        default=None,
        metadata={"help": "Seconds between progress lines when not in a terminal (30)."},
    )


def fit(line: str, columns: int) -> str:
    """``line`` cut to ``columns`` terminal cells (CJK characters take two), so that
    it takes one row and erasing one row erases it."""
    used = 0
    for i, char in enumerate(line):
        used += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
        if used > columns:
            return line[:i]
    return line


class LogHandler(LogHandlerBase):
    """Snakemake's lines, plus autokr's progress lines."""

    def __post_init__(self) -> None:
        # Where Snakemake's own handler writes: stdout for a dry run, else stderr.
        self.stream = sys.stdout if self.common_settings.stdout else sys.stderr
        self.terminal = self.stream.isatty()
        self.board = Board()
        self.output_lock = threading.Lock()  # not self.lock: logging.Handler holds that one
        self.shown: list[str] = []  # the progress lines on screen (terminal)
        self.last: list[str] = []  # the progress lines printed last (plain)
        self.in_job_info = False
        every = TERMINAL_EVERY if self.terminal else (self.settings.interval or 30.0)
        self.stopped = threading.Event()
        if not self.common_settings.dryrun:
            threading.Thread(target=self._tick, args=(every,), daemon=True).start()

    def emit(self, record: LogRecord) -> None:
        event = str(getattr(record, "event", "") or "")
        if event and not self.common_settings.dryrun:
            self.board.observe(event, record.__dict__)
        text = self.format(record)
        with self.output_lock:
            self._clear()
            if text not in (None, "", "None"):
                # As Snakemake's own handler: a blank line before each job's block.
                self.stream.write(
                    ("\n" if event == "job_info" and not self.in_job_info else "") + text + "\n"
                )
                self.in_job_info = event == "job_info"
            self._draw()
            self.stream.flush()

    def close(self) -> None:
        self.stopped.set()
        with self.output_lock:
            self._clear()
            self.stream.flush()
        super().close()

    def _tick(self, every: float) -> None:
        while not self.stopped.wait(every):
            with self.output_lock:
                if self.terminal:
                    self._clear()
                    self._draw()
                else:
                    self._plain()
                self.stream.flush()

    def _draw(self) -> None:
        """The progress lines at the bottom of a terminal, each cut to one row."""
        if self.terminal:
            columns = shutil.get_terminal_size().columns - 1
            self.shown = [fit(line, columns) for line in self.board.lines()]
            self.stream.write("".join(line + "\n" for line in self.shown))

    def _clear(self) -> None:
        """Take the progress lines off a terminal (cursor up, erase line)."""
        if self.terminal and self.shown:
            self.stream.write("\x1b[1A\x1b[2K" * len(self.shown))
            self.shown = []

    def _plain(self) -> None:
        """Plain progress lines, when they changed: for logs, not terminals."""
        lines = self.board.lines()
        if lines != self.last and self.board.jobs:
            self.stream.write("".join(line + "\n" for line in lines))
            self.last = lines

    @property
    def writes_to_stream(self) -> bool:
        return True

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return False

    @property
    def has_formatter(self) -> bool:
        return False

    @property
    def needs_rulegraph(self) -> bool:
        return False
