"""What every step script shares: logging to the rule's log, and one-line errors.

A step script is a thin adapter: under Snakemake it reads ``snakemake.input``,
``output`` and ``params`` and calls ``run_rule``; by hand it parses the command
line ``step_parser`` builds and calls ``run_by_hand`` (or ``run_step``, where
the options need work first). Either way one plain function does the step.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from autokr.core.config import add_config_options
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


def run_rule(snakemake, work: Callable[[], None], label: str | None = None) -> None:
    """Run a rule's ``work`` as ``run_step`` does, logging to the rule's log.

    Its lines name the rule and ``label`` (by default the job's video).
    """
    label = snakemake.wildcards.video if label is None else label
    run_step(snakemake.rule, label, snakemake_log(snakemake), work)


def run_by_hand(
    step: str,
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    work: Callable[[argparse.Namespace], None],
    label_from: str,
) -> None:
    """Parse ``argv`` and run ``work(args)`` as ``run_step`` does.

    Its lines name ``step`` and the value of the argument named ``label_from``.
    """
    args = parser.parse_args(argv)
    run_step(step, getattr(args, label_from), args.log, lambda: work(args))


def step_parser(doc: str, *positional: str, keys: Sequence[str] = ()) -> argparse.ArgumentParser:
    """A step's command line: ``positional`` arguments, an option per config key, and --log.

    Its description is ``doc``'s first line; ``keys`` are config keys, each a
    set of options (``add_config_options``).
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    for name in positional:
        parser.add_argument(name)
    add_config_options(parser, list(keys))
    parser.add_argument("--log", help="also write the log to this file")
    return parser
