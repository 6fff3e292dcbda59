"""`snakemake --report report.html` after a real run, opened in a real headless browser.

Two good videos and one that fails; the report is loaded in Debian's chromium
and watched through the DevTools protocol (a small client over its websocket):
what the console says, what the page fetches, what the table and the plots
show once clicked open as a user would. Skipped, with the reason, where
chromium is not installed (browsers cannot be downloaded here).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from autokr.core.records import QA, Run, Segment, Span, Transcript, Word
from autokr.reports.html_report import Row, render_page
from autokr.reports.timeline import cue_spans, speech_spans
from runs import configure, copy_project, snakemake

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (apt-get install chromium); "
    "the report's browser test needs a real browser",
)
#: Good videos (id -> test medium); one name a page shows wrong unless it escapes it.
GOOD = {"one": "one.mkv", "season 1/Tom &amp; Jerry's": "two.webm"}
BROKEN = "broken"
#: Seconds the browser may take to show something once asked.
WAIT_SECONDS = 120
#: Headless, as root, and quiet: no first-run pages, no updates or other background fetches.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--remote-debugging-port=0",
]


@pytest.fixture(scope="module")
def project(tmp_path_factory, whisper_model, nllb_model, media):
    """A finished run over the good videos and a broken one (which fails)."""
    root = copy_project(tmp_path_factory.mktemp("report"))
    configure(root, whisper_model, nllb_model)
    for video, medium in GOOD.items():
        path = root / "videos" / (video + Path(medium).suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(media[medium], path)
    (root / "videos" / f"{BROKEN}.mp4").write_bytes(random.Random(0).randbytes(2048))
    run = snakemake(root)
    assert run.returncode != 0, "the broken video must fail the run"
    assert f"autokr: videos/{BROKEN}.mp4: not a readable video" in run.stderr
    return root


@pytest.fixture(scope="module")
def report(project) -> Path:
    made = snakemake(project, "--report", "report.html")
    assert made.returncode == 0, made.stderr[-3000:]
    return project / "report.html"


@pytest.mark.workflow
def test_the_report_is_one_file_with_the_batch_and_the_plots(project, report):
    text = report.read_text(encoding="utf-8")
    results = json.loads(_script_value(text, "results"))
    plots = [r for r in results.values() if r["mime_type"] == "image/png"]
    assert sorted(r["labels"]["video"] for r in plots) == sorted(GOOD)
    assert {Path(p).name for p in results} >= {"batch.html", "summary.md"}
    # Every result travels inside the page, none beside it.
    assert all(r["data_uri"].startswith("data:") for r in results.values())


def _script_value(page: str, name: str) -> str:
    """The JSON a report assigns to ``var NAME = ...;`` in its <script id="NAME">."""
    block = page.index(f'<script id="{name}">')
    start = page.index(f"var {name} = ", block) + len(f"var {name} = ")
    return page[start : page.index(";\n", start)]


@dataclass
class Visit:
    """What the browser showed and did while a user looked through the report."""

    landing: str = ""
    rows: list[dict] = field(default_factory=list)
    config: str = ""
    plots: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def visit(report) -> Visit:
    """The report opened in headless chromium: the landing page, the table, every plot."""
    url = report.resolve().as_uri()
    with DevTools(CHROMIUM) as browser:
        browser.open(url)
        seen = Visit(landing=browser.evaluate("document.body.innerText"))
        browser.click_menu("Batch")
        seen.rows, seen.config = read_batch_page(browser, "results/report/batch.html")
        browser.open(url)
        browser.click_menu("Timelines")
        seen.plots = show_plots(browser)
        browser.call("Browser.getVersion")  # a round trip: every earlier event is in
        seen.errors, seen.requests = browser.errors(), browser.requests()
    return seen


def read_batch_page(browser: DevTools, path: str) -> tuple[list[dict], str]:
    """Open the result ``path`` (the batch page) from the list; read its table and its config."""
    browser.click_row(path)
    frame = browser.wait_for_frame("data:text/html")
    world = browser.call("Page.createIsolatedWorld", frameId=frame, worldName="test")
    context = world["executionContextId"]
    browser.wait_for("document.querySelector('#videos tbody tr') !== null", context)
    rows = browser.evaluate(
        """[...document.querySelectorAll('#videos tbody tr')].map(tr => ({
            video: tr.cells[0].textContent, state: tr.cells[1].textContent,
            text: tr.innerText}))""",
        context,
    )
    return rows, browser.evaluate("document.querySelector('#config').textContent", context)


def show_plots(browser: DevTools) -> dict[str, int]:
    """Click open every result of the current list; the natural width of each image shown."""
    labels = browser.evaluate(
        "[...document.querySelectorAll('nav table tbody tr')].map(tr => tr.cells[0].textContent)"
    )
    widths = {}
    for label in labels:
        uri = browser.evaluate(
            f"Object.values(results).find(r => r.labels && r.labels.video === {json.dumps(label)})"
            ".data_uri"
        )
        browser.click_row(label)
        shown = f"[...document.images].find(image => image.src === {json.dumps(uri)})"
        browser.wait_for(f"({shown})?.complete === true")
        widths[label] = browser.evaluate(f"({shown}).naturalWidth")
    return widths


@needs_chromium
@pytest.mark.workflow
def test_the_table_has_a_row_per_video_failed_ones_too(visit):
    assert sorted(row["video"] for row in visit.rows) == sorted([*GOOD, BROKEN])
    states = {row["video"]: row["state"] for row in visit.rows}
    assert states == {**dict.fromkeys(GOOD, "done"), BROKEN: "failed"}
    [broken] = [row for row in visit.rows if row["video"] == BROKEN]
    assert "extract_audio: videos/broken.mp4: not a readable video" in broken["text"]
    assert "results/logs/extract_audio/broken.log" in broken["text"]


@needs_chromium
@pytest.mark.workflow
def test_every_plot_is_there(visit):
    assert sorted(visit.plots) == sorted(GOOD)
    assert all(width > 0 for width in visit.plots.values()), visit.plots


@needs_chromium
@pytest.mark.workflow
def test_the_landing_page_says_what_is_in_the_report(visit):
    assert "a table with a row for every video" in visit.landing
    assert "its speech against its cues" in visit.landing


@needs_chromium
@pytest.mark.workflow
def test_the_batch_page_shows_the_config_of_the_run(visit, whisper_model):
    config = yaml.safe_load(visit.config)
    assert config["source_language"] == "ja"
    assert config["transcribe"]["model"] == str(whisper_model)
    assert config["subtitles"]["formats"] == ["srt"]  # a default, filled in


@needs_chromium
@pytest.mark.workflow
def test_nothing_goes_wrong_in_the_console(visit):
    assert visit.errors == []


@needs_chromium
@pytest.mark.workflow
def test_the_page_fetches_nothing(visit, report):
    fetched = [url for url in visit.requests if not url.startswith("data:")]
    assert fetched == [report.resolve().as_uri()] * len(fetched) and fetched, visit.requests


@needs_chromium
def test_the_browser_watch_sees_errors_and_requests(tmp_path):
    # The checks above can fail: the same watch sees a page that errs and fetches.
    page = tmp_path / "bad.html"
    page.write_text(
        '<img src="http://127.0.0.1:9/missing.png"><script>console.error("seen");'
        "undefined_function();</script>",
        encoding="utf-8",
    )
    with DevTools(CHROMIUM) as browser:
        browser.open(page.as_uri())
        browser.wait_for("document.readyState === 'complete'")
        browser.call("Browser.getVersion")
        errors, requests = browser.errors(), browser.requests()
    assert any("seen" in line for line in errors), errors
    assert any("undefined_function" in line for line in errors), errors
    assert "http://127.0.0.1:9/missing.png" in requests


class DevTools:
    """Headless chromium, one page of it driven and watched through the DevTools protocol.

    Every target the page opens (a frame in its own process, a worker) is
    attached too, so what it logs or fetches is seen as well.
    """

    def __init__(self, chromium: str):
        self.profile = Path(tempfile.mkdtemp(prefix="autokr-chromium-"))
        self.log = self.profile / "chromium.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,  # its own process group, so that it goes whole
            )
        self.events: list[dict] = []
        self._replies: dict[int, dict] = {}
        self._attached: list[str] = []
        self._sent = 0
        self.session = None

    def __enter__(self) -> DevTools:
        import websocket

        try:
            address = self._address()
            self.socket = websocket.create_connection(address, timeout=60, suppress_origin=True)
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            attached = self.call("Target.attachToTarget", targetId=target, flatten=True)
        except BaseException:
            self.__exit__()
            raise
        self.session = attached["sessionId"]
        self._watch(self.session)
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # the browser and every helper it forked
        self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _address(self) -> str:
        """The browser's websocket, from the port file chromium writes once it listens."""
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + WAIT_SECONDS
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited: {self.log.read_text()[-2000:]}")
            assert time.monotonic() < deadline, "chromium did not start listening"
            time.sleep(0.05)
        port, path = port_file.read_text().split()[:2]
        return f"ws://127.0.0.1:{port}{path}"

    def call(self, method: str, session: str | None = None, **params) -> dict:
        """Send one command (to the page's session unless told) and return its result."""
        self._sent += 1
        number = self._sent
        message = {"id": number, "method": method, "params": params}
        if session or self.session:
            message["sessionId"] = session or self.session
        self.socket.send(json.dumps(message))
        while number not in self._replies:
            self._receive()
        reply = self._replies.pop(number)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        while self._attached:  # set up what was attached while waiting, then let it run
            child = self._attached.pop(0)
            self._watch(child)
            self.call("Runtime.runIfWaitingForDebugger", child)
        return reply["result"]

    def _receive(self) -> None:
        message = json.loads(self.socket.recv())
        if "id" in message:
            self._replies[message["id"]] = message
            return
        self.events.append(message)
        if message["method"] == "Target.attachedToTarget":
            self._attached.append(message["params"]["sessionId"])

    def _watch(self, session: str) -> None:
        """Report the console, errors and requests of ``session``, and attach what it opens."""
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.call(f"{domain}.enable", session)
        self.call(
            "Target.setAutoAttach",
            session,
            autoAttach=True,
            waitForDebuggerOnStart=True,
            flatten=True,
        )

    def open(self, url: str) -> None:
        """Load ``url`` and wait until the report's app has drawn (or the page loaded)."""
        before = len(self.events)
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + WAIT_SECONDS
        while not any(e["method"] == "Page.loadEventFired" for e in self.events[before:]):
            assert time.monotonic() < deadline, f"{url} never finished loading"
            self.evaluate("0")  # a round trip, to take in the events sent meanwhile
            time.sleep(0.05)
        self.wait_for("typeof app === 'undefined' || document.querySelector('nav') !== null")

    def evaluate(self, expression: str, context: int | None = None):
        """The value of a JavaScript expression in the page (or in an execution context)."""
        where = {"contextId": context} if context else {}
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True, **where)
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, expression: str, context: int | None = None) -> None:
        """Poll until ``expression`` is true, as a user waits for the page to show it."""
        deadline = time.monotonic() + WAIT_SECONDS
        while not self.evaluate(expression, context):
            assert time.monotonic() < deadline, f"the page never showed: {expression}"
            time.sleep(0.05)

    def wait_for_frame(self, prefix: str) -> str:
        """The id of a frame of the page whose address starts with ``prefix``."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            tree = self.call("Page.getFrameTree")["frameTree"]
            found = [
                f["frame"]["id"] for f in _frames(tree) if f["frame"]["url"].startswith(prefix)
            ]
            if found:
                return found[0]
            assert time.monotonic() < deadline, f"no frame shows {prefix}"
            time.sleep(0.05)

    def click_menu(self, text: str) -> None:
        """Click the link of the left-hand menu that reads ``text``."""
        self._click(
            f"[...document.querySelectorAll('nav a')].find(a => a.textContent.trim() === "
            f"{json.dumps(text)})"
        )

    def click_row(self, first_cell: str) -> None:
        """Click the view button (the first button) of the result listed as ``first_cell``."""
        self._click(
            "[...document.querySelectorAll('nav table tbody tr')].find(tr => "
            f"tr.cells[0].textContent.trim() === {json.dumps(first_cell)})?.querySelector('a')"
        )

    def _click(self, element: str) -> None:
        self.wait_for(f"({element}) != null")
        self.evaluate(f"({element}).click()")

    def errors(self) -> list[str]:
        """What went wrong on the page: console errors, uncaught exceptions, error log entries."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a)) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(details.get("exception", {}).get("description", details["text"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"{params['entry']['text']} ({params['entry'].get('url', '')})")
        return found

    def requests(self) -> list[str]:
        """The address of every request the page (or anything it opened) sent."""
        return [
            event["params"]["request"]["url"]
            for event in self.events
            if event["method"] == "Network.requestWillBeSent"
        ]


