"""Device and compute-type choice, in one place for every step.

The configured values (``auto``, ``cuda``, ``cpu``) reach the steps through
Snakemake params, so moving a project between machines reruns nothing; the
step resolves them here on the machine it actually runs on and records the
result in its output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from autokr.core.errors import ConfigError, OutOfMemory
from autokr.core.file_lock import keep_for_life, open_lock, take_lock

DEVICES = ("auto", "cuda", "cpu")
T = TypeVar("T")
log = logging.getLogger("autokr")


@dataclass(frozen=True)
class Placement:
    """Where a model runs: ``cuda`` or ``cpu``, and its CTranslate2 compute type."""

    device: str
    compute_type: str


def cuda_available(library: str = "ctranslate2") -> bool:
    """True when ``library`` (``ctranslate2`` or ``torch``) sees a CUDA device.

    Each library is asked for itself: a CPU-only torch beside a CUDA-enabled
    CTranslate2 is a set-up autokr supports.
    """
    if library == "torch":
        import torch

        return torch.cuda.is_available()
    import ctranslate2

    try:
        return ctranslate2.get_cuda_device_count() > 0
    except RuntimeError:  # a CUDA runtime that is present but broken
        return False


def resolve_device(device: str, library: str = "ctranslate2") -> str:
    """Turn a configured device into ``cuda`` or ``cpu``, as ``library`` sees the machine."""
    if device not in DEVICES:
        raise ConfigError(f"device {device!r} is not one of {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if cuda_available(library) else "cpu"
    if device == "cuda" and not cuda_available(library):
        raise ConfigError(f"device 'cuda' was asked for, but {library} sees no CUDA device")
    return device


#: The compute types torch runs a model with; CTranslate2 takes many more (int8 ...).
TORCH_COMPUTE_TYPES = ("float32", "float16", "bfloat16")


def backend_library(backend: str) -> str:
    """The library a translate backend runs on: ``torch`` (transformers) or ``ctranslate2``."""
    return "torch" if backend == "transformers" else "ctranslate2"


def check_compute_type(library: str, compute_type: str) -> None:
    """Refuse a compute type torch does not run, rather than run float32 under its name."""
    if library == "torch" and compute_type not in ("auto", *TORCH_COMPUTE_TYPES):
        raise ConfigError(
            f"translate.compute_type: {compute_type!r} is not run by the transformers backend "
            f"(it runs {', '.join(TORCH_COMPUTE_TYPES)}); use backend ctranslate2 for it"
        )


def resolve_placement(
    device: str, compute_type: str = "auto", library: str = "ctranslate2"
) -> Placement:
    """Resolve device and compute type: ``auto`` is float16 on CUDA, int8 on the CPU."""
    resolved = resolve_device(device, library)
    if compute_type == "auto":
        compute_type = "float16" if resolved == "cuda" else "int8"
    return Placement(resolved, compute_type)


def is_out_of_memory(exc: BaseException) -> bool:
    """True for a CUDA or host out-of-memory error from torch, CTranslate2 or Python."""
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    return name == "OutOfMemoryError" or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


#: Tries of a model-heavy job: a job that runs out of memory is retried with
#: lighter settings (see Attempt); other failures fail the same way each time.
ATTEMPTS = 3


@dataclass(frozen=True)
class Attempt:
    """What a retried job changes: Snakemake's attempt number picks lighter settings.

    Each attempt halves the batch; on CUDA, the last one, or any one whose
    batch is already down to 1, also takes a lighter compute type. On the CPU
    a batch of 1 has nothing lighter left: the retry fails the same way.
    These come from the attempt, not from params, so a video that needed a
    retry is not rerun later.
    """

    number: int = 1
    last: int = ATTEMPTS

    def batch_size(self, configured: int) -> int:
        """The batch of this try: halved on each retry, at least 1."""
        return max(1, configured // 2 ** (self.number - 1))

    def halve(self, options: T, *fields: str) -> T:
        """``options`` (a dataclass) with each of ``fields`` at this try's batch size."""
        return dataclasses.replace(
            options, **{f: self.batch_size(getattr(options, f)) for f in fields}
        )

    def _batch_before(self, configured: int) -> int:
        return max(1, configured // 2 ** max(self.number - 2, 0))

    def compute_type(self, placement: Placement, configured_batch: int | None = None) -> str:
        """The compute type of this try: lighter on CUDA on the last try, or once the batch is 1."""
        lighter = {"float16": "int8_float16", "bfloat16": "int8_bfloat16", "float32": "int8"}
        # A retry whose batch could not be halved must lighten something else.
        stuck = (
            configured_batch is not None
            and self.number > 1
            and self.batch_size(configured_batch) == self._batch_before(configured_batch)
        )
        if placement.device == "cuda" and (self.number >= self.last or stuck):
            return lighter.get(placement.compute_type, placement.compute_type)
        return placement.compute_type


@contextlib.contextmanager
def out_of_memory_as_one_line(path: str, placement: Placement, batch_size: int, attempt: Attempt):
    """Turn any library's out-of-memory error inside into autokr's one-line OutOfMemory."""
    try:
        yield
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        raise OutOfMemory(
            f"{path}: out of memory on {placement.device} with batch_size {batch_size} and "
            f"{placement.compute_type} (attempt {attempt.number}); a retry takes lighter settings"
        ) from None


def cpu_threads(threads: int | None) -> int:
    """Threads a model may use: the job's share when Snakemake gave one, never more than cores.

    ``--cores 4`` on a two-core machine would otherwise run four threads on two
    cores, which is slower than two.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    return min(threads, cores) if threads and threads > 0 else cores


#: A folder GPU jobs lock their cards in instead of the private one: set it to
#: one several users' jobs can all write to share cards between them on purpose.
GPU_LOCKS_ENV = "AUTOKR_GPU_LOCKS"
#: How often a job waiting for a card says it still waits, in seconds.
WAIT_NOTE_EVERY = 300.0


def claim_gpu(gpus: list | None = None, every: float = 0.2) -> str | None:
    """Take a free GPU for the rest of this process's life; return it, or None.

    Snakemake counts a ``gpu`` resource but never says which card a job should
    use, so two jobs under ``--resources gpu=2`` would both land on card 0.
    Each job locks one card (an ``fcntl`` lock in ``gpu_lock_folder``, which
    the system drops if the job dies) and sets ``CUDA_VISIBLE_DEVICES`` to it
    before any CUDA call. A job a scheduler gave one card (SLURM sets
    ``CUDA_VISIBLE_DEVICES``) keeps it; jobs of a run inside an allocation of
    several take one each. ``gpus`` lists the cards to share out (config
    ``gpus``); None is every card visible. With all cards taken (more GPU jobs
    than cards), the job waits for one, and says so in its log.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if os.environ.get("SLURM_JOB_ID"):
        given = _visible_cards(visible) if visible is not None else []
        if len(given) <= 1:  # the scheduler chose the job's card (or gave none)
            return visible
        # A run inside an allocation of several cards (salloc --gpus=4, then
        # --resources gpu=4): its jobs share them out, one each.
        cards = given
    else:
        cards = [str(card) for card in gpus] if gpus else _visible_cards(visible)
    if not cards:
        return None
    folder = gpu_lock_folder()
    card = _lock_a_card(folder, cards, every)
    os.environ["CUDA_VISIBLE_DEVICES"] = card
    return card


def _lock_a_card(folder: Path, cards: list[str], every: float) -> str:
    """Lock the first free card of ``cards`` in ``folder``, waiting for one as long as it takes."""
    started, noted = time.monotonic(), None
    while True:
        for card in cards:
            path = folder / f"gpu-{card}.lock"
            try:
                # Open to everyone: a shared folder's lock file made by another user locks too.
                fd = open_lock(path, 0o666)
            except OSError as exc:
                raise ConfigError(f"{path}: cannot open the card's lock ({exc.strerror})") from None
            if not take_lock(fd):
                os.close(fd)
                continue
            keep_for_life(path, fd)
            if noted is not None:
                log.info("got card %s after waiting %.0f s", card, time.monotonic() - started)
            return card
        now = time.monotonic()
        if noted is None or now - noted >= WAIT_NOTE_EVERY:
            log.info(
                "waiting for a free GPU: card%s %s held by other jobs (locks in %s)",
                "s" if len(cards) > 1 else "",
                ", ".join(cards),
                folder,
            )
            noted = now
        time.sleep(every)


def gpu_lock_folder(environ: dict | None = None) -> Path:
    """The folder GPU jobs on this machine lock their cards in.

    AUTOKR_GPU_LOCKS when set (a folder to share on purpose); else a private
    folder of this user's, in ``$XDG_RUNTIME_DIR`` or the temporary folder,
    one per SLURM allocation (SLURM numbers each allocation's cards from 0).
    The private folder is made 0700 and refused (ConfigError) when it is a
    link or another user's: anyone who could reach the lock files could hold
    a card's lock and keep every GPU job waiting.
    """
    import tempfile

    environ = os.environ if environ is None else environ
    shared = environ.get(GPU_LOCKS_ENV)
    if shared:
        folder = Path(shared)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"{folder}: cannot make the GPU lock folder ({exc.strerror})"
            ) from None
        return folder
    runtime = environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime and os.path.isdir(runtime) else Path(tempfile.gettempdir())
    folder = base / f"autokr-gpus-{os.getuid()}"
    if environ.get("SLURM_JOB_ID"):
        folder = folder.with_name(f"{folder.name}-slurm-{environ['SLURM_JOB_ID']}")
    return private_folder(folder)


def private_folder(folder: Path) -> Path:
    """``folder``, made 0700 if missing; ConfigError when it is a link, not a folder, or
    not this user's. One of this user's that others may enter is closed to them."""
    import stat

    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot make the GPU lock folder ({exc.strerror})") from None
    info = os.lstat(folder)
    fix = f"remove it, or set {GPU_LOCKS_ENV} to a folder of your own"
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{folder}: not a folder (a link?); refused for GPU locks: {fix}")
    if info.st_uid != os.getuid():
        raise ConfigError(
            f"{folder}: belongs to another user (uid {info.st_uid}); refused for GPU locks: {fix}"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)  # an older autokr's, made with the umask: ours to close
    return folder


def _visible_cards(visible: str | None) -> list[str]:
    """The cards this machine shows: CUDA_VISIBLE_DEVICES's list, else the driver's count."""
    if visible is not None:
        return [card for card in visible.split(",") if card.strip()]
    try:
        import pynvml

        pynvml.nvmlInit()
        return [str(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception:  # no NVML library or no driver: no cards
        return []
