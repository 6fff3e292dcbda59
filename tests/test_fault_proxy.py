"""The fault proxy: each fault does what it says, the rest passes through, closing is clean."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from fault_proxy import GARBAGE, THINKING, FaultProxy, parse_fault

CONTENT = '{"1": "가", "2": "나"}'
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "tiny",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": CONTENT, "reasoning_content": "hmm"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 9, "completion_tokens": 9, "total_tokens": 18},
}
MODELS = {"object": "list", "data": [{"id": "tiny", "object": "model", "owned_by": "test"}]}
CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "1. あ\n2. い"}]}


class Upstream:
    """A tiny OpenAI-compatible server: fixed answers, and a record of what reached it."""

    def __init__(self):
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.release = threading.Event()  # a "slow" chat request waits for it
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

            def do_GET(self):
                self.do_POST()

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                upstream.seen.append((self.command, self.path, dict(self.headers)))
                path = urlsplit(self.path).path
                if path == "/v1/models":
                    return self.answer(200, MODELS, {"X-Upstream": "yes"})
                if path == "/v1/busy":
                    return self.answer(429, {"error": {"message": "busy"}}, {"Retry-After": "7"})
                if path == "/v1/chat/completions" and body.get("slow"):
                    upstream.release.wait(30)
                if path == "/v1/chat/completions" and body.get("stream"):
                    return self.stream()
                if path == "/v1/chat/completions":
                    return self.answer(200, COMPLETION, {"X-Request-Id": "req-1"})
                self.answer(404, {"error": {"message": "not found"}})

            def answer(self, status, payload, headers=None):
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def stream(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                self.wfile.write(b'data: {"n": 1}\n\ndata: [DONE]\n\n')

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def chats(self) -> int:
        return sum(1 for method, path, _ in self.seen if path.endswith("/chat/completions"))


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def content(self) -> str:
        return self.json()["choices"][0]["message"]["content"]


def call(url, path="/chat/completions", body=CHAT, method="POST", headers=None, timeout=5.0):
    """One request to ``url + path``, as a client of an OpenAI-compatible server makes it."""
    parts = urlsplit(url + path)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=data, headers=all_headers)
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def call_in_thread(url: str, body: dict = CHAT) -> tuple[threading.Thread, list]:
    """A chat request made in a thread; the list gets what it raised or answered."""
    outcome = []

    def client():
        try:
            outcome.append(call(url, body=body, timeout=20))
        except Exception as e:
            outcome.append(e)

    thread = threading.Thread(target=client)
    thread.start()
    return thread, outcome


def proxy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fault-proxy")]


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    thread = threading.Thread(target=server.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.server.shutdown()
    server.server.server_close()
    thread.join()


@pytest.fixture
def proxy(upstream, capfd) -> Iterator[FaultProxy]:
    """A running proxy; afterwards, no thread of it is left and it printed nothing."""
    with FaultProxy(upstream.url) as running:
        yield running
    assert proxy_threads() == []
    assert capfd.readouterr().err == ""


def test_requests_pass_through_with_their_headers(proxy, upstream):
    reply = call(
        proxy.url, "/models?limit=5", body=None, method="GET", headers={"Authorization": "Bearer k"}
    )
    assert (reply.status, reply.json()) == (200, MODELS)
    assert reply.headers["X-Upstream"] == "yes"
    assert reply.headers["Content-Type"] == "application/json"
    method, path, headers = upstream.seen[0]
    assert (method, path, headers["Authorization"]) == ("GET", "/v1/models?limit=5", "Bearer k")

    reply = call(proxy.url)
    assert reply.json() == COMPLETION
    assert reply.headers["X-Request-Id"] == "req-1"
    assert proxy.requests == [("/v1/models?limit=5", None), ("/v1/chat/completions", CHAT)]
    assert proxy.served == [None]
    assert proxy.errors == []


def test_upstream_errors_and_retry_after_pass_through(proxy):
    reply = call(proxy.url, "/busy", body=None, method="GET")
    assert (reply.status, reply.headers["Retry-After"]) == (429, "7")
    assert reply.json() == {"error": {"message": "busy"}}


@pytest.mark.parametrize("status", ["429", "500", "502", "503"])
def test_status_faults_answer_without_forwarding(proxy, upstream, status):
    proxy.faults.append(status)
    reply = call(proxy.url)
    assert reply.status == int(status)
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json()["error"]["message"]
    assert reply.headers["Retry-After"] == ("0" if status == "429" else None)
    assert upstream.chats() == 0
    assert call(proxy.url).json() == COMPLETION  # the fault is used up
    assert proxy.served == [status, None]


def test_faults_are_taken_in_order_and_counted(proxy, upstream):
    proxy.faults.extend(["503", "429", "hang:0", "drop:1"])
    statuses = [call(proxy.url).status for _ in range(5)]
    assert statuses == [503, 429, 200, 200, 200]
    assert proxy.served == ["503", "429", "hang:0", "drop:1", None]
    assert (proxy.count("429"), proxy.count("hang"), proxy.count(None)) == (1, 1, 1)
    assert upstream.chats() == 3
    models = call(proxy.url, "/models", body=None, method="GET")
    assert models.status == 200 and len(proxy.served) == 5  # only chat requests take faults


def test_hang_delays_the_answer(proxy):
    proxy.faults.append("hang:0.3")
    start = time.monotonic()
    reply = call(proxy.url)
    assert time.monotonic() - start >= 0.3
    assert reply.json() == COMPLETION


def test_a_client_that_gives_up_on_a_hang_is_no_error(proxy, upstream):
    proxy.faults.extend(["hang:0.3", "hang:30"])
    for _ in range(2):
        with pytest.raises(TimeoutError):
            call(proxy.url, timeout=0.1)
    deadline = time.monotonic() + 5
    while upstream.chats() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # the proxy answers the first into a closed connection
    assert upstream.chats() == 1
    assert proxy.errors == []


def test_closing_during_a_hang_is_prompt_and_leaves_nothing(upstream, capfd):
    with FaultProxy(upstream.url) as proxy:
        proxy.faults.append("hang:30")
        port = urlsplit(proxy.url).port
        waiting, outcome = call_in_thread(proxy.url)
        while not proxy.requests:
            time.sleep(0.01)
        start = time.monotonic()
    assert time.monotonic() - start < 2
    waiting.join(timeout=5)
    assert isinstance(outcome[0], ConnectionError)  # dropped unanswered, not hung
    assert upstream.chats() == 0
    assert proxy_threads() == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
    assert capfd.readouterr().err == ""


def test_closing_while_the_upstream_answers_is_prompt(upstream, capfd):
    with FaultProxy(upstream.url) as proxy:
        waiting, outcome = call_in_thread(proxy.url, {**CHAT, "slow": True})
        while not upstream.chats():
            time.sleep(0.01)
        start = time.monotonic()
    assert time.monotonic() - start < 2
    waiting.join(timeout=5)
    assert isinstance(outcome[0], ConnectionError)
    assert proxy_threads() == []
    assert capfd.readouterr().err == ""


def test_closing_with_an_idle_client_connected_is_prompt(upstream):
    with FaultProxy(upstream.url) as proxy:
        idle = socket.create_connection(("127.0.0.1", urlsplit(proxy.url).port))
        time.sleep(0.1)  # accepted, and waiting for a request that never comes
        start = time.monotonic()
    assert time.monotonic() - start < 2
    idle.close()
    assert proxy_threads() == []


def test_close_drops_the_connection_unanswered(proxy, upstream):
    proxy.faults.append("close")
    with pytest.raises(http.client.RemoteDisconnected):
        call(proxy.url)
    assert upstream.chats() == 0
    assert proxy.served == ["close"]


def test_think_puts_reasoning_before_the_content(proxy):
    proxy.faults.append("think")
    answer = call(proxy.url).json()
    message = answer["choices"][0]["message"]
    assert message == {"role": "assistant", "content": THINKING + CONTENT}
    assert {k: v for k, v in answer.items() if k != "choices"} == {
        k: v for k, v in COMPLETION.items() if k != "choices"
    }


@pytest.mark.parametrize(
    ("fault", "numbered"),
    [("drop:2", {"1": "가"}), ("drop:1", {"2": "나"}), ("empty:1", {"1": "", "2": "나"})],
)
def test_drop_and_empty_edit_the_numbered_object(proxy, fault, numbered):
    proxy.faults.append(fault)
    reply = call(proxy.url)
    assert json.loads(reply.content) == numbered
    assert reply.json()["choices"][0]["message"]["reasoning_content"] == "hmm"
    assert proxy.errors == []


def test_garbage_is_no_json(proxy):
    proxy.faults.append("garbage")
    content = call(proxy.url).content
    assert content == GARBAGE
    with pytest.raises(ValueError):
        json.loads(content)


def test_a_fault_it_cannot_carry_out_is_recorded(proxy):
    proxy.faults.extend(["drop:7", "nonsense"])
    assert call(proxy.url).json() == COMPLETION
    assert "no key '7'" in proxy.errors[0]
    reply = call(proxy.url)
    assert reply.status == 500 and "nonsense" in reply.json()["error"]["message"]
    assert len(proxy.errors) == 2


@pytest.mark.parametrize("spec", ["hang", "hang:x", "drop", "empty:", "429:1", "teapot"])
def test_bad_faults_are_refused(spec, upstream):
    with pytest.raises(ValueError):
        parse_fault(spec)
    proxy = FaultProxy(upstream.url)
    proxy.faults.append(spec)
    with pytest.raises(ValueError), proxy:
        pass
    assert proxy_threads() == []


def test_streams_pass_through(proxy):
    reply = call(proxy.url, body={**CHAT, "stream": True})
    assert reply.headers["Content-Type"] == "text/event-stream"
    assert reply.body == b'data: {"n": 1}\n\ndata: [DONE]\n\n'


def test_an_upstream_that_is_gone_is_a_502(capfd):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}/v1"
    with FaultProxy(url) as proxy:
        reply = call(proxy.url)
    assert reply.status == 502 and reply.json()["error"]["message"]
    assert len(proxy.errors) == 1
    assert capfd.readouterr().err == ""


def test_upstream_must_be_a_v1_base_url():
    with pytest.raises(ValueError, match="/v1"):
        FaultProxy("http://127.0.0.1:1/api")
