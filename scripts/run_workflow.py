"""What `make run` does: clear a stale lock, then run Snakemake, on the bundled example
when this is a fresh clone.

    python scripts/run_workflow.py [snakemake arguments ...]

A fresh clone is one whose config still names the default `videos` folder and
where no such folder exists, not even as a link: then the workflow subtitles
example/autokr-example.mp4 and says where the subtitles are and how to point
autokr at your own videos. Once `videos/` exists (or the config names another
folder) the example is never processed. A `videos` link to a drive that is not
mounted is no fresh clone: Snakemake then stops with one line, as plain
`snakemake` does.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from autokr.batch.run_lock import clear_stale_lock
from autokr.core.config import read_config, read_config_file
from autokr.core.errors import ConfigError

EXAMPLE = "example"
DEFAULT_VIDEOS = "videos"


def config_options(args: list[str]) -> argparse.Namespace:
    """The ``--configfile`` files and ``--config`` items among Snakemake's ``args``."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--configfile", "--configfiles", nargs="+", action="extend", default=[])
    parser.add_argument("--config", "-C", nargs="+", action="extend", default=[])
    return parser.parse_known_args(args)[0]


def config_file_problem(args: list[str]) -> str | None:
    """One line on the first config file that is no YAML mapping, or None.

    Snakemake's own message names neither the file nor the line.
    """
    for path in ["config/config.yaml", *config_options(args).configfile]:
        try:
            read_config_file(path)
        except ConfigError as exc:
            return f"autokr: {exc}"
        except OSError:
            continue  # Snakemake says a file is missing well enough
    return None


def wants_example(args: list[str]) -> bool:
    """True on a fresh clone: the default videos folder, and nothing at that path."""
    known = config_options(args)
    if any(item.startswith("videos=") for item in known.config):
        return False
    try:
        videos = read_config(known.configfile)["videos"]
    except (ConfigError, OSError):
        return False  # Snakemake will say what is wrong with the config
    return videos == DEFAULT_VIDEOS and not os.path.lexists(videos)


def with_config(args: list[str], item: str) -> list[str]:
    """``args`` with one more ``--config`` item (Snakemake keeps only the last ``--config``)."""
    for flag in ("--config", "-C"):
        if flag in args:
            at = args.index(flag) + 1
            return [*args[:at], item, *args[at:]]
    return [*args, "--config", item]


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


def main(argv: list[str] | None = None) -> int:
    """Run Snakemake as `make run` does; return its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    problem = config_file_problem(args)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    removed, kept = clear_stale_lock(Path.cwd())
    if removed:
        print(
            "autokr: removed a stale lock left by a run that was killed; going on", file=sys.stderr
        )
    elif kept:
        print(
            f"autokr: the folder is locked ({kept}); if no run is going, clear it with "
            "'.venv/bin/snakemake --unlock'",
            file=sys.stderr,
        )
    example = wants_example(args)
    if example:
        print(
            "autokr: no videos/ folder yet: subtitling the bundled example "
            f"({EXAMPLE}/autokr-example.mp4) to show how it goes",
            file=sys.stderr,
        )
        args = with_config(args, f"videos={EXAMPLE}")
    snakemake = Path(sys.executable).parent / "snakemake"
    status = run_snakemake([str(snakemake), *args])
    if example and status == 0:
        print(
            "\nautokr: the example's subtitles are in results/subtitles/ "
            "(autokr-example.ja.srt, autokr-example.ko.srt).\n"
            "To subtitle your own videos, put them in videos/ (or set `videos:` in "
            "config/config.yaml to their folder) and run `make run` again.",
            file=sys.stderr,
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
