"""translate.glossary: names and terms kept as the user writes them, with either NLLB runtime."""

from __future__ import annotations

import subprocess

import pytest

import rule_nllb
from autokr.core.config import glossary_path, validate_config
from autokr.core.errors import ConfigError
from autokr.core.records import read_qa, read_translation
from autokr.text.make_subtitles import make_subtitles
from autokr.translation import mt
from autokr.translation.glossary import Glossary, Term, read_glossary
from conftest import ROOT
from test_every_cue import GLOSSARY, SPOKEN, TEXTS, with_terms
from test_translate import make_transcript, rule_model  # noqa: F401 (a fixture)


def write(tmp_path, text: str | bytes, name: str = "glossary.tsv"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_a_glossary_file_reads_terms_notes_and_comments(tmp_path):
    path = write(
        tmp_path,
        "\ufeff# names of the show\n千尋\t치히로\tthe heroine\n\n  # indented comment\n"
        "湯婆婆\t유바바\n千尋\t치히로\n",
    )
    glossary = read_glossary(path)
    assert glossary.terms == (Term("千尋", "치히로", "the heroine"), Term("湯婆婆", "유바바"))
    assert glossary.record() == {"file": str(path), "sha256": glossary.digest, "terms": 2}
    # The digest is of the terms: comments and order change nothing.
    again = read_glossary(write(tmp_path, "湯婆婆\t유바바\n千尋\t치히로\tthe heroine\n", "b.tsv"))
    assert again.digest == glossary.digest


@pytest.mark.parametrize(
    "text, line, cause",
    [
        ("千尋\t치히로\n湯婆婆 유바바\n", 2, "no tab between the term and its target"),
        ("千尋\t\n", 1, "the target is empty"),
        ("\t치히로\n", 1, "the term is empty"),
        ("千尋\t치히로\tnote\textra\n", 1, "4 columns"),
        ("千尋\t치히로\n# c\n千尋\t지히로\n", 3, "is on line 1 already, with another target"),
        ("千尋\t치히로\n".encode() + "湯婆婆\t".encode("shift_jis"), 2, "not UTF-8"),
    ],
)
def test_a_malformed_line_is_one_error_naming_file_and_line(tmp_path, text, line, cause):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=cause) as caught:
        read_glossary(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert "\n" not in str(caught.value)


def test_lines_end_at_newlines_only_and_trailing_tabs_are_no_column(tmp_path):
    path = write(
        tmp_path, "千尋\t치히로\ta note\u2028with a line separator\t\r\n湯婆婆\t유바바\t\t\n"
    )
    assert read_glossary(path).terms == (
        Term("千尋", "치히로", "a note\u2028with a line separator"),
        Term("湯婆婆", "유바바"),
    )
    assert [t.line for t in read_glossary(path).terms] == [1, 2]


def test_a_missing_glossary_names_itself(tmp_path):
    with pytest.raises(ConfigError, match=r"no\.tsv: cannot read the glossary"):
        read_glossary(tmp_path / "no.tsv")


def test_one_glossary_file_serves_one_target_language():
    # Its targets are written in one language: Hangul names in English subtitles help no one.
    two = {"target_language": ["ko", "en"]}
    with pytest.raises(ConfigError, match=r"one file for 2 target languages \(ko, en\)"):
        validate_config({**two, "translate": {"glossary": "names.tsv"}})
    config = validate_config({**two, "translate": {"glossary": {"ko": "names.ko.tsv"}}})
    assert (glossary_path(config, "ko"), glossary_path(config, "en")) == ("names.ko.tsv", "")
    with pytest.raises(ConfigError, match="'fr' is not a target language"):
        validate_config({**two, "translate": {"glossary": {"fr": "names.fr.tsv"}}})
    assert glossary_path(validate_config({"translate": {"glossary": "n.tsv"}}), "ko") == "n.tsv"


def test_terms_are_written_in_longest_first_and_whole_words_where_words_are_spaced():
    glossary = Glossary((Term("千", "천"), Term("千尋", "치히로"), Term("Al", "알")))
    assert glossary.write_in("千尋と千") == "치히로と천"
    assert glossary.write_in("Ｔｈｅ 千尋") == "The 치히로"  # NFKC, as NLLB reads it
    # In a language with spaces a term is a whole word.
    assert glossary.write_in("Always Al, Al.", spaced=True) == "Always 알, 알."
    assert [t.source for t in glossary.found("千尋と千尋")] == ["千尋", "千尋"]


def test_a_lower_case_term_matches_any_case_and_a_name_only_as_written():
    glossary = Glossary((Term("istanbul", "이스탄불"), Term("Straße", "거리"), Term("Will", "윌")))
    # No case folding that changes a word's length trips the lookup (İ, ß).
    text = "İstanbul, ISTANBUL and Straße: Will will come."
    assert glossary.write_in(text, spaced=True) == "이스탄불, 이스탄불 and 거리: 윌 will come."
    assert [t.target for t in glossary.found(text, spaced=True)] == ["이스탄불"] * 2 + [
        "거리",
        "윌",
    ]


def test_a_term_is_missing_when_its_target_comes_out_fewer_times_than_it_is_said():
    glossary = Glossary((Term("千尋", "치히로"),))
    assert glossary.missing("千尋と千尋", "치히로와 치히로") == []
    assert glossary.missing("千尋と千尋", "치히로와 그녀") == [Term("千尋", "치히로")]
    assert glossary.missing("湯婆婆", "유바바") == []


@pytest.mark.parametrize("backend", mt.BACKENDS)
def test_every_occurrence_of_a_term_comes_out_as_its_target(
    rule_model,  # noqa: F811
    tmp_path,
    python,
    backend,
):
    # The rule model turns each Japanese character into a syllable and keeps
    # Hangul as it is; with the glossary each term must come out as written.
    rule = rule_nllb.Rule.over(TEXTS)
    said = ["".join(piece for piece, _ in sentence) for sentence in SPOKEN]
    lines = [f"{term}\t{target}" for term, target in GLOSSARY.items()]
    # A target the model cannot write (Latin letters it does not know) is reported.
    path = write(tmp_path, "\n".join([*lines, "駅\tStation\tthe model cannot spell it"]) + "\n")
    make_transcript(tmp_path / "transcript.json", said)
    out = tmp_path / "translation.ko.json"
    cmd = [python, ROOT / "scripts" / "translate.py", tmp_path / "transcript.json", out]
    options = ["--model", rule_model, "--backend", backend, "--device", "cpu"]
    subprocess.run([*cmd, *options, "--glossary", path], check=True)
    translation = read_translation(out)
    by_sentence: dict[int, list[str]] = {}
    for cue in translation.cues:
        by_sentence.setdefault(cue.sentence, []).append(cue.text)
    outputs = [" ".join(" ".join(by_sentence[i]).split()) for i in range(len(said))]
    for text, output in zip(said, outputs, strict=True):
        if "駅" not in text:
            assert output == rule.apply(with_terms(text))
        for term, target in GLOSSARY.items():
            assert output.count(target) == text.count(term), (text, output)
    assert sum(text.count(term) for text in said for term in GLOSSARY) >= 3
    missing = [(m.sentence, m.term, m.target) for m in translation.glossary_missing]
    assert missing == [(i, "駅", "Station") for i, text in enumerate(said) if "駅" in text]
    assert missing, "the test speech says 駅"
    assert translation.settings["glossary"] == read_glossary(path).record()
    # make_srt's QA lists them, for the summary to count.
    qa = tmp_path / "qa.json"
    make_subtitles(
        "v", str(tmp_path / "v"), str(tmp_path / "transcript.json"), {"ko": str(out)}, str(qa)
    )
    assert read_qa(qa).glossary_missing == {"ko": translation.glossary_missing}
