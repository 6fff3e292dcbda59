"""Switches for tests, read from the environment: unset, they do nothing.

The fault switch makes a model call raise the out-of-memory error its library
raises on a GPU, so the retry path runs on any machine; the hold switch makes a
step wait at a named point, so a test can stop or race a run at a moment it
chose rather than one the machine's speed chose.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger("autokr")


#: The fault switch: with this set to N, a model call on a batch of more than N
#: items raises the out-of-memory error its library raises on a GPU, so the
#: retry path can be tested on any machine. Unset, it does nothing.
FAULT_OOM_ENV = "AUTOKR_FAULT_OOM_ABOVE_BATCH"


def fault_switch(batch_size: int, library: str = "ctranslate2") -> None:
    """Raise ``library``'s out-of-memory error when the fault switch says this batch is too big.

    CTranslate2 (and so faster-whisper) reports CUDA out-of-memory as a
    RuntimeError saying so; torch raises its own OutOfMemoryError.
    """
    limit = os.environ.get(FAULT_OOM_ENV)
    if not limit or batch_size <= int(limit):
        return
    message = (
        f"CUDA failed with error out of memory (batch of {batch_size} over {FAULT_OOM_ENV}={limit})"
    )
    if library == "torch":
        import torch

        raise torch.OutOfMemoryError(message)
    raise RuntimeError(message)


#: The hold switch, for tests: ``AUTOKR_HOLD=POINT:FOLDER`` makes a step that
#: reaches ``POINT`` (``transcribe.model``: its model is loaded) write
#: ``FOLDER/POINT.PID.held`` and wait there until ``FOLDER/release`` exists. A test
#: can then stop or race a run at a moment it chose, however fast the machine.
#: Unset, it does nothing.
HOLD_ENV = "AUTOKR_HOLD"


def hold(point: str) -> None:
    """Wait at ``point`` while the hold switch says so (see HOLD_ENV)."""
    setting = os.environ.get(HOLD_ENV, "")
    name, _, folder = setting.partition(":")
    if name != point or not folder:
        return
    folder_path = Path(folder)
    log.info("held at %s until %s exists", point, folder_path / "release")
    (folder_path / f"{point}.{os.getpid()}.held").touch()
    while not (folder_path / "release").exists():
        time.sleep(0.05)
