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


#: The fault switch: with this set to N, a model call on a batch of more than N
#: items raises the same out-of-memory error a GPU would, so the retry path can
#: be tested on any machine. Nothing else is changed; unset, it does nothing.
FAULT_OOM_ENV = "AUTOKR_FAULT_OOM_ABOVE_BATCH"


def fault_switch(batch_size: int) -> None:
    """Raise torch's out-of-memory error when the fault switch says this batch is too big."""
    limit = os.environ.get(FAULT_OOM_ENV)
    if limit and batch_size > int(limit):
        import torch

        raise torch.OutOfMemoryError(
            f"CUDA out of memory: batch of {batch_size} over {FAULT_OOM_ENV}={limit}"
        )


def is_out_of_memory(exc: BaseException) -> bool:
    """True for a CUDA or host out-of-memory error from torch, CTranslate2 or Python."""
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    return name == "OutOfMemoryError" or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


@dataclass(frozen=True)
class Attempt:
    """What a retried job changes: Snakemake's attempt number picks lighter settings.

    Each attempt halves the batch; the last one on CUDA also takes a lighter
    compute type. These come from the attempt, not from params, so a video
    that needed a retry is not rerun later.
    """

    number: int = 1
    last: int = 3

    def batch_size(self, configured: int) -> int:
        """The batch of this try: halved on each retry, at least 1."""
        return max(1, configured // 2 ** (self.number - 1))

    def compute_type(self, placement: Placement) -> str:
        """The compute type of this try: lighter on the last try on CUDA."""
        lighter = {"float16": "int8_float16", "bfloat16": "int8_bfloat16", "float32": "int8"}
        if placement.device == "cuda" and self.number >= self.last:
            return lighter.get(placement.compute_type, placement.compute_type)
        return placement.compute_type


def cpu_threads(threads: int | None) -> int:
    """Threads a model may use: the job's share when Snakemake gave one, never more than cores.

    ``--cores 4`` on a two-core machine would otherwise run four threads on two
    cores, which is slower than two.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    return min(threads, cores) if threads and threads > 0 else cores
