"""An OpenAI-compatible chat server (Ollama, llama.cpp's server, vLLM, LM Studio, ...).

``Server.complete`` sends one chat and returns the answer's text: a time-out,
a refused connection, 429 and 5xx are tried again after a wait that doubles
(or the server's Retry-After), and after ``retries`` of them it raises
``ServerError``; no call waits longer than ``timeout`` for an answer. The
API key is read from the environment by the caller and only ever sent in the
Authorization header. Standard library only: a step needs no client package.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

log = logging.getLogger("autokr.translate")

#: Statuses worth another try: rate limited, or the server's own trouble.
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
#: The first wait before another try (seconds); it doubles each time, up to MAX_WAIT.
FIRST_WAIT = 1.0
MAX_WAIT = 30.0
#: Sent so that a reasoning model answers without thinking first, where the
#: server's chat template takes it (vLLM, llama.cpp, transformers serve);
#: a server that refuses the field is asked again without it.
NO_THINKING = {"chat_template_kwargs": {"enable_thinking": False}}


class ServerError(RuntimeError):
    """The server gave no answer: down, too slow, or refusing, after every try."""


def base_url(server: str) -> str:
    """The server's API root, ending in ``/v1`` whether the config wrote it or not."""
    root = server.strip().rstrip("/")
    return root if root.endswith("/v1") else f"{root}/v1"


@dataclass
class Server:
    """One server and model: ``server`` as configured, ``api_key`` (never recorded)."""

    server: str
    model: str
    api_key: str = field(default="", repr=False)
    timeout: float = 180.0
    retries: int = 3
    sleep: object = time.sleep
    _extra: dict = field(default_factory=lambda: dict(NO_THINKING), repr=False)

    def complete(self, messages: list[dict], schema: dict | None, max_tokens: int) -> str:
        """The text of the model's answer to ``messages`` (greedy, structured by ``schema``)."""
        body = {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": max_tokens,
            "stream": False,
            **self._extra,
        }
        if schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "translations", "schema": schema, "strict": True},
            }
        answer = self._post("/chat/completions", body)
        try:
            message = answer["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            line = f"{self.server}: an answer with no message: {str(answer)[:200]}"
            raise ServerError(line) from None
        return message.get("content") or ""

    def models(self) -> list[str]:
        """The model names the server lists (``GET /v1/models``)."""
        listing = self._request("GET", "/models", None, tries=1)
        return [entry.get("id", "") for entry in listing.get("data", [])]

    def _post(self, path: str, body: dict) -> dict:
        """POST ``body``; a server that refuses the no-thinking field is asked without it."""
        try:
            return self._request("POST", path, body, tries=self.retries + 1)
        except _Refused as exc:
            if not self._extra or "chat_template_kwargs" not in exc.detail:
                raise ServerError(exc.line) from None
            log.info("%s does not take chat_template_kwargs; asking without it", self.server)
            self._extra = {}
            body = {k: v for k, v in body.items() if k not in NO_THINKING}
            try:
                return self._request("POST", path, body, tries=self.retries + 1)
            except _Refused as again:
                raise ServerError(again.line) from None

    def _request(self, method: str, path: str, body: dict | None, tries: int) -> dict:
        url = base_url(self.server) + path
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        wait, why = FIRST_WAIT, ""
        for number in range(1, tries + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                detail = _error_text(exc)
                if exc.code not in RETRY_STATUSES:
                    raise _Refused(f"{url}: HTTP {exc.code}: {detail}", detail) from None
                why = f"HTTP {exc.code}: {detail}"
                wait_now = _retry_after(exc, wait)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                why = _reason(exc, self.timeout)
                wait_now = wait
            except ValueError as exc:  # not JSON: a proxy's page, a cut answer
                why = f"an answer that is not JSON ({exc})"
                wait_now = wait
            if number < tries:
                log.warning("%s: %s; try %d of %d in %.0f s", url, why, number + 1, tries, wait_now)
                self.sleep(wait_now)
                wait = min(wait * 2, MAX_WAIT)
        raise ServerError(f"{url}: {why} ({tries} {'try' if tries == 1 else 'tries'})")


class _Refused(Exception):
    """A status no retry mends (400, 401, 404, 422 ...)."""

    def __init__(self, line: str, detail: str):
        super().__init__(line)
        self.line, self.detail = line, detail


def _error_text(exc: urllib.error.HTTPError) -> str:
    """The server's own words about an error, on one line."""
    try:
        text = exc.read().decode("utf-8", "replace")
    except OSError:
        text = ""
    try:
        body = json.loads(text)
        error = body.get("error", body.get("detail", body))
        text = error.get("message", str(error)) if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        pass
    return " ".join(text.split())[:300] or exc.reason


def _retry_after(exc: urllib.error.HTTPError, wait: float) -> float:
    """The server's Retry-After (seconds), else our own wait."""
    try:
        return min(max(float(exc.headers.get("Retry-After", "")), 0.0), MAX_WAIT)
    except (TypeError, ValueError):
        return wait


def _reason(exc: Exception, timeout: float) -> str:
    """Why a request got no answer, in words."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    return str(reason) or type(reason).__name__


def check(server: Server) -> str | None:
    """Why a run cannot use ``server`` (one line), or None when it answers and has the model.

    A server that lists the model is enough; one that does not list it (some
    list only what they have loaded) is asked for one token by that name.
    """
    try:
        names = server.models()
    except ServerError as exc:
        return f"translate.llm.server {server.server} does not answer: {exc}"
    except _Refused:  # no model listing here: the probe below decides
        names = []
    if server.model in names:
        return None
    probe = Server(server.server, server.model, server.api_key, server.timeout, retries=0)
    try:
        probe.complete([{"role": "user", "content": "1"}], None, max_tokens=1)
    except ServerError as exc:
        listed = ", ".join(names[:8]) or "none"
        return (
            f"translate.llm.model {server.model!r}: the server at {server.server} does not "
            f"run it ({exc}); it lists: {listed}"
        )
    return None
