import json
import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import assets
import rule_nllb
from autokr.core.devices import Attempt, Placement, is_out_of_memory
from autokr.core.errors import ConfigError, ModelError
from autokr.core.record_files import write_record
from autokr.core.records import Run, Segment, Transcript, read_translation
from autokr.core.switches import FAULT_OOM_ENV
from autokr.models import locate
from autokr.translation import checks, conversion, mt
from conftest import ROOT
from speech import KOREAN, PAIRS
from test_every_cue import TEXTS as RULE_TEXTS
from tiny_nllb import variants

CPU = Placement("cpu", "float32")
PLACEMENTS = {"transformers": CPU, "ctranslate2": Placement("cpu", "int8")}


@pytest.fixture(scope="module", params=list(PLACEMENTS))
def translator(request, nllb_model):
    """Each backend in turn: every test of a translator runs against both."""
    options = mt.TranslateOptions(model=str(nllb_model), backend=request.param, batch_size=4)
    return mt.load_translator(options, PLACEMENTS[request.param], 2)


def test_tiny_model_loads_like_a_real_checkpoint(translator):
    # The same loading code as for facebook/nllb-200-*: nothing test-only.
    assert type(translator.model).__name__ in {"M2M100ForConditionalGeneration", "Translator"}
    [ids] = translator.tokenizer.encode([PAIRS[0][0]], "jpn_Jpan")
    assert translator.tokenizer.unk_id not in ids


def test_tokenizer_encodes_and_decodes_as_transformers_does(nllb_model):
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(str(nllb_model), src_lang="jpn_Jpan")
    ours = mt.NllbTokenizer(nllb_model, "tiny")
    texts = [ja for ja, _ in PAIRS] + ["未知の文字列、ABC 123!"]
    assert ours.encode(texts, "jpn_Jpan") == reference(texts).input_ids
    reference.src_lang = "kor_Hang"
    korean = [ko for _, ko in PAIRS]
    assert ours.encode(korean, "kor_Hang") == reference(korean).input_ids
    ids = reference(korean).input_ids
    assert ours.decode(ids) == reference.batch_decode(ids, skip_special_tokens=True) == korean


def test_every_sentence_gets_its_own_translation_in_order(translator):
    sources = [v for ja, _ in PAIRS for v in variants(ja)[:2]]
    outputs = translator.translate(sources, "jpn_Jpan", "kor_Hang")
    assert outputs == [KOREAN[ja] for ja, _ in PAIRS for _ in variants(ja)[:2]]


def test_empty_lines_stay_empty_and_keep_their_place(translator):
    outputs = translator.translate(["", PAIRS[1][0], "  "], "jpn_Jpan", "kor_Hang")
    assert outputs == ["", PAIRS[1][1], ""]


def test_unknown_target_code_is_named(translator):
    with pytest.raises(ModelError, match="does not know language 'xxx_Latn'"):
        translator.translate(["x"], "jpn_Jpan", "xxx_Latn")


def make_transcript(path, texts):
    segments = tuple(
        Segment(2.0 * i, 2.0 * i + 1.5, text, 0.01, -0.2, 1.0) for i, text in enumerate(texts)
    )
    record = Transcript("ja", 0.99, 2.0 * len(texts), segments, {}, Run("cpu", "int8", 0, 1))
    write_record(record, path)


def test_by_hand_keeps_timings_and_the_source_of_every_cue(nllb_model, tmp_path, python):
    texts = [ja for ja, _ in PAIRS[:4]]
    make_transcript(tmp_path / "transcript.json", texts)
    out = tmp_path / "translation.ko.json"
    cmd = [python, ROOT / "scripts" / "translate.py", tmp_path / "transcript.json", out]
    subprocess.run([*cmd, "--model", nllb_model, "--device", "cpu"], check=True)
    translation = read_translation(out)
    assert (translation.source_language, translation.target_language) == ("jpn_Jpan", "kor_Hang")
    assert [(c.start, c.end, c.source, c.text) for c in translation.cues] == [
        (2.0 * i, 2.0 * i + 1.5, ja, KOREAN[ja]) for i, ja in enumerate(texts)
    ]
    assert translation.settings["model"] == str(nllb_model)
    assert translation.run.device == "cpu"


