"""``transformers serve`` on loopback, serving a local model folder: an OpenAI-compatible
server for the tests.

What transformers 5 does with it (``transformers/cli/serve.py`` and ``cli/serving/``):

- The folder is the server's ``force_model``: it is loaded before the server
  listens, and a request must name it exactly as given (or name nothing):
  another name is answered 400 "Server is pinned to ...". The answer's
  ``model`` field is the name with ``@main`` added.
- ``GET /v1/models`` lists the Hugging Face cache, never the forced folder.
- ``response_format`` is accepted and ignored (a warning in the server's log):
  nothing constrains the answer to the schema. A field the OpenAI API does not
  know is answered 422; ``chat_template_kwargs`` is one the server adds.
- ``temperature: 0`` turns sampling off (greedy); ``max_tokens`` is the
  number of new tokens (without it, at least 1024).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: Seconds the server may take to import transformers and load the model.
START_TIMEOUT = 180.0


class ChatServerError(RuntimeError):
    """The server did not start, or stopped."""


@dataclass(frozen=True)
class Served:
    """A running server: its base URL (ending in ``/v1``) and the model name to send."""

    url: str
    model: str
    log: Path


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(folder: Path, timeout: float = START_TIMEOUT) -> Iterator[Served]:
    """Run ``transformers serve`` on ``folder`` until the block ends; yield where it answers.

    Offline (``HF_HUB_OFFLINE``), on the CPU, with this interpreter's
    transformers. Raises ChatServerError, with the end of the server's log,
    when it exits or does not answer within ``timeout`` seconds.
    """
    model = str(Path(folder).resolve())
    port = free_port()
    args = [sys.executable, "-m", "transformers.cli.transformers", "serve", model]
    args += ["--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    with tempfile.TemporaryDirectory(prefix="chat-server-") as tmp:
        # /v1/models lists the Hugging Face cache and answers 500 where there is
        # none: an empty one of its own makes it answer an empty list.
        (Path(tmp) / "hub").mkdir()
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "HF_HUB_CACHE": str(Path(tmp) / "hub"),
            "HF_HUB_DISABLE_UPDATE_CHECK": "1",  # else the CLI asks PyPI for a newer version
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        log = Path(tmp) / "server.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        served = Served(f"http://127.0.0.1:{port}/v1", model, log)
        try:
            _wait(process, f"http://127.0.0.1:{port}/health", log, timeout)
            yield served
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait(process: subprocess.Popen, health: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise ChatServerError(
                f"transformers serve exited with {process.returncode}:\n{_tail(log)}"
            )
        try:
            with urllib.request.urlopen(health, timeout=5) as answer:
                if json.load(answer).get("status") == "ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise ChatServerError(
                f"transformers serve did not answer {health} within {timeout:g} s:\n{_tail(log)}"
            )
        time.sleep(0.5)


def _tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-chars:]
