"""translate.backend openai and llm through their real code: a tiny chat checkpoint laid out
as a Hub instruction model (testkit/chat_model.py), served by the real ``transformers serve``
on loopback behind a proxy that injects faults (testkit/fault_proxy.py), or loaded in the job.
Its weights are random, so no answer of it comes right: every sentence must reach the NLLB
fallback, here the rule NLLB model, whose substitution gives each sentence one right
translation. The whole workflow with backend openai is tests/test_every_cue.py's.
"""

# ruff: noqa: F811 (the fixtures imported below are parameters of the tests)

from __future__ import annotations

from pathlib import Path

import pytest

import chat_server
from autokr.core.records import read_translation
from autokr.translation import mt, openai_server
from autokr.translation.glossary import Glossary, Term
from autokr.translation.llm_backend import Instructed
from autokr.translation.prompt import PROMPT_VERSION
from autokr.translation.scenes import FALLBACK, SceneOptions
from autokr.translation.transcript_translation import translate_transcript
from fault_proxy import FaultProxy
from runs import add_videos, configure, copy_project, set_config, snakemake

# The chat checkpoint, its server (chat) and the rule are test_every_cue's fixtures.
from test_every_cue import GLOSSARY, SPOKEN, TEXTS, chat, chat_model, rule, split_video, with_terms  # noqa: F401
from test_translate import make_transcript, rule_model  # noqa: F401 (a fixture)

SAID = ["".join(piece for piece, _ in sentence) for sentence in SPOKEN]
#: Two batches of three sentences.
SCENES = SceneOptions(batch_sentences=3, context_sentences=2)


@pytest.fixture
def proxy(chat, monkeypatch):
    # Waits between tries of a tenth of their length: the same back-off, quicker.
    monkeypatch.setattr(openai_server, "FIRST_WAIT", 0.1)
    with FaultProxy(chat.url) as proxy:
        yield proxy
        assert not proxy.errors, proxy.errors


@pytest.fixture(scope="module")
def transcript(tmp_path_factory) -> Path:
    """The test sentences, 0.5 s apart: one scene, in batches of three."""
    path = tmp_path_factory.mktemp("llm") / "transcript.json"
    make_transcript(path, SAID)
    return path


def translate(transcript, out, rule_model, instructed, glossary=None):
    options = mt.TranslateOptions(
        model=str(rule_model), backend="ctranslate2", batch_size=4, no_repeat_ngram_size=0
    )
    translate_transcript(
        str(transcript),
        str(out),
        source="ja",
        target="ko",
        options=options,
        device="cpu",
        threads=2,
        glossary=glossary,
        instructed=instructed,
    )
    translation = read_translation(out)
    by_sentence: dict[int, list[str]] = {}
    for cue in translation.cues:
        by_sentence.setdefault(cue.sentence, []).append(cue.text)
    outputs = [" ".join(" ".join(by_sentence[i]).split()) for i in range(len(SAID))]
    return translation, outputs


def served(url: str, model: str, **settings) -> Instructed:
    """backend openai at ``url``; short time-outs and waits, for the fault tests."""
    settings = {"timeout": 20.0, "retries": 2, "scenes": SCENES, **settings}
    return Instructed("openai", model, url, **settings)