def test_silent_transcript_needs_no_model(tmp_path, python):
    make_transcript(tmp_path / "transcript.json", [])
    out = tmp_path / "translation.ko.json"
    cmd = [python, ROOT / "scripts" / "translate.py", tmp_path / "transcript.json", out]
    subprocess.run([*cmd, "--model", tmp_path / "no-such-model"], check=True)
    assert read_translation(out).cues == ()


def test_a_detected_language_nllb_lacks_is_one_line_naming_the_file(tmp_path, python):
    record = Transcript(
        "la", 0.9, 2.0, (Segment(0, 1, "Salve", 0.1, -0.2, 1.0),), {}, Run("cpu", "int8", 0, 1)
    )
    write_record(record, tmp_path / "transcript.json")
    cmd = [python, ROOT / "scripts" / "translate.py", tmp_path / "transcript.json"]
    result = subprocess.run(
        [*cmd, tmp_path / "t.json", "--source-language", "auto"], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert (
        f"autokr: {tmp_path / 'transcript.json'}: detected language 'la' cannot be translated"
        in result.stderr
    )


def test_missing_model_is_one_line_naming_it(tmp_path, python):
    make_transcript(tmp_path / "transcript.json", ["こんにちは"])
    cmd = [python, ROOT / "scripts" / "translate.py", tmp_path / "transcript.json"]
    cmd += [tmp_path / "t.json", "--model", "no-such-org/no-such-model"]
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert result.returncode == 1
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("autokr:")]
    assert "'no-such-org/no-such-model' (translate.model)" in line and "local folder" in line
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "t.json").exists()


@pytest.mark.parametrize(
    ("source", "output", "target", "problems"),
    [
        ("今日はとても良い天気ですね。", "오늘은 정말 날씨가 좋네요.", "kor_Hang", []),
        ("今日はとても良い天気ですね。", "", "kor_Hang", ["empty"]),
        ("明日の朝、友達と映画を見に行きます。", "네", "kor_Hang", ["too short"]),
        ("はい", "네 " + "정말 좋아요 " * 12, "kor_Hang", ["too long", "repeats itself"]),
        ("今日はとても良い天気ですね。", "今日はとても良い天気ですね。", "kor_Hang",
         ["still in the source script"]),
        ("今日はとても良い天気ですね。", "The weather is very nice today.", "eng_Latn", []),
        ("今日は天気です。", "今天天气很好。", "zho_Hans", []),
    ],
)  # fmt: skip
def test_nllb_output_checks(source, output, target, problems):
    assert checks.check_translation(source, output, "jpn_Jpan", target) == problems


@pytest.mark.parametrize(
    ("source", "output", "pair", "problems"),
    [
        # Pairs without a measured ratio keep the old bound: a polite phrase
        # longer than its source is a translation, not junk.
        ("Thank you.", "ありがとうございます。", ("eng_Latn", "jpn_Jpan"), []),
        ("Danke.", "ありがとうございます。", ("deu_Latn", "jpn_Jpan"), []),
        ("OK.", "わかりました。", ("eng_Latn", "jpn_Jpan"), []),
        # Repeated punctuation is no repeated word: the output's loop shows.
        ("えっと・・・・・・それは何ですか", "음... 그게 뭐예요 그게 뭐예요 그게 뭐예요",
         ("jpn_Jpan", "kor_Hang"), ["repeats itself"]),
        ("ダメダメダメ、ダメよ", "안돼안돼안돼, 안돼", ("jpn_Jpan", "kor_Hang"), []),
    ],
)  # fmt: skip
def test_checks_hold_for_other_pairs_and_real_repeats(source, output, pair, problems):
    assert checks.check_translation(source, output, *pair) == problems


class FlakyTranslator:
    """A real translator whose first pass loses one sentence, as NLLB sometimes does."""

    def __init__(self, inner, lose):
        self.inner, self.lose, self.calls = inner, lose, []

    def translate(self, texts, source, target, beam_size=None, block_repeats=False):
        self.calls.append((list(texts), beam_size, block_repeats))
        outputs = self.inner.translate(texts, source, target, beam_size, block_repeats)
        if len(self.calls) == 1:
            outputs = ["" if t == self.lose else o for t, o in zip(texts, outputs, strict=True)]
        return outputs


