"""Every cue's Korean, checked end to end, on speech whose sentences run across pauses and segments,
with each translate backend and a glossary.

The pair-trained test model knows only its memorised sentences, so the other
workflow tests speak each sentence alone. Here the translation model follows
a rule (rule_nllb: one Hangul syllable per source character, a space after
particles and punctuation), so whatever Whisper hears and however
``join_sentences`` groups it, each cue has one right text: the substitution of
its own source, with the cut moved at most to the nearest word boundary.
With the instruction-model backends (``openai``: a chat model served by the
real ``transformers serve`` on loopback; ``llm``: the same loaded in the
translate job) the model is trained on autokr's prompt to answer by the same
rule (rule_chat), so every cue is checked as the model's own translation, in
batches with context, and none may have needed the NLLB fallback.
"""

from __future__ import annotations

import itertools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

import assets
import chat_server
import rule_nllb
import speech
from autokr.core.devices import Placement
from autokr.core.records import read_transcript, read_translation
from autokr.translation import mt
from runs import configure, copy_project, rules_of, set_config, snakemake, started_jobs

pytestmark = pytest.mark.workflow

#: Sentences said in pieces, each piece followed by its pause (seconds). Pauses
#: inside a sentence run from 0.35 s (one cue) to 1.1 s (a new cue), and
#: sentences follow each other within 0.7 s, shorter than the 1.5 s that ends
#: a sentence by itself. The speech runs past the batched pipeline's 30 s
#: window, so one sentence ("週末になると …") runs across two segments.
SPOKEN: list[list[tuple[str, float]]] = [
    [
        ("昨日の夜、", 0.4),
        ("駅の近くにできた新しい店で", 0.9),
        ("友達と一緒にラーメンを食べました。", 0.6),
    ],
    [("とてもおいしかったので、", 1.1), ("来週もまた行くつもりです。", 0.5)],
    [("雨が降りそうだったから", 0.8), ("傘を持って出かけました。", 0.7)],
    [("私の妹は", 0.35), ("東京の大学で", 1.0), ("音楽を勉強しています。", 0.5)],
    [("週末になると", 0.9), ("近所の公園を散歩しながら", 0.4), ("季節の花を写真に撮ります。", 0.6)],
    [("それから、", 0.7), ("駅前のパン屋さんで", 1.1), ("温かい紅茶を買って帰ります。", 0.5)],
]
#: What Whisper base wrote for that speech (its two segments), so that the
#: rule NLLB model knows the characters it mishears into. A character it does
#: not know still has its right output (rule_nllb.FALLBACK), so a new
#: mishearing weakens the check without breaking it.
HEARD = [
    "昨日の夜、駅の近くにできた新しい店で友達と一緒にラーメンを食べました。とてもおいしかった"
    "ので、来週もまたいくつもりです。雨が降りそうだったから、重くて出かけました。私の妹は東京"
    "の大学で音楽を勉強しています。週末になると、近所の公園を散歩しながら",
    "季節の花を写真に取ります。それから、駅前のパン屋さんで、温かい紅茶を買って帰ります。",
]
#: A glossary over words of that speech: names and terms kept as the user writes them.
GLOSSARY = {"ラーメン": "라멘", "東京": "도쿄", "紅茶": "홍차"}


def with_terms(text: str) -> str:
    """``text`` with each glossary term in the target's spelling, as autokr hands it to NLLB."""
    for term, target in GLOSSARY.items():
        text = text.replace(term, target)
    return text


_SPOKEN = ["".join(piece for piece, _ in sentence) for sentence in SPOKEN]
_HEARD = [sentence + "。" for segment in HEARD for sentence in segment.split("。") if sentence]
_SAID = _SPOKEN + _HEARD
#: The sentences the model must get exactly right: those said and those heard,
#: as they are and with the glossary's terms written in.
TEXTS = _SAID + [with_terms(text) for text in _SAID if with_terms(text) != text]
#: The sentences the workflow asks the instruction model for in this video:
#: Whisper base's words, split into sentences by autokr (at a pause after "、"
#: too). Whisper on another machine may hear a word otherwise; the trained chat
#: model then copies a line it was not checked on, as it copied these before
#: they were listed here (a character it copies wrong fails the test).
ASKED = [
    "昨日の夜、駅の近くにできた新しい店で友達と一緒にラーメンを食べました。",
    "とてもおいしかったので、",
    "来週もまたいくつもりです。",
    "雨が降りそうだったから、重って出かけました。",
    "私の妹は、東京の大学で音楽を勉強しています。",
    "週末になると、近所の公園の散歩しながら季節の花を写真に取ります。",
    "それから、駅前のパン屋さんで、",
    "温かい紅茶を買って帰ります。",
]
#: Each test video's sentences in order, as an instruction model is asked them,
#: with the glossary's terms written in and without: what the trained chat
#: model must answer exactly (tests/test_llm_translation.py sends those said).
SCRIPTS = [_SPOKEN, ASKED]
SCRIPTS += [[with_terms(text) for text in script] for script in SCRIPTS]
#: Seconds a cue may reach past the speech it times: Whisper's word times
#: drift by a few hundred milliseconds, and pyopenjtalk pads its audio.
SLACK = 0.6