def _frames(tree: dict) -> list[dict]:
    """Every frame of a frame tree, the top one first."""
    return [tree, *(f for child in tree.get("childFrames", []) for f in _frames(child))]


def test_the_table_escapes_what_it_shows():
    qa = QA(
        video="<b>x</b> & y",
        duration=10.0,
        language="ja",
        language_probability=0.99,
        cues={"ja": 2, "ko": 2},
        decisions=(),
        retries={"ko": ()},
        rule_breaks={"ja": [], "ko": []},
        seconds={"transcribe": 4.25, "make_srt": 0.01},
        attempts={"transcribe": 2},
        peak_memory_mb={"transcribe": 370.0},
        gpu_peak_mb={"transcribe": 1200.0},
    )
    page = render_page([Row(qa.video, "done", qa=qa)], "# <summary>", "videos: <v>\n", 0.0)
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in page and "<b>x</b>" not in page
    assert "&lt;summary&gt;" in page and "videos: &lt;v&gt;" in page
    assert "2 (transcribe)" in page  # tries, and the step that needed them
    assert "transcribe 370 MB (GPU 1200 MB)" in page
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched


def test_words_close_together_are_one_stretch_of_speech():
    words = (Word(1.0, 1.5, "a", 1.0), Word(1.6, 2.0, "b", 1.0), Word(4.0, 4.5, "c", 1.0))
    seg = Segment(1.0, 4.5, "abc", 0.0, 0.0, 1.0, words=words)
    bare = Segment(7.0, 8.0, "d", 0.0, 0.0, 1.0)  # no word timings: counts whole
    transcript = Transcript("ja", 1.0, 9.0, (seg, bare), {}, Run("cpu", "int8", 0.0, 1.0))
    assert speech_spans(transcript) == (Span(1.0, 2.0), Span(4.0, 4.5), Span(7.0, 8.0))


def test_cues_are_read_from_srt_and_webvtt(tmp_path):
    srt_file = tmp_path / "a.ko.srt"
    srt_file.write_text("1\n00:00:01,000 --> 00:00:02,500\n안녕\n", encoding="utf-8")
    vtt_file = tmp_path / "a.ko.vtt"
    vtt_file.write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\n안녕\n\n01:02.000 --> 01:03.250\nx\n",
        encoding="utf-8",
    )
    assert cue_spans(srt_file) == (Span(1.0, 2.5),)
    assert cue_spans(vtt_file) == (Span(1.0, 2.5), Span(62.0, 63.25))