def test_a_failed_sentence_is_retried_once_and_recorded(translator):
    texts = [PAIRS[0][0], PAIRS[2][0]]
    flaky = FlakyTranslator(translator, lose=PAIRS[2][0])
    outputs, retries = checks.translate_checked(flaky, texts, "jpn_Jpan", "kor_Hang", beam_size=2)
    assert outputs[0] == PAIRS[0][1] and outputs[1]  # nothing is ever dropped
    [retry] = retries
    assert (retry.sentence, retry.problems, retry.first) == (1, ("empty",), "")
    assert retry.method in {"beam 4", "by clause"} and retry.final == outputs[1]
    # Only the failed sentence, with more beams; repeats allowed, as it did not loop.
    assert flaky.calls[1] == ([PAIRS[2][0]], 4, False)


def test_ctranslate2_converts_once_for_a_try_and_its_lighter_retries(
    nllb_model, tmp_path, monkeypatch
):
    from ctranslate2.converters import TransformersConverter

    monkeypatch.setenv("AUTOKR_CACHE", str(tmp_path))
    conversions = []
    convert = TransformersConverter.convert
    monkeypatch.setattr(
        TransformersConverter,
        "convert",
        lambda self, *args, **kwargs: conversions.append(kwargs) or convert(self, *args, **kwargs),
    )
    options = mt.TranslateOptions(model=str(nllb_model), backend="ctranslate2", batch_size=4)
    texts = [ja for ja, _ in PAIRS]
    # A CUDA job's last retry loads int8_float16 from its first try's float16
    # weights; the CPU has no int8_float16, so the folders are checked here.
    float16 = conversion.ctranslate2_model(str(nllb_model), "float16")
    assert conversion.ctranslate2_model(str(nllb_model), "int8_float16") == float16
    assert [c["quantization"] for c in conversions] == ["float16"]
    shutil.rmtree(float16)
    for _ in range(2):  # the second load reuses the first one's conversion
        translator = mt.load_translator(options, Placement("cpu", "int8"), 2)
        assert translator.translate(texts, "jpn_Jpan", "kor_Hang") == [KOREAN[ja] for ja in texts]
    assert [c["quantization"] for c in conversions] == ["float16", "int8"]  # int8 once
    [folder] = tmp_path.joinpath("ctranslate2").iterdir()  # no temporary folder left either
    assert conversion.is_ctranslate2_folder(folder) and (folder / "tokenizer.json").exists()
    made = (folder / "model.bin").stat().st_mtime_ns
    assert conversion.ctranslate2_model(str(nllb_model), "int8") == folder
    assert (folder / "model.bin").stat().st_mtime_ns == made  # reused, not converted again
    # A folder that already holds a CTranslate2 model is used as it is.
    assert conversion.ctranslate2_model(str(folder)) == folder


