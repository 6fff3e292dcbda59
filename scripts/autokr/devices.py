"""Device and compute-type choice, in one place for every step.

The configured values (``auto``, ``cuda``, ``cpu``) reach the steps through
Snakemake params, so moving a project between machines reruns nothing; the
step resolves them here on the machine it actually runs on and records the
result in its output.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from autokr.errors import ConfigError

DEVICES = ("auto", "cuda", "cpu")


@dataclass(frozen=True)
class Placement:
    """Where a model runs: ``cuda`` or ``cpu``, and its CTranslate2 compute type."""

    device: str
    compute_type: str


def cuda_available() -> bool:
    """True when CTranslate2 sees a CUDA device (the same check serves torch steps)."""
    import ctranslate2

    try:
        return ctranslate2.get_cuda_device_count() > 0
    except RuntimeError:  # a CUDA runtime that is present but broken
        return False


def resolve_device(device: str) -> str:
    """Turn a configured device into ``cuda`` or ``cpu``."""
    if device not in DEVICES:
        raise ConfigError(f"device {device!r} is not one of {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    if device == "cuda" and not cuda_available():
        raise ConfigError("device 'cuda' was asked for, but no CUDA device is visible")
    return device


def resolve_placement(device: str, compute_type: str = "auto") -> Placement:
    """Resolve device and compute type: ``auto`` is float16 on CUDA, int8 on the CPU."""
    resolved = resolve_device(device)
    if compute_type == "auto":
        compute_type = "float16" if resolved == "cuda" else "int8"
    return Placement(resolved, compute_type)


def cpu_threads(threads: int | None) -> int:
    """Threads a model may use: the job's share when Snakemake gave one, else all cores."""
    if threads and threads > 0:
        return threads
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
