"""What `make watch` does: run the workflow once, then again whenever videos arrive.

    python scripts/watch.py [--settle-seconds S] [--poll] [--poll-seconds S] [--retry-seconds S]
                            [snakemake args ...]

Watches the configured videos folder (``videos`` in config/config.yaml, or as
``--configfile``/``--config videos=...`` among the Snakemake arguments say)
recursively. A video or audio file that is added or changed is taken once it
has stopped changing for the settle time; then Snakemake runs, one run at a
time, with the same arguments each time; a run that fails is tried again
later. Ctrl-C (or SIGTERM) stops it cleanly:
a run in progress is interrupted as Ctrl-C interrupts `make run`, and waited
for. See autokr/watching/watcher.py for how, and autokr/watching/watched_files.py for what
is watched and what is left out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from autokr.watching.file_events import WatchOptions
from autokr.watching.watcher import watch_videos


def parse_args(argv: list[str]) -> tuple[WatchOptions, list[str]]:
    """The watch's own options, and the rest (for Snakemake)."""
    parser = argparse.ArgumentParser(
        description="Run the workflow whenever videos arrive; other arguments go to Snakemake.",
        allow_abbrev=False,
    )
    defaults = WatchOptions()
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=defaults.settle,
        help="how long a new file must stay unchanged before a run takes it "
        f"(default {defaults.settle:g})",
    )
    parser.add_argument(
        "--poll",
        action="store_true",
        help="look for changes on a schedule instead of waiting for file events "
        "(network shares are polled without it)",
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=defaults.poll_interval,
        help=f"time between looks when polling (default {defaults.poll_interval:g})",
    )
    parser.add_argument(
        "--retry-seconds",
        type=float,
        default=defaults.retry,
        help="wait before a failed run is tried again, doubled on each failure in a row "
        f"(default {defaults.retry:g})",
    )
    known, rest = parser.parse_known_args(argv)
    options = WatchOptions(
        known.settle_seconds, known.poll, known.poll_seconds, known.retry_seconds
    )
    return options, rest


def main(argv: list[str] | None = None) -> int:
    """Watch the videos folder until stopped; 0 on a clean stop."""
    options, args = parse_args(list(sys.argv[1:] if argv is None else argv))
    return watch_videos(args, options, Path.cwd())


if __name__ == "__main__":
    sys.exit(main())