def dead_pid() -> int:
    """The id of a process that has ended."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_temporary_folders_of_killed_conversions_are_removed(tmp_path):
    host = conversion.host_name()
    old = time.time() - conversion.STALE_AFTER_S - 60

    def temporary(name, age=None):
        path = tmp_path / name
        (path / "part").mkdir(parents=True)
        if age is not None:
            os.utime(path, (age, age))
        return path

    killed = temporary(f".org_nllb-0123.{host}.{dead_pid()}.x1y2")
    forgotten = temporary(".org_nllb-0123.other-host.4242.x3y4", age=old)
    running = temporary(f".org_nllb-0123.{host}.{os.getpid()}.x5y6")
    elsewhere = temporary(".org_nllb-0123.other-host.4242.x7y8")
    converted = temporary("org_nllb-0123")
    assert sorted(conversion.remove_stale_conversions(tmp_path)) == sorted([killed, forgotten])
    assert sorted(tmp_path.iterdir()) == sorted([running, elsewhere, converted])


def test_a_conversion_cleans_up_after_killed_ones(nllb_model, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOKR_CACHE", str(tmp_path))
    cache = tmp_path / "ctranslate2"
    killed = cache / f".tiny-0123.{conversion.host_name()}.{dead_pid()}.abcd"
    killed.mkdir(parents=True)
    folder = conversion.ctranslate2_model(str(nllb_model))
    assert list(cache.iterdir()) == [folder]


def test_a_conversion_another_job_finished_first_is_used(tmp_path):
    ours, theirs = tmp_path / ".tmp", tmp_path / "model"
    for folder, text in ((ours, "ours"), (theirs, "theirs")):
        folder.mkdir()
        (folder / "model.bin").write_text(text)
    conversion.move_into_place(ours, theirs, "org/nllb")
    assert (theirs / "model.bin").read_text() == "theirs"


def test_a_conversion_that_cannot_be_moved_into_the_cache_says_why(tmp_path):
    # Before, the error was swallowed and a folder that does not exist returned.
    with pytest.raises(
        ModelError, match=r"org/nllb: cannot move the converted model into .*\(.+\)"
    ):
        conversion.move_into_place(tmp_path / ".gone", tmp_path / "model", "org/nllb")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").touch()  # not a whole model: not used
    (tmp_path / ".tmp").mkdir()
    with pytest.raises(ModelError, match="cannot move the converted model"):
        conversion.move_into_place(tmp_path / ".tmp", tmp_path / "half", "org/nllb")


@pytest.fixture(scope="module", params=[1, 3], ids=["pytorch_model.bin", "3 bin shards"])
def bin_model(request, nllb_model):
    """The tiny model as older Hub repositories hold NLLB: .bin weights, whole or sharded."""
    return assets.tiny_nllb_as_bin(nllb_model, shards=request.param)


@pytest.mark.parametrize("backend", mt.BACKENDS)
def test_a_checkpoint_with_bin_weights_translates_exactly(bin_model, backend):
    files = {p.name for p in bin_model.iterdir()}
    assert not any(f.endswith(".safetensors") for f in files)
    assert locate.weight_files(sorted(files)) and not conversion.is_ctranslate2_folder(bin_model)
    options = mt.TranslateOptions(model=str(bin_model), backend=backend, batch_size=4)
    translator = mt.load_translator(options, PLACEMENTS[backend], 2)
    texts = [ja for ja, _ in PAIRS]
    assert translator.translate(texts, "jpn_Jpan", "kor_Hang") == [KOREAN[ja] for ja in texts]
    if backend == "ctranslate2":
        assert conversion.is_ctranslate2_folder(conversion.ctranslate2_model(str(bin_model)))


@pytest.mark.parametrize("backend", mt.BACKENDS)
def test_a_model_path_under_home_is_expanded(nllb_model, tmp_path, monkeypatch, backend):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "nllb").symlink_to(nllb_model)
    monkeypatch.setenv("HOME", str(tmp_path))
    options = mt.TranslateOptions(model="~/models/nllb", backend=backend, batch_size=4)
    translator = mt.load_translator(options, PLACEMENTS[backend], 2)
    assert translator.translate([PAIRS[0][0]], "jpn_Jpan", "kor_Hang") == [PAIRS[0][1]]


def test_both_backends_write_the_same_translation(nllb_model, tmp_path, python):
    make_transcript(tmp_path / "transcript.json", [ja for ja, _ in PAIRS])
    records = {}
    for backend in mt.BACKENDS:
        out = tmp_path / f"{backend}.json"
        cmd = [python, ROOT / "scripts" / "translate.py", tmp_path / "transcript.json", out]
        subprocess.run([*cmd, "--model", nllb_model, "--backend", backend], check=True)
        records[backend] = read_translation(out)
    ct2, hf = records["ctranslate2"], records["transformers"]
    assert ct2.cues == hf.cues and ct2.retries == hf.retries == ()
    assert (ct2.run.compute_type, hf.run.compute_type) == ("int8", "float32")
    assert (ct2.settings["backend"], hf.settings["backend"]) == ("ctranslate2", "transformers")


def test_token_batches_respect_both_limits():
    ids = {0: [1] * 10, 1: [1] * 3, 2: [1] * 4, 3: [1] * 40, 4: [1] * 9}
    assert mt.token_batches(ids, max_sentences=2, max_tokens=1000) == [[1, 2], [4, 0], [3]]
    assert mt.token_batches(ids, max_sentences=9, max_tokens=30) == [[1, 2, 4], [0], [3]]


def test_the_fault_switch_raises_a_real_out_of_memory_error(translator, monkeypatch):
    import torch

    # What each library raises when CUDA runs out of memory: CTranslate2 a
    # RuntimeError saying so, torch its own error.
    expected = torch.OutOfMemoryError if translator.library == "torch" else RuntimeError
    monkeypatch.setenv(FAULT_OOM_ENV, "1")
    with pytest.raises(expected) as caught:
        translator.translate([PAIRS[0][0], PAIRS[1][0]], "jpn_Jpan", "kor_Hang")
    assert is_out_of_memory(caught.value)
    assert translator.translate([PAIRS[0][0]], "jpn_Jpan", "kor_Hang") == [PAIRS[0][1]]


def test_each_attempt_halves_the_batch_and_the_last_lightens_cuda():
    assert [Attempt(n).batch_size(16) for n in (1, 2, 3)] == [16, 8, 4]
    assert Attempt(9).batch_size(16) == 1
    gpu = Placement("cuda", "float16")
    assert [Attempt(n).compute_type(gpu) for n in (1, 2, 3)] == ["float16"] * 2 + ["int8_float16"]
    # A batch that can no longer be halved lightens the compute type instead.
    assert [Attempt(n).compute_type(gpu, 2) for n in (1, 2, 3)] == ["float16"] * 2 + [
        "int8_float16"
    ]
    assert [Attempt(n).compute_type(gpu, 1) for n in (1, 2)] == ["float16", "int8_float16"]
    assert Attempt(3).compute_type(CPU) == "float32"
    assert is_out_of_memory(MemoryError()) and is_out_of_memory(RuntimeError("CUDA out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def test_out_of_memory_by_hand_is_one_line_naming_the_batch(nllb_model, tmp_path, python):
    make_transcript(tmp_path / "transcript.json", [ja for ja, _ in PAIRS[:3]])
    cmd = [python, ROOT / "scripts" / "translate.py", tmp_path / "transcript.json"]
    cmd += [tmp_path / "t.json", "--model", nllb_model, "--batch-size", "4", "--device", "cpu"]
    env = {"PATH": "/usr/bin:/bin", FAULT_OOM_ENV: "2"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert "out of memory on cpu with batch_size 4 and int8 (attempt 1)" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_transformers_backend_asks_torch_whether_there_is_a_gpu(monkeypatch):
    # A CPU-only torch beside a CUDA-enabled CTranslate2 (a set-up the README
    # offers): the transformers backend must run on the CPU, not fail on CUDA.
    import ctranslate2
    import torch

    from autokr.core.devices import resolve_placement

    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_placement("auto", library="torch").device == "cpu"
    assert resolve_placement("auto", library="ctranslate2").device == "cuda"
    with pytest.raises(ConfigError, match="torch sees no CUDA device"):
        resolve_placement("cuda", library="torch")


def test_the_transformers_backend_refuses_a_compute_type_torch_does_not_run():
    assert mt.compute_type("transformers", CPU, "bfloat16") == "bfloat16"
    assert mt.compute_type("ctranslate2", CPU, "int8") == "int8"
    with pytest.raises(ConfigError, match="'int8' is not run by the transformers backend"):
        mt.compute_type("transformers", CPU, "int8")
    # And the config says so before any job starts.
    from autokr.core.config import validate_config

    with pytest.raises(ConfigError, match=r"translate\.compute_type: 'int8_float16'"):
        validate_config({"translate": {"backend": "transformers", "compute_type": "int8_float16"}})


#: Correct Japanese-to-Korean translations a length check must let through:
#: the test recordings' sentences, short replies and kanji nouns that grow.
RIGHT_KOREAN = [
    ("「やっぱりお化けや幽霊じゃないんだ。", "「역시 도깨비나 유령이 아니구나."),
    ("ああして歩いているところをみると、人間にちがいない」",
     "저렇게 걸어 다니는 걸 보면 사람이 틀림없어」"),
    ("「こりゃきっと仲間によくないことがあったにちがいない。」と小悪魔は考えました。",
     "「이건 분명 동료에게 좋지 않은 일이 생긴 게 틀림없어.」 하고 작은 악마는 생각했습니다."),
    ("すると、ブランコ乗りは突然泣き始めた。", "그러자 그네 곡예사는 갑자기 울기 시작했다."),
    ("王もこのやり方は喜んでいません。", "왕도 이 방식을 기뻐하지 않습니다."),
    ("はい", "네, 알겠습니다."),
    ("妹の猫", "여동생의 고양이"),
    ("私の妹と弟は毎日猫と犬に水をやる。", "제 여동생과 남동생은 매일 고양이와 개에게 물을 준다."),
    ("ダメダメダメ、ダメよ", "안 돼 안 돼 안 돼, 안 돼요"),
    ("はい、はい", "네, 네"),
]  # fmt: skip


def recording_sentences() -> list[str]:
    """The test recordings' transcripts, whole and cut at 。 as autokr cuts them."""
    texts = json.loads((ROOT / "tests/data/speech/transcripts.json").read_text(encoding="utf-8"))
    cut = [s + "。" for t in texts.values() for s in t.split("。") if s.strip("」")]
    return [*texts.values(), *cut]


