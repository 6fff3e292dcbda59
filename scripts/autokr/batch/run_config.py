"""The config a run will read, as Snakemake reads it from its command line.

``make run`` and ``make watch`` look at it before Snakemake starts: to say in
one line what is wrong with a config file (Snakemake's own message names
neither the file nor the line), to find the videos folder to watch, and to
subtitle the bundled example on a fresh clone.
"""

from __future__ import annotations

import argparse
import os

import yaml

from autokr.core.config import read_config, read_config_file
from autokr.core.errors import ConfigError

#: The folder of the bundled example, subtitled by ``make run`` on a fresh clone.
EXAMPLE = "example"
#: The videos folder a fresh clone's config names.
DEFAULT_VIDEOS = "videos"


def config_options(args: list[str]) -> argparse.Namespace:
    """The ``--configfile`` files and ``--config`` items among Snakemake's ``args``."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--configfile", "--configfiles", nargs="+", action="extend", default=[])
    parser.add_argument("--config", "-C", nargs="+", action="extend", default=[])
    return parser.parse_known_args(args)[0]


def configured(args: list[str], keys: tuple[str, ...] = ("videos", "models_dir")) -> dict:
    """The settings ``keys`` the run will use, as Snakemake reads the config from ``args``."""
    known = config_options(args)
    config = read_config(known.configfile)
    found = {key: str(config[key]) for key in keys}
    for item in known.config:  # the last --config item wins, as in Snakemake
        key, _, value = item.partition("=")
        if key in found:
            try:
                found[key] = str(yaml.safe_load(value))
            except yaml.YAMLError:  # Snakemake takes a value that is no YAML as text
                found[key] = value
    return found


def configured_videos(args: list[str]) -> str:
    """The videos folder the run will scan, as Snakemake reads the config from ``args``."""
    return configured(args, ("videos",))["videos"]


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
