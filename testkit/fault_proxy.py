"""A loopback proxy for OpenAI-compatible servers that misbehaves on cue.

Put it between autokr and a real chat server to check that a bad answer, a
busy server or a dead connection never stops a batch or hangs a job::

    with FaultProxy("http://127.0.0.1:8000/v1") as proxy:
        proxy.faults.extend(["429", "hang:30", "drop:2"])
        ...  # point autokr at proxy.url
        assert proxy.count("429") == 1 and proxy.count(None) >= 1

Every request is forwarded as it came (method, path, query, body, headers
such as ``Authorization``) and the upstream's status, headers and body come
back, except that each ``POST .../chat/completions`` first takes the next
fault from :attr:`FaultProxy.faults` (none left: forwarded as is):

- ``"429"``: 429 with ``Retry-After: 0`` and an OpenAI-style JSON error, not forwarded;
- ``"500"``, ``"502"``, ``"503"``: that status with a JSON error, not forwarded;
- ``"hang:S"``: waits S seconds, then forwards (a client time-out); closing the proxy
  ends the wait and drops the connection unanswered;
- ``"close"``: closes the connection without an answer;
- ``"think"``: forwards, then puts :data:`THINKING` before the answer's content
  and removes its ``reasoning_content``;
- ``"drop:N"``: forwards, then removes key ``"N"`` from the JSON object in the content;
- ``"empty:N"``: forwards, then sets key ``"N"`` of that object to ``""``;
- ``"garbage"``: forwards, then replaces the content with :data:`GARBAGE`, no JSON.

The edits apply to ``choices[0].message.content`` of a non-streamed 200 answer.
A fault the proxy could not carry out (an unknown one, an edit of an answer
that has no such object or key, an unreachable upstream) is recorded in
:attr:`FaultProxy.errors`, and the answer goes back unchanged; a test asserts
``not proxy.errors``. A client that gave up is no error: the proxy prints
nothing, ever.
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

#: What ``think`` puts before the content, as a server that leaves a model's reasoning in does.
THINKING = "<think>Let me work through this.\n...</think>\n"
#: What the ``garbage`` fault answers instead of the JSON object.
GARBAGE = "Sorry, I can't help with that."
#: Faults answered by the proxy itself, with their OpenAI-style error type.
STATUS_FAULTS = {
    "429": "rate_limit_exceeded",
    "500": "server_error",
    "502": "bad_gateway",
    "503": "service_unavailable",
}
#: Faults that edit the upstream's answer; ``drop`` and ``empty`` name a key.
EDIT_FAULTS = {"think", "garbage", "drop", "empty"}
#: Headers that belong to one connection, not to the message; never passed on.
HOP_BY_HOP = frozenset(
    "connection keep-alive proxy-authenticate proxy-authorization te trailer trailers "
    "transfer-encoding upgrade".split()
)
#: Request headers http.client sets itself (identity encoding, so answers can be edited).
_OWN_REQUEST_HEADERS = HOP_BY_HOP | {"host", "content-length", "accept-encoding"}
#: Response headers the proxy sets itself.
_OWN_RESPONSE_HEADERS = HOP_BY_HOP | {"content-length", "server", "date"}


class FaultNotApplied(ValueError):
    """A fault the proxy could not carry out on this answer."""


@dataclass(frozen=True)
class Fault:
    """One parsed fault: its kind and its argument (seconds for ``hang``, a key for edits)."""

    kind: str
    arg: str = ""

    @property
    def seconds(self) -> float:
        return float(self.arg)


def parse_fault(spec: str) -> Fault:
    """The fault ``spec`` names (``"429"``, ``"hang:2.5"``, ``"drop:3"`` …); ValueError if none."""
    kind, _, arg = str(spec).partition(":")
    if kind in STATUS_FAULTS or kind in ("close", "think", "garbage"):
        if arg:
            raise ValueError(f"fault {spec!r} takes no argument")
        return Fault(kind)
    if kind == "hang":
        try:
            if float(arg) >= 0:
                return Fault(kind, arg)
        except ValueError:
            pass
        raise ValueError(f"fault {spec!r}: hang needs seconds, as in 'hang:2.5'")
    if kind in ("drop", "empty") and arg:
        return Fault(kind, arg)
    raise ValueError(
        f"unknown fault {spec!r}: use 429, 500, 502, 503, hang:S, close, think, "
        "drop:N, empty:N or garbage"
    )


def error_body(status: int, message: str) -> bytes:
    """An OpenAI-style JSON error for ``status``."""
    kind = STATUS_FAULTS.get(str(status), "server_error")
    error = {"message": message, "type": kind, "param": None, "code": kind}
    return json.dumps({"error": error}).encode()


def edit_answer(payload: bytes, fault: Fault) -> bytes:
    """The chat completion ``payload`` with ``fault``'s edit made to its first message."""
    try:
        answer = json.loads(payload)
        message = answer["choices"][0]["message"]
        content = message.get("content")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
        raise FaultNotApplied(f"{fault.kind}: the answer is no chat completion ({e!r})") from e
    if fault.kind == "think":
        message.pop("reasoning_content", None)
        message["content"] = THINKING + (content or "")
    elif fault.kind == "garbage":
        message["content"] = GARBAGE
    else:
        message["content"] = _edit_numbered(content, fault)
    return json.dumps(answer, ensure_ascii=False).encode()