def junk(n: int, seed: int) -> str:
    """``n`` random Hangul syllables: what a translation ran on with after the padding."""
    rng = random.Random(seed)
    return "".join(chr(rng.randrange(0xAC00, 0xD7A4)) for _ in range(n))


def test_right_translations_are_not_too_long():
    rule = rule_nllb.Rule.over(RULE_TEXTS)
    pairs = [*PAIRS, *RIGHT_KOREAN]
    pairs += [(ja, rule.apply(ja)) for ja in [*RULE_TEXTS, *recording_sentences()]]
    for ja, ko in pairs:
        assert checks.check_translation(ja, ko, "jpn_Jpan", "kor_Hang") == [], (ja, ko)


def test_a_right_translation_followed_by_junk_is_too_long():
    # The length check is a ratio: after a translation of about a syllable a
    # character (the rule's, PAIRS'), 20 junk syllables show after a sentence
    # of up to 36 characters, 40 after any sentence autokr translates (80 at most).
    rule = rule_nllb.Rule.over(RULE_TEXTS)
    even = [(ja, rule.apply(ja)) for ja in [*RULE_TEXTS, *recording_sentences()]] + PAIRS
    for n, (ja, ko) in enumerate([*even, *RIGHT_KOREAN]):
        for count in (20, 40) if len(ja) <= 36 and n < len(even) else (40,):
            output = f"{ko} {junk(count, n)}"
            assert "too long" in checks.check_translation(ja, output, "jpn_Jpan", "kor_Hang"), (
                output
            )
    assert max(len(ja) for ja, _ in even) > 50


