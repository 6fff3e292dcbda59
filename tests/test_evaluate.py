"""make evaluate: chrF and cue timing against reference subtitles, on a results folder laid
out by hand as the workflow writes it (no workflow run, no model)."""

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import srt
from hypothesis import given
from hypothesis import strategies as st

from autokr.core import results_layout as layout
from autokr.core.record_files import write_record
from autokr.core.records import Cue, Run, TimedText, Translation
from autokr.reports import evaluation
from autokr.reports.evaluation import chrf, chrf_statistics, cue_timing, merged_spans
from conftest import ROOT

NLLB = {"backend": "ctranslate2", "model": "facebook/nllb-200-distilled-600M", "beam_size": 4}


def test_identical_text_scores_100_and_text_with_nothing_in_common_0():
    assert chrf("오늘 날씨가 좋네요", "오늘 날씨가 좋네요") == pytest.approx(100)
    # Spaces do not count: the same characters spaced otherwise are the same text.
    assert chrf("오늘날씨가 좋 네요", "오늘 날씨가 좋네요") == pytest.approx(100)
    assert chrf("abc", "xyz") == 0
    assert chrf("", "abc") == 0
    assert chrf("abc", "") == 0


def test_a_small_pair_computed_by_hand():
    # hypothesis "ab", reference "abc":
    #   1-grams: hyp {a, b} (2), ref {a, b, c} (3), matches 2 -> P = 1, R = 2/3
    #   2-grams: hyp {ab} (1), ref {ab, bc} (2), matches 1    -> P = 1, R = 1/2
    #   3-grams: the hypothesis has none: this order does not count (nor 4 to 6)
    #   P = 1, R = (2/3 + 1/2) / 2 = 7/12
    #   chrF = 100 * (1 + 2²) * P * R / (2² * P + R) = 100 * (35/12) / (55/12) = 700/11
    assert chrf_statistics("ab", "abc").orders[:3] == ((2, 3, 2), (1, 2, 1), (0, 1, 0))
    assert chrf("ab", "abc") == pytest.approx(700 / 11)
    # The example of the chrF metric card (Hugging Face evaluate), computed there by sacrebleu.
    hypothesis = "The relationship between Obama and Netanyahu is not exactly friendly."
    reference = "The ties between Obama and Netanyahu are not particularly friendly."
    assert chrf(hypothesis, reference) == pytest.approx(61.576379378113785)


def test_a_set_sums_its_videos_statistics_before_scoring():
    # Corpus-level, as sacrebleu: not the mean of the two videos' scores.
    first, second = chrf_statistics("ab", "abc"), chrf_statistics("abcdef", "abcdef")
    # Summed: (8, 9, 8), (6, 7, 6), (4, 5, 4), (3, 3, 3), (2, 2, 2), (1, 1, 1): P = 1 in
    # every order, R = (8/9 + 6/7 + 4/5 + 1 + 1 + 1) / 6.
    recall = (8 / 9 + 6 / 7 + 4 / 5 + 3) / 6
    assert (first + second).score == pytest.approx(100 * 5 * recall / (4 + recall))
    assert (first + second).score != pytest.approx((first.score + second.score) / 2)


@given(st.text(min_size=1).filter(lambda t: t.strip()), st.text())
def test_chrf_is_a_score_from_0_to_100_and_100_for_the_reference_itself(text, other):
    assert chrf(text, text) == pytest.approx(100)
    assert 0 <= chrf(other, text) <= 100 + 1e-9


def cues(*spans: tuple[float, float]) -> list[TimedText]:
    return [TimedText(start, end, f"line {i}") for i, (start, end) in enumerate(spans)]


def test_timing_counts_the_time_each_side_shows_a_subtitle():
    reference = cues((0, 2), (3, 5), (10, 12))
    autokr = cues((0.5, 2.5), (3, 4), (4, 5.5), (20, 21))
    timing = cue_timing(reference, autokr)
    # Reference 6 s; autokr 2 + 2.5 + 1 = 5.5 s; shared 1.5 + 2 = 3.5 s.
    assert (timing.reference_seconds, timing.autokr_seconds) == (6, 5.5)
    assert timing.recall == pytest.approx(3.5 / 6)
    assert timing.precision == pytest.approx(3.5 / 5.5)
    # 0.5 s for the first; the second overlaps two cues alike and takes the first (0 s);
    # nothing overlaps the third, so it has no difference.
    assert timing.start_differences == (0.5, 0.0)
    assert timing.median_start_difference == pytest.approx(0.25)


def test_overlapping_cues_count_once_and_no_cues_give_no_figures():
    assert merged_spans(cues((0, 2), (1, 3), (3, 4), (6, 7))) == [(0, 4), (6, 7)]
    assert cue_timing(cues((0, 2), (1, 3)), cues((0, 3))).recall == pytest.approx(1)
    empty = cue_timing(cues((0, 2)), [])
    assert (empty.recall, empty.precision, empty.median_start_difference) == (0, None, None)


def test_an_llm_translation_names_its_instruction_model(tmp_path):
    # With an instruction model, the settings' backend and model stay NLLB's (the
    # per-sentence fallback) and the model that translated is recorded under "llm".
    llm = {"backend": "openai", "model": "gemmax2:9b", "server": "http://localhost:11434/v1"}
    write_translation(tmp_path, "ep", {**NLLB, "llm": llm})
    assert evaluation.translated_by(tmp_path, "ep", "ko") == ("openai", "gemmax2:9b")
    assert evaluation.translated_by(tmp_path, "missing", "ko") == ("", "")


LINES = [(1.0, 2.5, "안녕하세요"), (3.0, 5.0, "오늘 날씨가 좋네요"), (6.0, 8.0, "내일 또 봐요")]