@dataclass(frozen=True)
class Heard:
    """A piece of speech in the test video: its text and where it is heard."""

    text: str
    start: float
    end: float


@pytest.fixture(scope="module")
def rule_model() -> Path:
    """The rule model over the test texts (built once, a few minutes on two cores)."""
    return assets.rule_nllb_model(TEXTS)


@pytest.fixture(scope="module")
def trained_model() -> Path:
    """The chat model trained on autokr's prompt to answer by the rule (minutes, once)."""
    return assets.rule_chat_model(TEXTS, SCRIPTS, GLOSSARY)


@pytest.fixture(scope="module")
def chat(trained_model):
    """``transformers serve`` on loopback, serving the trained chat model."""
    with chat_server.serve(trained_model) as served:
        yield served


@pytest.fixture(scope="module")
def rule() -> rule_nllb.Rule:
    return rule_nllb.Rule.over(TEXTS)


@pytest.fixture(scope="module")
def split_video() -> tuple[Path, list[Heard]]:
    """The video of SPOKEN, and where each piece is heard."""
    key = [SPOKEN, assets.source_hash("speech.py")]
    folder = assets.cached("split-speech", key, _build_video)
    pieces = json.loads((folder / "pieces.json").read_text(encoding="utf-8"))
    return folder / "split.mp4", [Heard(**p) for p in pieces]


def _build_video(folder: Path) -> None:
    import numpy as np
    import pyopenjtalk

    rate = speech.SAMPLE_RATE
    chunks, pieces, t = [np.zeros(int(speech.LEAD_IN * rate))], [], speech.LEAD_IN
    for sentence in SPOKEN:
        for text, pause in sentence:
            samples, got = pyopenjtalk.tts(text)
            assert got == rate
            pieces.append({"text": text, "start": t, "end": t + len(samples) / rate})
            chunks += [samples, np.zeros(int(pause * rate))]
            t += len(samples) / rate + pause
    chunks.append(np.zeros(rate))
    speech.write_wav(folder / "split.wav", np.concatenate(chunks) / 32768.0)
    speech.mux_video(folder / "split.wav", folder / "split.mp4")
    (folder / "split.wav").unlink()
    (folder / "pieces.json").write_text(json.dumps(pieces, ensure_ascii=False), encoding="utf-8")


#: Batches of three sentences after two of context: the shapes rule_chat is trained on.
SCENES = {"batch_sentences": 3, "context_sentences": 2}


def _backend(request, backend: str) -> dict:
    """translate's settings for ``backend``: NLLB alone, or the chat model and NLLB."""
    if backend == "openai":
        served = request.getfixturevalue("chat")
        return {"backend": "openai", "llm": {"server": served.url, "model": served.model, **SCENES}}
    if backend == "llm":
        folder = request.getfixturevalue("trained_model")
        return {"backend": "llm", "llm": {"model": str(folder), **SCENES}}
    return {"backend": backend}


@pytest.fixture(scope="module", params=["ctranslate2", "openai", "llm"])
def results(request, tmp_path_factory, whisper_model, rule_model, split_video) -> Path:
    """The results folder of one workflow run over the split video, with the rule model
    (NLLB, or the fallback of the chat checkpoint) and a glossary."""
    video, _ = split_video
    root = copy_project(tmp_path_factory.mktemp(f"every-cue-{request.param}"))
    configure(root, whisper_model, rule_model)
    names = "".join(f"{term}\t{target}\n" for term, target in GLOSSARY.items())
    (root / "names.tsv").write_text(names, encoding="utf-8")
    # The rule repeats whatever its source repeats; NLLB's guard would forbid it.
    translate = {"no_repeat_ngram_size": 0, "glossary": "names.tsv"}
    set_config(root, translate={**translate, **_backend(request, request.param)})
    (root / "videos").mkdir()
    shutil.copy(video, root / "videos" / "split.mp4")
    done = snakemake(root)
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "results" / "videos" / "split"


@pytest.mark.parametrize("backend", ["transformers", "ctranslate2"])
def test_rule_model_loads_and_substitutes_like_a_real_checkpoint(rule_model, rule, backend):
    placement = Placement("cpu", "float32" if backend == "transformers" else "int8")
    options = mt.TranslateOptions(model=str(rule_model), backend=backend, batch_size=4)
    translator = mt.load_translator(options, placement, 2)
    [ids] = translator.tokenizer.encode([TEXTS[0]], rule_nllb.SOURCE)
    assert len(ids) == len(TEXTS[0]) + 3  # language code, ▁, one token a character, </s>
    assert translator.tokenizer.unk_id not in ids
    texts = [*TEXTS, "知らない字龘も", "それから、 間を置いて"]
    for beams in (1, 4):
        got = translator.translate(texts, rule_nllb.SOURCE, rule_nllb.TARGET, beams)
        assert [" ".join(g.split()) for g in got] == [rule.apply(t) for t in texts]