def test_the_length_limit_is_per_language_pair():
    ja = PAIRS[0][0]
    korean = checks.longest_translation(ja, "jpn_Jpan", "kor_Hang")
    assert len(ja) < korean < 1.5 * len(ja) + 6  # about a syllable a character
    # Other pairs measure both sides in Latin letters: English takes more characters.
    assert checks.longest_translation(ja, "jpn_Jpan", "eng_Latn") > 3 * korean
    english = "The weather is really lovely today, isn't it?"
    assert checks.check_translation(ja, english, "jpn_Jpan", "eng_Latn") == []


@pytest.fixture(scope="module")
def rule_model() -> Path:
    """The rule model of test_every_cue (the same texts, so the same cached model)."""
    return assets.rule_nllb_model(RULE_TEXTS)


@pytest.fixture(scope="module")
def padded_model(rule_model) -> Path:
    """The rule model, its tokenizer.json saved with padding and truncation."""
    return assets.with_saved_padding(rule_model)


def test_saved_padding_and_truncation_are_not_part_of_a_sentence(rule_model, padded_model):
    saved = json.loads((padded_model / "tokenizer.json").read_text(encoding="utf-8"))
    assert saved["padding"]["strategy"] == "BatchLongest"
    assert saved["truncation"]["max_length"] == assets.SAVED_MAX_LENGTH
    texts = [*RULE_TEXTS, *recording_sentences()]
    assert max(len(t) for t in texts) > assets.SAVED_MAX_LENGTH  # truncation would show
    padded = mt.NllbTokenizer(padded_model, "padded")
    ours = mt.NllbTokenizer(rule_model, "rule")
    assert padded.encode(texts, "jpn_Jpan") == ours.encode(texts, "jpn_Jpan")
    assert all(padded.pad_id not in ids for ids in padded.encode(texts, "jpn_Jpan"))


