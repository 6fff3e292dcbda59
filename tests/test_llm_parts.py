"""The instruction-model backends' parts that need no model: batches, answers, config, choice.

What a real model and a real server do with them is tests/test_llm_translation.py's.
"""

from __future__ import annotations

import socket

import pytest

from autokr.core.config import output_settings, validate_config
from autokr.core.errors import ConfigError
from autokr.models import choice
from autokr.translation import prompt
from autokr.translation.openai_server import Server, ServerError, base_url, check
from autokr.translation.scenes import SceneOptions, scenes


def test_a_long_pause_a_count_or_a_length_starts_a_new_batch():
    times = [(0, 1), (1.5, 2), (2.2, 3), (7, 8), (8.1, 9), (9.2, 10), (10.1, 11)]
    texts = ["あ" * 10] * 7
    options = SceneOptions(scene_pause=3.0, batch_sentences=3, batch_chars=1500)
    # 3 -> 7 s is a scene change; the second scene is cut at three sentences.
    assert scenes(times, texts, options) == [[0, 1, 2], [3, 4, 5], [6]]
    narrow = SceneOptions(scene_pause=3.0, batch_sentences=12, batch_chars=25)
    assert scenes(times, texts, narrow) == [[0, 1], [2], [3, 4], [5, 6]]
    assert scenes([], [], options) == []


def test_the_prompt_numbers_the_lines_after_their_context_and_lists_the_terms():
    context, terms = (("こんにちは。", "안녕하세요."),), (("千尋", "치히로", "heroine"),)
    request = prompt.Request(("千尋、行くよ。", "はい。"), context, terms)
    system, user = prompt.messages("Japanese", "Korean", "반말로.", request)
    assert "from Japanese into Korean" in system["content"]
    assert "千尋 = 치히로 (heroine)" in system["content"]
    assert system["content"].endswith("반말로.")
    assert user["content"] == (
        "Translated just before (context only):\nこんにちは。 => 안녕하세요.\n\n"
        "Translate:\n1. 千尋、行くよ。\n2. はい。"
    )
    assert prompt.answer_schema(2)["required"] == ["1", "2"]


@pytest.mark.parametrize(
    "answer",
    [
        '{"1": "가", "2": "나"}',
        '<think>The user wants\n{"1": "x"}</think>\n{"1": "가", "2": "나"}',
        'Here you go:\n```json\n{"1": " 가 ", "2": "나"}\n```',
        'Let me count {braces} first.\n</think>\n\n{"1": "가", "2": "나"}',
        '{"1.": "가", "2": "나"}',
    ],
)
def test_an_answer_is_read_past_reasoning_fences_and_chatter(answer):
    assert prompt.read_answer(answer, 2) == {1: "가", 2: "나"}


def test_an_unfinished_reasoning_block_or_no_json_is_no_answer():
    assert prompt.read_answer('{"1": "가"}', 2) == {1: "가"}  # a missing number: the caller's
    unasked = '{"1": "가", "2": "나", "3": "다"}'  # a line split in two
    for answer in (
        "<think>still thinking about 1",
        "Sorry, I cannot.",
        '{"1": "가"',
        "[1, 2]",
        unasked,
    ):
        with pytest.raises(prompt.AnswerError):
            prompt.read_answer(answer, 2)


def test_the_server_url_takes_v1_once():
    assert base_url("http://localhost:11434") == "http://localhost:11434/v1"
    assert base_url("http://localhost:11434/v1/") == "http://localhost:11434/v1"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_server_that_is_down_is_tried_again_with_longer_waits_then_one_error():
    waits = []
    server = Server(f"http://127.0.0.1:{_closed_port()}", "m", retries=3, sleep=waits.append)
    with pytest.raises(ServerError, match=r"connection refused.*4 tries"):
        server.complete([{"role": "user", "content": "1"}], None, 8)
    assert waits == [1.0, 2.0, 4.0]
    line = check(Server(server.server, "m", retries=0))
    assert line.startswith(f"translate.llm.server {server.server} does not answer")


def _config(**translate) -> dict:
    return validate_config({"translate": translate}, check_targets=False)


def test_openai_needs_a_server_and_a_model_name():
    with pytest.raises(ConfigError, match=r"translate\.llm\.server"):
        _config(backend="openai", llm={"model": "qwen2.5:7b"})
    with pytest.raises(ConfigError, match=r"translate\.llm\.model"):
        _config(backend="openai", llm={"server": "http://localhost:11434"})
    _config(backend="openai", llm={"server": "http://localhost:11434", "model": "qwen2.5:7b"})


def test_the_instruction_model_decides_reruns_only_when_it_translates():
    llm = {"server": "http://h:1", "model": "m", "timeout": 30, "jobs": 4, "api_key_env": "K"}
    nllb = _config(llm=llm, instructions="반말로.")
    assert output_settings(nllb, "translate") == {}  # as before the LLM backends came
    asked = output_settings(_config(backend="openai", llm=llm, instructions="반말로."), "translate")
    assert asked == {
        "backend": "openai",
        "instructions": "반말로.",
        "llm": {"model": "m", "server": "http://h:1"},  # not the time-out, jobs or key's name
    }


def test_auto_keeps_nllb_on_the_cpu_and_picks_by_free_card_memory():
    config = _config(backend="llm", device="cpu")
    resolved = choice.resolve(config, decide=True, path=None, steps=("translate",))
    assert config["translate"]["backend"] == "ctranslate2"
    assert "no CUDA card" in resolved.lines[0] and "NLLB" in resolved.lines[0]
    on_card = choice.choose(choice.LLM, choice.Machine("cuda", 20.0))
    assert on_card.model == "Qwen/Qwen2.5-7B-Instruct"
    small = choice.choose(choice.LLM, choice.Machine("cuda", 6.0))
    assert small.model == "" and "NLLB" in small.why


def test_a_server_whose_model_list_fails_is_asked_by_the_model_s_name():
    """transformers serve answers /v1/models with a 500 when there is no Hub cache."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_error(500)

        def do_POST(self):
            body = json.dumps({"choices": [{"message": {"content": "1"}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Handler) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            assert check(Server(f"http://127.0.0.1:{httpd.server_port}", "m")) is None
        finally:
            httpd.shutdown()