def _word_ends(text: str) -> set[int]:
    """Offsets (counted in letters, spaces left out) where the words of ``text`` end."""
    ends, n = {0}, 0
    for word in text.split():
        n += len(word)
        ends.add(n)
    return ends


def test_every_cue_says_what_its_own_speech_said(results, rule, split_video):
    _, heard = split_video
    transcript = read_transcript(results / "transcript.json")
    translation = read_translation(results / "translation.ko.json")
    cues = translation.cues
    sentences = [[c for c in cues if c.sentence == i] for i in range(translation.sentences)]
    assert all(sentences), "a sentence without cues"
    assert [c.sentence for c in cues] == sorted(c.sentence for c in cues)

    # The split really happened: sentences shared over several pieces, and
    # one sentence made of words from two Whisper segments.
    assert len(transcript.segments) >= 2
    assert sum(len(s) > 1 for s in sentences) >= 3, [[c.source for c in s] for s in sentences]
    segment_of = {w.start: i for i, seg in enumerate(transcript.segments) for w in seg.words}
    assert any(len({segment_of.get(c.start) for c in s}) > 1 for s in sentences)

    # Nothing dropped or repeated: the cues' sources, in order, are the transcript.
    said = "".join(w.word for seg in transcript.segments for w in seg.words)
    assert "".join("".join(c.source.split()) for c in cues) == "".join(said.split())
    # With an instruction model, every sentence is the model's own answer, right
    # the first time: none asked again or made by NLLB.
    assert not translation.retries, translation.retries
    assert not translation.glossary_missing, translation.glossary_missing

    for sentence in sentences:
        # Each glossary term comes out as its target (the rule keeps Hangul as it is).
        whole = rule.apply(with_terms("".join(c.source for c in sentence)))
        parts = [c.text for c in sentence]
        # The sentence's translation, whole and cut only between words.
        assert " ".join(p for p in parts if p) == whole, [c.source for c in sentence]
        assert all(p or not c.source.strip() for c, p in zip(sentence, parts, strict=True)), [
            (c.source, c.text) for c in sentence
        ]
        # Each cut lies at a word end next to where its source ends (the
        # substitution gives one letter a source character).
        ends = _word_ends(whole)
        ideal = actual = 0
        for cue in sentence[:-1]:
            ideal += len("".join(rule.apply(with_terms(cue.source)).split()))
            actual += len("".join(cue.text.split()))
            between = [e for e in ends if min(ideal, actual) < e < max(ideal, actual)]
            assert actual in ends and not between, (
                f"cue {cue.source!r} -> {cue.text!r}: cut after {actual} letters, "
                f"its source ends after {ideal}; substitution {whole!r}"
            )

    # Timings: each cue is on screen while its words are heard.
    assert all(a.end <= b.start for a, b in itertools.pairwise(cues))

    def speech_within(start: float, end: float) -> float:
        return sum(max(0.0, min(end, h.end) - max(start, h.start)) for h in heard)

    def heard_at(t: float) -> bool:
        return any(h.start - SLACK <= t <= h.end + SLACK for h in heard)

    for cue in cues:
        assert heard_at(cue.start) and heard_at(cue.end), cue
        assert speech_within(cue.start, cue.end) >= 0.5 * (cue.end - cue.start), cue
    # Speech after a pause that makes a new cue (0.6 s) starts one.
    for before, h in itertools.pairwise(heard):
        if h.start - before.end >= 0.7:
            assert any(abs(c.start - h.start) <= SLACK for c in cues), (h, "starts no cue")
    for h in heard:
        covered = sum(max(0.0, min(c.end, h.end) - max(c.start, h.start)) for c in cues)
        assert covered >= 0.5 * (h.end - h.start), (h, "no cue while it is heard")
    assert speech.kana_cer("".join(h.text for h in heard), said) < 0.2


def test_the_instruction_model_decides_reruns_of_translation_only(results):
    """New instructions rerun translate and make_srt with an instruction model; with NLLB
    they rerun nothing. The server's time-out never reruns anything."""
    root = results.parents[2]
    asked = "llm" in read_translation(results / "translation.ko.json").settings
    extra = root / "instructions.yaml"
    extra.write_text("translate: {instructions: 친구끼리는 반말로., llm: {timeout: 5}}\n")
    planned = snakemake(root, "--dry-run", "--configfile", str(extra))
    assert planned.returncode == 0, planned.stderr[-2000:]
    jobs = rules_of(started_jobs(planned.stderr + "\n" + planned.stdout))
    assert jobs == ({"translate": 1, "make_srt": 1} if asked else {}), planned.stdout[-2000:]