@pytest.mark.parametrize("backend", mt.BACKENDS)
def test_a_checkpoint_saved_with_padding_translates_every_sentence_exactly(padded_model, backend):
    rule = rule_nllb.Rule.over(RULE_TEXTS)
    texts = [*RULE_TEXTS, *recording_sentences(), *(ja for ja, _ in PAIRS)]
    assert len({len(t) for t in texts}) > 15  # a batch of sentences of many lengths
    options = mt.TranslateOptions(model=str(padded_model), backend=backend)
    translator = mt.load_translator(options, PLACEMENTS[backend], 2)
    outputs, retries = checks.translate_checked(
        translator, texts, "jpn_Jpan", "kor_Hang", options.beam_size
    )
    wrong = [
        (text, out)
        for text, out in zip(texts, outputs, strict=True)
        if " ".join(out.split()) != rule.apply(text)
    ]
    assert not wrong, f"{len(wrong)} of {len(texts)} not exact, first {wrong[0]}"
    assert retries == []


#: Dialogue that repeats itself for real: blocking repeated n-grams changes it.
REPEATED = ["ダメダメダメ、ダメよ", "あなたもダメよ 私もダメよ", "はい、はい"]


def test_repeated_dialogue_keeps_its_repeats(rule_model):
    rule = rule_nllb.Rule.over(RULE_TEXTS)
    assert all(c in rule.syllables for t in REPEATED for c in t if not c.isspace())
    options = mt.TranslateOptions(model=str(rule_model), backend="ctranslate2", beam_size=4)
    assert options.no_repeat_ngram_size == 4  # the default, kept for a loop's retry
    translator = mt.load_translator(options, PLACEMENTS["ctranslate2"], 2)
    outputs, retries = checks.translate_checked(translator, REPEATED, "jpn_Jpan", "kor_Hang", 4)
    assert [" ".join(o.split()) for o in outputs] == [rule.apply(t) for t in REPEATED]
    assert retries == []
    # The block the first pass used to have: the repeated phrase comes out changed.
    blocked = translator.translate(REPEATED, "jpn_Jpan", "kor_Hang", 4, block_repeats=True)
    assert " ".join(blocked[0].split()) != rule.apply(REPEATED[0])


class LoopingTranslator:
    """A real translator whose first pass loops on one sentence and loses another."""

    def __init__(self, inner, loop, lose):
        self.inner, self.loop, self.lose, self.calls = inner, loop, lose, []

    def translate(self, texts, source, target, beam_size=None, block_repeats=False):
        self.calls.append((list(texts), beam_size, block_repeats))
        outputs = self.inner.translate(texts, source, target, beam_size, block_repeats)
        if len(self.calls) == 1:
            looped = {self.loop: "오늘은 " + "날씨가 좋네요 " * 8, self.lose: ""}
            outputs = [looped.get(t, o) for t, o in zip(texts, outputs, strict=True)]
        return outputs


def test_only_a_loop_is_retried_with_repeats_blocked(translator):
    texts = [PAIRS[0][0], PAIRS[1][0], PAIRS[3][0]]
    looping = LoopingTranslator(translator, loop=PAIRS[0][0], lose=PAIRS[3][0])
    outputs, retries = checks.translate_checked(looping, texts, "jpn_Jpan", "kor_Hang", beam_size=2)
    assert outputs == [KOREAN[t] for t in texts]
    assert looping.calls == [
        (texts, None, False),
        ([PAIRS[3][0]], 4, False),  # lost: more beams, repeats allowed
        ([PAIRS[0][0]], 4, True),  # looped: more beams, repeats blocked
    ]
    loop, lost = sorted(retries, key=lambda r: r.sentence)
    assert "repeats itself" in loop.problems and loop.method == "beam 4, repeats blocked"
    assert lost.problems == ("empty",) and lost.method == "beam 4"
