"""translate.backend openai and llm through their real code, with tiny chat checkpoints laid
out as Hub instruction models, served by the real ``transformers serve`` on loopback behind a
proxy that injects faults (testkit/fault_proxy.py), or loaded in the job.

One is trained on autokr's prompt to answer by the rule NLLB model's substitution
(testkit/rule_chat.py): its answers are right, so context, glossary terms, retries and
smaller batches are checked on a model's own translations. The other has random weights
(testkit/chat_model.py): no answer of it comes right, so every sentence must reach the NLLB
fallback, here the rule NLLB model. Either way each sentence has one right translation. The
whole workflow with these backends is tests/test_every_cue.py's.
"""

# ruff: noqa: F811 (the fixtures imported below are parameters of the tests)

from __future__ import annotations

from pathlib import Path

import pytest

import assets
import chat_server
from autokr.core.records import read_translation
from autokr.translation import mt, openai_server
from autokr.translation.glossary import Glossary, Term
from autokr.translation.llm_backend import Instructed
from autokr.translation.prompt import PROMPT_VERSION
from autokr.translation.scenes import FALLBACK, SMALLER, SceneOptions
from autokr.translation.transcript_translation import translate_transcript
from fault_proxy import FaultProxy
from runs import add_videos, configure, copy_project, set_config, snakemake

# The trained chat model and its server (chat), and the rule, are test_every_cue's fixtures.
from test_every_cue import (  # noqa: F401 (fixtures)
    GLOSSARY,
    SPOKEN,
    TEXTS,
    chat,
    rule,
    split_video,
    trained_model,
    with_terms,
)
from test_translate import make_transcript, rule_model  # noqa: F401 (a fixture)

SAID = ["".join(piece for piece, _ in sentence) for sentence in SPOKEN]
#: Two batches of three sentences.
SCENES = SceneOptions(batch_sentences=3, context_sentences=2)


@pytest.fixture(scope="module")
def random_model() -> Path:
    """The chat checkpoint with random weights: its answers are junk."""
    return assets.random_chat_model(TEXTS)


@pytest.fixture(scope="module")
def random_chat(random_model):
    with chat_server.serve(random_model) as served:
        yield served


def _proxy(upstream, monkeypatch):
    # Waits between tries of a tenth of their length: the same back-off, quicker.
    monkeypatch.setattr(openai_server, "FIRST_WAIT", 0.1)
    with FaultProxy(upstream.url) as proxy:
        yield proxy
        assert not proxy.errors, proxy.errors


@pytest.fixture
def proxy(chat, monkeypatch):
    """The trained model's server behind the fault proxy."""
    yield from _proxy(chat, monkeypatch)


@pytest.fixture
def random_proxy(random_chat, monkeypatch):
    """The random model's server behind the fault proxy."""
    yield from _proxy(random_chat, monkeypatch)


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


def chats(proxy) -> list[dict]:
    """The bodies of the chat requests the proxy saw, in order."""
    return [body for path, body in proxy.requests if path.endswith("/chat/completions")]


def schema_sizes(proxy) -> list[int]:
    """How many lines each chat request asked for."""
    return [len(c["response_format"]["json_schema"]["schema"]["required"]) for c in chats(proxy)]


def translate_with_glossary_and_key(proxy, model, transcript, rule_model, rule, folder, env):
    """Translate with the glossary and an API key; check what is recorded and what not."""
    env.setenv("AUTOKR_TEST_KEY", "sk-test-secret")
    # No notes: the trained model was checked on the glossary as test_every_cue writes it.
    glossary = Glossary(tuple(Term(s, t, "") for s, t in GLOSSARY.items()))
    instructed = served(proxy.url, model, api_key_env="AUTOKR_TEST_KEY")
    out = folder / "translation.ko.json"
    translation, outputs = translate(transcript, out, rule_model, instructed, glossary)
    # Every term as the glossary writes it, whoever translated.
    assert outputs == [rule.apply(with_terms(text)) for text in SAID]
    assert not translation.glossary_missing
    assert translation.settings["llm"]["model"] == model
    assert translation.settings["llm"]["server"] == proxy.url
    assert "sk-test-secret" not in out.read_text(encoding="utf-8")
    return translation, outputs


def test_a_server_translates_every_sentence_in_context_with_the_glossary(
    chat, proxy, transcript, rule_model, rule, tmp_path, monkeypatch
):
    translation, outputs = translate_with_glossary_and_key(
        proxy, chat.model, transcript, rule_model, rule, tmp_path, monkeypatch
    )
    # The model's own answers, right the first time.
    assert not translation.retries, translation.retries
    assert {c.method for c in translation.cues} == {"sentence"}

    # Two batches of three; the second has the first's last two sentences, and
    # the model's translations of them, as context.
    first, second = chats(proxy)
    assert first["response_format"]["json_schema"]["schema"]["required"] == ["1", "2", "3"]
    assert first["chat_template_kwargs"] == {"enable_thinking": False}
    assert first["temperature"] == 0 and first["model"] == chat.model
    user = second["messages"][1]["content"]
    assert user.startswith("Translated just before (context only):\n")
    for i in (1, 2):
        assert f"{with_terms(SAID[i])} => {outputs[i]}" in user
    assert f"1. {with_terms(SAID[3])}" in user
    # The terms said in a batch are in its instructions; its lines have them written in.
    system = first["messages"][0]["content"]
    assert "ラーメン = 라멘" in system and "東京" not in system
    assert "東京 = 도쿄" in second["messages"][0]["content"]


