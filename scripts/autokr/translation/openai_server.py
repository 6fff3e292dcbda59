"""An OpenAI-compatible chat server (Ollama, llama.cpp's server, vLLM, LM Studio, ...).

``Server.complete`` sends one chat and returns the answer's text: a time-out,
a refused connection, 429 and 5xx are tried again after a wait that doubles
(or the server's Retry-After), and after ``retries`` of them it raises
``ServerError``; no try waits longer than ``timeout`` for the server to send
anything (the time-out is of each read, as with any socket). The
API key is read from the environment by the caller and only ever sent in the
Authorization header. Standard library only: a step needs no client package.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from autokr.core.defaults import schema_default

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
#: Fields a server may refuse (400, 422 naming them); it is then asked without them.
OPTIONAL_FIELDS = ("chat_template_kwargs", "response_format")


class ServerError(RuntimeError):
    """The server gave no answer after every try. ``status`` is the HTTP status of its
    last error (400, 404, 503 ...), None when it sent no HTTP answer at all."""

    def __init__(self, line: str, status: int | None = None):
        super().__init__(line)
        self.status = status


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
    timeout: float = schema_default("translate.llm.timeout")
    retries: int = schema_default("translate.llm.retries")
    sleep: Callable[[float], None] = time.sleep
    _extra: dict = field(default_factory=lambda: dict(NO_THINKING), repr=False)
    _refused_fields: set = field(default_factory=set, repr=False)

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
        if schema is not None and "response_format" not in self._refused_fields:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "translations", "schema": schema, "strict": True},
            }
        answer = self._post("/chat/completions", body)
        try:
            message = answer["choices"][0]["message"]
            return message.get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            line = f"{self.server}: an answer with no message: {str(answer)[:200]}"
            raise ServerError(line) from None

    def models(self) -> list[str]:
        """The model names the server lists (``GET /v1/models``)."""
        listing = self._request("GET", "/models", None, tries=1)
        entries = listing.get("data", []) if isinstance(listing, dict) else []
        return [e.get("id", "") for e in entries if isinstance(e, dict)]

    def _post(self, path: str, body: dict) -> dict:
        """POST ``body``; a server that refuses a field autokr may leave out (the
        no-thinking switch, the JSON schema) is asked again without it."""
        while True:
            try:
                return self._request("POST", path, body, tries=self.retries + 1)
            except _Refused as exc:
                optional = [f for f in OPTIONAL_FIELDS if f in body and f in exc.detail]
                if not optional:
                    raise ServerError(exc.line, exc.status) from None
                log.info("%s does not take %s; asking without it", self.server, optional[0])
                self._refused_fields.add(optional[0])
                self._extra.pop(optional[0], None)
                body = {k: v for k, v in body.items() if k != optional[0]}

    def _request(self, method: str, path: str, body: dict | None, tries: int) -> dict:
        url = base_url(self.server) + path
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        wait, why, status = FIRST_WAIT, "", None
        for number in range(1, tries + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                detail = _error_text(exc)
                if exc.code not in RETRY_STATUSES:
                    raise _Refused(f"{url}: HTTP {exc.code}: {detail}", detail, exc.code) from None
                why, status = f"HTTP {exc.code}: {detail}", exc.code
                wait_now = _retry_after(exc, wait)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                why, status = _reason(exc, self.timeout), None
                wait_now = wait
            except (http.client.HTTPException, ValueError) as exc:  # cut, not HTTP, not JSON
                why, status = f"a broken answer ({type(exc).__name__}: {exc})", None
                wait_now = wait
            if number < tries:
                log.warning("%s: %s; try %d of %d in %.0f s", url, why, number + 1, tries, wait_now)
                self.sleep(wait_now)
                wait = min(wait * 2, MAX_WAIT)
        raise ServerError(f"{url}: {why} ({tries} {'try' if tries == 1 else 'tries'})", status)


class _Refused(Exception):
    """A status no retry mends (400, 401, 404, 422 ...)."""

    def __init__(self, line: str, detail: str, status: int):
        super().__init__(line)
        self.line, self.detail, self.status = line, detail, status


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
    list only what they have loaded, some nothing) is asked for one token by that name.
    """
    try:
        names = server.models()
    except ServerError as exc:
        if exc.status is None:
            return f"translate.llm.server {server.server} does not answer: {exc}"
        names = []  # an error in place of a listing (transformers serve with no Hub cache)
    except _Refused:  # no model listing here: the probe below decides
        names = []
    if server.model in names:
        return None
    probe = Server(server.server, server.model, server.api_key, server.timeout, retries=0)
    try:
        probe.complete([{"role": "user", "content": "1"}], None, max_tokens=1)
    except ServerError as exc:
        if exc.status in (401, 403):
            return f"translate.llm.server {server.server} refuses the key: {exc}"
        if exc.status not in (400, 404, 422):
            return f"translate.llm.server {server.server} cannot answer now: {exc}"
        listed = ", ".join(names[:8]) or "none"
        return (
            f"translate.llm.model {server.model!r}: the server at {server.server} does not "
            f"run it ({exc}); it lists: {listed}"
        )
    return None
