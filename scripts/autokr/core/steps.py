"""What every step script shares: logging to the rule's log, and one-line errors.

A step script is a thin adapter: under Snakemake it reads ``snakemake.input``,
``output`` and ``params``; by hand it parses its command line; either way it
calls ``run_step`` with a plain function.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

from autokr.core.errors import AutokrError

log = logging.getLogger("autokr")


def setup_logging(step: str, video: str, log_file: str | None) -> None:
    """Log one line per event, naming the step and the video, to ``log_file`` or stderr."""
    fmt = logging.Formatter(f"%(asctime)s {step} [{video}] %(levelname)s %(message)s")
    console = logging.StreamHandler(sys.stderr)
    handlers: list[logging.Handler] = [console]
    if log_file:
        # Under Snakemake the log file has the whole story; the console, shared
        # by every job, gets only warnings and the one-line error.
        console.setLevel(logging.WARNING)
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w", encoding="utf-8"))
    root = logging.getLogger("autokr")
    root.handlers.clear()
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False


def run_step(step: str, video: str, log_file: str | None, work: Callable[[], None]) -> None:
    """Run ``work``; an expected failure becomes ``autokr: <file>: <cause>`` and exit code 1."""
    setup_logging(step, video, log_file)
    log.info("start")
    try:
        work()
    except KeyboardInterrupt:
        # Ctrl-C reaches every process of the run; Snakemake reports it once.
        log.warning("interrupted")
        sys.exit(130)
    except AutokrError as exc:
        line = f"autokr: {exc}"
        # The log gets the line too, so the morning report can quote it.
        for handler in logging.getLogger("autokr").handlers:
            if isinstance(handler, logging.FileHandler):
                handler.stream.write(line + "\n")
                handler.flush()
        print(line, file=sys.stderr)
        sys.exit(1)
    log.info("done")


def snakemake_log(snakemake) -> str | None:
    """The rule's log file, if it has one."""
    return str(snakemake.log[0]) if len(snakemake.log) else None