def test_a_reasoning_block_is_read_past_and_a_missing_number_asks_in_halves(
    chat, proxy, transcript, rule_model, rule, tmp_path
):
    # The first batch's answer comes with the model's reasoning left in; the
    # second's lacks line 2, which fails the batch (the lines after a lost one
    # may have shifted): it is asked again as 2 + 1, both answered right.
    proxy.faults += ["think", "drop:2"]
    instructed = served(proxy.url, chat.model)
    translation, outputs = translate(transcript, tmp_path / "t.json", rule_model, instructed)
    assert outputs == [rule.apply(text) for text in SAID]
    assert proxy.served == ["think", "drop:2", None, None]
    assert schema_sizes(proxy) == [3, 3, 2, 1]
    assert [(r.sentence, r.method, r.problems) for r in translation.retries] == [
        (i, SMALLER, ("no translation for numbers [2]",)) for i in (3, 4, 5)
    ]
    assert [r.final for r in translation.retries] == outputs[3:]
    methods = {c.sentence: c.method for c in translation.cues}
    assert methods[4] == f"retried: {SMALLER}" and methods[0] == "sentence"


def test_answers_that_never_come_right_are_translated_by_nllb(
    random_chat, random_proxy, transcript, rule_model, rule, tmp_path, monkeypatch
):
    # NLLB's translations, the glossary's terms written in as for the model.
    translation, _ = translate_with_glossary_and_key(
        random_proxy, random_chat.model, transcript, rule_model, rule, tmp_path, monkeypatch
    )
    assert [r.method for r in translation.retries] == [FALLBACK] * len(SAID)
    assert all("no JSON object" in r.problems[0] for r in translation.retries)
    assert {c.method for c in translation.cues} == {f"retried: {FALLBACK}"}

    # Each batch of three: asked whole, then 2 + 1, then 1 + 1, ending at single
    # sentences that go to NLLB: five asks a batch.
    asked = chats(random_proxy)
    assert len(asked) == 10
    first = asked[0]
    assert first["response_format"]["json_schema"]["schema"]["required"] == ["1", "2", "3"]
    assert first["chat_template_kwargs"] == {"enable_thinking": False}
    assert first["temperature"] == 0 and first["model"] == random_chat.model
    assert schema_sizes(random_proxy)[:5] == [3, 2, 1, 1, 1]
    # The terms said in a batch are in its instructions; its lines have them written in.
    system, user = first["messages"][0]["content"], first["messages"][1]["content"]
    assert "ラーメン = 라멘" in system and "東京" not in system
    second = asked[5]["messages"][0]["content"]  # 東京 and 紅茶 are said in the second batch
    assert "東京 = 도쿄" in second and "紅茶 = 홍차" in second
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
    assert proxy.served == ["429", "hang:15", "close", "500", None, None]
    assert not translation.retries, translation.retries


def test_a_server_that_stays_down_never_hangs_the_job(
    random_chat, random_proxy, transcript, rule_model, rule, tmp_path
):
    random_proxy.faults += ["503"] * 20
    pairs = SceneOptions(batch_sentences=2, context_sentences=2)
    instructed = served(random_proxy.url, random_chat.model, retries=1, scenes=pairs)
    translation, outputs = translate(transcript, tmp_path / "t.json", rule_model, instructed)
    assert outputs == [rule.apply(text) for text in SAID]
    # Two tries of each of the first two batches; the third goes to NLLB unasked.
    assert random_proxy.served == ["503", "503", "503", "503"]
    assert all(r.method == FALLBACK for r in translation.retries)
    assert "no answer" in translation.retries[0].problems[0]
    assert "no answer to earlier batches" in translation.retries[-1].problems[0]


@pytest.mark.parametrize("trained", [True, False], ids=["trained", "random"])
def test_backend_llm_runs_the_model_in_the_job(
    trained, trained_model, random_model, transcript, rule_model, rule, tmp_path
):
    model = trained_model if trained else random_model
    instructed = Instructed("llm", str(model), scenes=SCENES)
    translation, outputs = translate(transcript, tmp_path / "t.json", rule_model, instructed)
    assert outputs == [rule.apply(text) for text in SAID]
    if trained:
        assert not translation.retries, translation.retries
    else:  # NLLB after the model, in the same job
        assert {r.method for r in translation.retries} == {FALLBACK}
        assert len(translation.retries) == len(SAID)
    recorded = translation.settings["llm"]
    assert recorded["backend"] == "llm" and "server" not in recorded
    assert recorded["prompt_version"] == PROMPT_VERSION


@pytest.mark.workflow
def test_a_run_checks_the_server_once_and_starts_no_job_without_it(
    random_chat,
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
        (down, random_chat.model, f"translate.llm.server {down} does not answer: "),
        (random_chat.url, "qwen2.5:7b", "translate.llm.model 'qwen2.5:7b': the server at "),
    ]:
        set_config(root, translate={"backend": "openai", "llm": {"server": url, "model": model}})
        done = snakemake(root)
        assert done.returncode == 1
        lines = [x for x in done.stderr.splitlines() if x.startswith("autokr: translate.llm")]
        assert len(lines) == 1 and lines[0].startswith(f"autokr: {line}"), done.stderr[-2000:]
        assert not (root / "results" / "videos").exists()  # no job started