def compose(lines: list[tuple[float, float, str]]) -> str:
    """SRT as make_srt writes it (through the srt library)."""
    return srt.compose(
        srt.Subtitle(i + 1, timedelta(seconds=start), timedelta(seconds=end), text)
        for i, (start, end, text) in enumerate(lines)
    )


def write_translation(results: Path, video: str, settings: dict) -> None:
    path = layout.result_path(layout.TRANSLATION, results, video=video, lang="ko")
    path.parent.mkdir(parents=True, exist_ok=True)
    translated = tuple(Cue(s, e, "…", text) for s, e, text in LINES)
    write_record(
        Translation("jpn_Jpan", "kor_Hang", translated, settings, Run("cpu", "int8", 0, 1)), path
    )


def write_video(results: Path, video: str, lines=LINES, settings=NLLB) -> None:
    """A subtitled video's files under ``results``, where the workflow puts them."""
    prefix = layout.result_path(layout.SUBTITLE_PREFIX, results, video=video)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{prefix}.ko.srt").write_text(compose(lines), encoding="utf-8")
    Path(f"{prefix}.ja.srt").write_text(compose(lines), encoding="utf-8")
    write_translation(results, video, settings)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def run_evaluate(*args) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "scripts" / "evaluate.py"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_the_command_scores_each_video_lists_the_rest_and_keeps_a_history(tmp_path):
    results, refs = tmp_path / "results", tmp_path / "refs"
    write_video(results, "ep01")
    write_video(results, "season 1/ep.02")
    write_video(results, "ep04")
    write(refs / "ep01.ko.srt", compose(LINES))
    shifted = [(s + 0.5, e + 0.5, t) for s, e, t in LINES[:2]]
    write(refs / "season 1" / "ep.02.vtt", "WEBVTT\n\n" + compose(shifted).replace(",", "."))
    write(refs / "ep01.ja.srt", compose(LINES))  # another language: passed over
    write(refs / "ep03.ko.srt", compose(LINES))  # no such video
    write(refs / "ep04.ko.srt", "not subtitles at all\n")
    done = run_evaluate(refs, "--results", results)
    # The unreadable reference is one line naming it, and the others are still scored.
    assert done.returncode == 1
    [error] = done.stderr.splitlines()
    assert error.startswith(f"autokr: {refs / 'ep04.ko.srt'}: not a subtitle file")
    page = (results / "evaluation.md").read_text(encoding="utf-8")
    assert page in done.stdout
    assert "| ep01 | 100.0 | 100% | 100% | 0.00 s | 3 / 3 |" in page
    # ep.02: two reference cues 0.5 s late; autokr's third line is not in the reference.
    assert "| season 1/ep.02 | " in page and "| 0.50 s | 2 / 3 |" in page
    assert "| **all (2 videos)** |" in page
    assert f"- {refs / 'ep03.ko.srt'}: no matching video" in page
    assert f"- {refs / 'ep01.ja.srt'}: in another language (ja), not ko: passed over" in page
    assert "translated by: ctranslate2 `facebook/nllb-200-distilled-600M`" in page
    run_evaluate(refs, "--results", results, "--out", tmp_path / "second.md")
    history = (results / "evaluations.tsv").read_text(encoding="utf-8").splitlines()
    assert history[0].split("\t") == list(evaluation.HISTORY_COLUMNS)
    assert len(history) == 3 and (tmp_path / "second.md").exists()
    row = dict(zip(evaluation.HISTORY_COLUMNS, history[1].split("\t"), strict=True))
    assert (row["backend"], row["model"], row["lang"], row["videos"]) == (
        "ctranslate2",
        "facebook/nllb-200-distilled-600M",
        "ko",
        "2",
    )
    assert 0 < float(row["chrf"]) < 100 and row["reference"] == str(refs)


def test_a_reference_is_found_by_its_name_in_any_form_of_the_language(tmp_path):
    refs, results = tmp_path / "refs", tmp_path / "results"
    write_video(results, "ep.03")
    for name in ("ep01.korean.srt", "ep01.ko.vtt", "ep.02.srt", "ep.03.srt", "ep04.ja.srt"):
        write(refs / name, compose(LINES))
    found, passed_over = evaluation.find_references(refs, "ko", results)
    # A file with no language in its name is taken to be in --lang; of two for one
    # video, the one that names its language (then SRT) is kept.
    assert [(r.video, r.path.name) for r in found] == [
        ("ep.02", "ep.02.srt"),
        ("ep.03", "ep.03.srt"),
        ("ep01", "ep01.korean.srt"),
    ]
    assert passed_over == [
        f"{refs / 'ep04.ja.srt'}: in another language (ja), not ko: passed over",
        f"{refs / 'ep01.ko.vtt'}: another reference for ep01: passed over",
    ]


def test_a_folder_with_no_references_or_no_folder_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x", encoding="utf-8")
    for folder, cause in (("empty", "no reference subtitles in it"), ("nowhere", "no such folder")):
        done = run_evaluate(tmp_path / folder, "--results", tmp_path / "results")
        assert done.returncode == 1
        [line] = done.stderr.splitlines()
        assert line.startswith(f"autokr: {tmp_path / folder}: {cause}")
    assert not (tmp_path / "results").exists()


def test_references_that_match_no_video_say_so_and_write_nothing(tmp_path):
    write(tmp_path / "refs" / "ep09.ko.srt", compose(LINES))
    done = run_evaluate(tmp_path / "refs", "--results", tmp_path / "results")
    assert done.returncode == 1
    assert "no reference matches a video with ko subtitles" in done.stderr
    assert "ep09.ko.srt: no matching video" in done.stderr
    assert not (tmp_path / "results" / "evaluations.tsv").exists()