def _edit_numbered(content: object, fault: Fault) -> str:
    """``content`` with key ``fault.arg`` of its JSON object dropped or emptied."""
    text = content if isinstance(content, str) else ""
    # A real model may wrap the object in thinking or a fence: edit the object, keep the rest.
    start, end = text.find("{"), text.rfind("}")
    try:
        numbered = json.loads(text[start : end + 1]) if 0 <= start < end else None
    except ValueError:
        numbered = None
    if not isinstance(numbered, dict):
        raise FaultNotApplied(f"{fault.kind}:{fault.arg}: the content has no JSON object")
    if fault.arg not in numbered:
        raise FaultNotApplied(f"{fault.kind}:{fault.arg}: the content has no key {fault.arg!r}")
    if fault.kind == "drop":
        del numbered[fault.arg]
    else:
        numbered[fault.arg] = ""
    return text[:start] + json.dumps(numbered, ensure_ascii=False) + text[end + 1 :]


class FaultProxy:
    """Forwards 127.0.0.1 to an OpenAI-compatible ``upstream`` (``…/v1``); a context manager."""

    def __init__(self, upstream: str, upstream_timeout: float = 300.0):
        parts = urlsplit(upstream.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.path.endswith("/v1"):
            raise ValueError(f"upstream {upstream!r} is no http(s) base URL ending in /v1")
        self.upstream = parts
        self.upstream_timeout = upstream_timeout
        #: Faults still to serve, first first; the test fills it, chat requests empty it.
        self.faults: list[str] = []
        #: (path with query, JSON body or None) of every request, in order.
        self.requests: list[tuple[str, object]] = []
        #: The fault each chat request took, in order; None for one forwarded as is.
        self.served: list[str | None] = []
        #: What the proxy could not do: faults not carried out, an unreachable upstream, bugs.
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to give a client, ending in ``/v1``; known once entered."""
        if self._server is None:
            raise RuntimeError("the proxy listens only inside its with block")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FaultProxy:
        for spec in self.faults:
            parse_fault(spec)
        self._server = _ProxyServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fault-proxy", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        with self._lock:
            self._closing.set()
            for sock in self._sockets:
                _shut(sock)
        self._server.server_close()  # joins the request threads, each ended by now
        self._thread.join(timeout=10)

    def count(self, kind: str | None) -> int:
        """How many chat requests took a fault of ``kind`` (``"hang"``, ``"drop"``; None: none)."""
        with self._lock:
            kinds = [spec if spec is None else spec.partition(":")[0] for spec in self.served]
        return kinds.count(kind)

    def record(self, path: str, body: bytes) -> None:
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        with self._lock:
            self.requests.append((path, parsed))

    def take_fault(self) -> Fault | None:
        """The next fault for a chat request, or None; ValueError for one that is no fault."""
        with self._lock:
            spec = self.faults.pop(0) if self.faults else None
            self.served.append(spec)
        return None if spec is None else parse_fault(spec)

    def note_error(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)

    def track(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the proxy closes (at once if it is closing)."""
        with self._lock:
            self._sockets.add(sock)
            if self._closing.is_set():
                _shut(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    def wait_closing(self, seconds: float) -> bool:
        """Waits ``seconds``, or less if the proxy closes; True if it did."""
        return self._closing.wait(seconds)

    @contextmanager
    def upstream_response(
        self, method: str, target: str, headers: dict[str, str], body: bytes | None
    ) -> Iterator[http.client.HTTPResponse]:
        """The upstream's response to the request the proxy received for ``target``."""
        parts = self.upstream
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        conn = connection_class(parts.hostname, parts.port, timeout=self.upstream_timeout)
        conn.connect()
        sock = conn.sock
        self.track(sock)
        try:
            # The proxy's /v1 stands for the upstream's: a path under it keeps its place.
            conn.request(method, parts.path[: -len("/v1")] + target, body=body, headers=headers)
            with conn.getresponse() as response:
                yield response
        finally:
            self.untrack(sock)
            conn.close()


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):  # closed already
        sock.shutdown(socket.SHUT_RDWR)


class _ProxyServer(ThreadingHTTPServer):
    # Request threads are joined on close, and every one ends then: none is left behind.
    daemon_threads = False
    block_on_close = True

    def __init__(self, proxy: FaultProxy):
        self.proxy = proxy
        super().__init__(("127.0.0.1", 0), _Relay)

    def handle_error(self, request, client_address) -> None:
        # A client that gave up, or a connection cut by closing, is no error; a bug is kept.
        if self.proxy.closing or isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        self.proxy.note_error(traceback.format_exc())


class _Relay(BaseHTTPRequestHandler):
    """One request: recorded, maybe answered by its fault, else forwarded."""

    # One request a connection: a "close" fault and closing the proxy end it cleanly.
    protocol_version = "HTTP/1.0"
    server: _ProxyServer

    def setup(self) -> None:
        super().setup()
        threading.current_thread().name = "fault-proxy-request"
        self.server.proxy.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.proxy.untrack(self.connection)

    def log_message(self, format, *args) -> None:  # quiet: proxy.requests is the record
        pass

    def do_GET(self) -> None:
        self._relay()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _relay(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        proxy.record(self.path, body)
        path = urlsplit(self.path).path.rstrip("/")
        if self.command != "POST" or not path.endswith("/chat/completions"):
            return self._forward(body, None)
        try:
            fault = proxy.take_fault()
        except ValueError as e:
            proxy.note_error(str(e))
            return self._answer(500, [_JSON], error_body(500, f"fault proxy: {e}"))
        if fault is None or fault.kind in EDIT_FAULTS:
            return self._forward(body, fault)
        if fault.kind in STATUS_FAULTS:
            status = int(fault.kind)
            headers = [_JSON, ("Retry-After", "0")] if status == 429 else [_JSON]
            message = f"fault proxy: {status} {HTTPStatus(status).phrase}"
            return self._answer(status, headers, error_body(status, message))
        if fault.kind == "hang" and not proxy.wait_closing(fault.seconds):
            return self._forward(body, None)
        # "close", or a hang cut short by closing: the connection ends with no answer.
        self.close_connection = True

    def _forward(self, body: bytes, fault: Fault | None) -> None:
        proxy = self.server.proxy
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _OWN_REQUEST_HEADERS}
        try:
            with proxy.upstream_response(self.command, self.path, headers, body or None) as up:
                back = [
                    (k, v) for k, v in up.getheaders() if k.lower() not in _OWN_RESPONSE_HEADERS
                ]
                if up.getheader("Content-Type", "").startswith("text/event-stream"):
                    if fault is not None:
                        proxy.note_error(f"{fault.kind}: a streamed answer is not edited")
                    return self._stream(up, back)
                status, payload = up.status, up.read()
        except (OSError, http.client.HTTPException) as e:
            if proxy.closing:
                return
            proxy.note_error(f"upstream {self.command} {self.path}: {e!r}")
            message = f"fault proxy: the upstream did not answer: {e!r}"
            return self._answer(502, [_JSON], error_body(502, message))
        if fault is not None and status != 200:
            proxy.note_error(f"{fault.kind}: the upstream answered {status}, not edited")
        elif fault is not None:
            try:
                payload = edit_answer(payload, fault)
            except FaultNotApplied as e:
                proxy.note_error(str(e))
        self._answer(status, back, payload)

    def _answer(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, up: http.client.HTTPResponse, headers: list[tuple[str, str]]) -> None:
        """Passes a server-sent event stream on as it comes; the closed connection ends it."""
        self.send_response(up.status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        try:
            while chunk := up.read1(1 << 16):
                self.wfile.write(chunk)
                self.wfile.flush()
        except (OSError, http.client.HTTPException):
            pass  # either side hung up: the stream ends as a real server's would


_JSON = ("Content-Type", "application/json")