def test_answers_that_never_come_right_are_translated_by_nllb(
    chat, proxy, transcript, rule_model, rule, tmp_path, monkeypatch
):
    monkeypatch.setenv("AUTOKR_TEST_KEY", "sk-test-secret")
    glossary = Glossary(tuple(Term(s, t, "a term") for s, t in GLOSSARY.items()))
    instructed = served(proxy.url, chat.model, api_key_env="AUTOKR_TEST_KEY")
    out = tmp_path / "translation.ko.json"
    translation, outputs = translate(transcript, out, rule_model, instructed, glossary)

    # NLLB's translations, the glossary's terms written in as for the model.
    assert outputs == [rule.apply(with_terms(text)) for text in SAID]
    assert [r.method for r in translation.retries] == [FALLBACK] * len(SAID)
    assert all("no JSON object" in r.problems[0] for r in translation.retries)
    assert {c.method for c in translation.cues} == {f"retried: {FALLBACK}"}
    assert not translation.glossary_missing
    assert translation.settings["llm"]["model"] == chat.model
    assert translation.settings["llm"]["server"] == proxy.url
    assert "sk-test-secret" not in out.read_text(encoding="utf-8")

    # Each batch of three: asked whole, then 2 + 1, then 1 + 1, ending at single
    # sentences that go to NLLB: five asks a batch.
    chats = [body for path, body in proxy.requests if path.endswith("/chat/completions")]
    assert len(chats) == 10
    first = chats[0]
    assert first["response_format"]["json_schema"]["schema"]["required"] == ["1", "2", "3"]
    assert first["chat_template_kwargs"] == {"enable_thinking": False}
    assert first["temperature"] == 0 and first["model"] == chat.model
    assert [len(c["response_format"]["json_schema"]["schema"]["required"]) for c in chats[:5]] == [
        3,
        2,
        1,
        1,
        1,
    ]
    # The terms said in a batch are in its instructions; its lines have them written in.
    system, user = first["messages"][0]["content"], first["messages"][1]["content"]
    assert "ラーメン = 라멘 (a term)" in system and "東京" not in system
    second = chats[5]["messages"][0]["content"]  # 東京 and 紅茶 are said in the second batch
    assert "東京 = 도쿄 (a term)" in second and "紅茶 = 홍차 (a term)" in second
    assert f"1. {with_terms(SAID[0])}" in user


def test_errors_time_outs_and_cut_connections_are_tried_again(
    chat, proxy, transcript, rule_model, rule, tmp_path
):
    # The first ask meets a 429, a time-out, a cut connection and a 500 before the
    # server answers; every later ask is answered at once.
    proxy.faults += ["429", "hang:15", "close", "500"]
    instructed = served(proxy.url, chat.model, timeout=6.0, retries=4)
    translation, outputs = translate(transcript, tmp_path / "t.json", rule_model, instructed)
    assert outputs == [rule.apply(text) for text in SAID]
    assert proxy.served[:5] == ["429", "hang:15", "close", "500", None]
    assert all("no JSON object" in r.problems[0] for r in translation.retries)


def test_a_server_that_stays_down_never_hangs_the_job(
    chat, proxy, transcript, rule_model, rule, tmp_path
):
    proxy.faults += ["503"] * 20
    pairs = SceneOptions(batch_sentences=2, context_sentences=2)
    instructed = served(proxy.url, chat.model, retries=1, scenes=pairs)
    translation, outputs = translate(transcript, tmp_path / "t.json", rule_model, instructed)
    assert outputs == [rule.apply(text) for text in SAID]
    # Two tries of each of the first two batches; the third goes to NLLB unasked.
    assert proxy.served == ["503", "503", "503", "503"]
    assert all(r.method == FALLBACK for r in translation.retries)
    assert "no answer" in translation.retries[0].problems[0]
    assert "no answer to earlier batches" in translation.retries[-1].problems[0]


def test_backend_llm_runs_the_model_in_the_job(chat_model, transcript, rule_model, rule, tmp_path):
    instructed = Instructed("llm", str(chat_model), scenes=SCENES)
    translation, outputs = translate(transcript, tmp_path / "t.json", rule_model, instructed)
    assert outputs == [rule.apply(text) for text in SAID]
    assert {r.method for r in translation.retries} == {FALLBACK}
    recorded = translation.settings["llm"]
    assert recorded["backend"] == "llm" and "server" not in recorded
    assert recorded["prompt_version"] == PROMPT_VERSION


@pytest.mark.workflow
def test_a_run_checks_the_server_once_and_starts_no_job_without_it(
    chat,
    whisper_model,
    rule_model,
    split_video,
    tmp_path,
):
    root = copy_project(tmp_path)
    configure(root, whisper_model, rule_model)
    add_videos(root, {"split.mp4": split_video[0]})
    down = f"http://127.0.0.1:{chat_server.free_port()}"
    for url, model, line in [
        (down, chat.model, f"translate.llm.server {down} does not answer: "),
        (chat.url, "qwen2.5:7b", "translate.llm.model 'qwen2.5:7b': the server at "),
    ]:
        set_config(root, translate={"backend": "openai", "llm": {"server": url, "model": model}})
        done = snakemake(root)
        assert done.returncode == 1
        lines = [x for x in done.stderr.splitlines() if x.startswith("autokr: translate.llm")]
        assert len(lines) == 1 and lines[0].startswith(f"autokr: {line}"), done.stderr[-2000:]
        assert not (root / "results" / "videos").exists()  # no job started
