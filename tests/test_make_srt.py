"""make_srt: subtitle files (SRT, WebVTT, bilingual) and the QA report, by hand and as units."""

import itertools
import json
import re
import subprocess
from datetime import timedelta

import pytest
import srt
from hypothesis import given, settings
from hypothesis import strategies as st

from autokr.core.record_files import write_record
from autokr.core.records import (
    Cue as TranslatedCue,
)
from autokr.core.records import (
    Decision,
    Media,
    Retry,
    Run,
    Segment,
    Transcript,
    Translation,
    Word,
    read_qa,
)
from autokr.text.layout import Cue, lay_out, rules_for
from autokr.text.make_subtitles import rules_key
from autokr.text.subtitles import compose_bilingual, compose_srt, compose_vtt, subtitle_paths
from conftest import ROOT

KO, JA = rules_for("ko"), rules_for("ja")
RUN = Run("cpu", "int8", 0, 1)


def test_empty_layout_is_a_valid_empty_file():
    layout = lay_out([], KO)
    assert compose_srt(layout) == ""
    assert list(srt.parse(compose_srt(layout))) == []
    assert compose_vtt(layout).startswith("WEBVTT")


def test_vtt_has_dotted_milliseconds_and_the_same_lines():
    layout = lay_out([Cue(61.5, 63.25, "", "안녕하세요")], KO)
    assert "00:01:01.500 --> 00:01:03.250\n안녕하세요" in compose_vtt(layout)


def test_vtt_escapes_ampersands_and_angle_brackets():
    layout = lay_out([Cue(0, 3, "", "R&D <비밀> --> 끝")], KO)
    vtt = compose_vtt(layout)
    assert "R&amp;D &lt;비밀&gt; --&gt; 끝" in vtt
    # Only the timing line holds an arrow, and no raw & or < is left in cue text.
    assert vtt.count("-->") == 1 and "<" not in vtt
    assert re.search(r"&(?!amp;|lt;|gt;)", vtt) is None


def test_a_piece_that_got_no_translation_makes_no_subtitle():
    # share_text gives a whole word to one piece and "" to the other.
    layout = lay_out([Cue(0, 1, "ありがとう", "감사합니다"), Cue(1.5, 2, "ございます", "")], KO)
    [sub] = srt.parse(compose_srt(layout))
    assert sub.content == "감사합니다"
    assert compose_vtt(layout).count("-->") == 1


@pytest.mark.parametrize(
    ("label", "width"),
    [("zh", 16), ("zho_Hans", 16), ("zho_Hant", 16), ("yue", 16), ("yue_Hant", 16), ("th", 35)],
)
def test_a_target_label_picks_its_language_rules(label, width):
    assert rules_for(rules_key(label)).max_width == width


def test_bilingual_puts_source_lines_over_target_lines():
    korean = "오늘은 정말 날씨가 좋네요."
    layout = lay_out([Cue(0, 2, "今日はとても良い天気ですね。", korean)], KO)
    [sub] = srt.parse(compose_bilingual(layout, JA))
    # 14 full-width characters: the Japanese takes two lines of at most 13.
    assert sub.content.splitlines() == ["今日はとても", "良い天気ですね。", korean]


def test_paths_follow_media_server_names():
    paths = subtitle_paths("out/season 1/ep.01", "ja", ["ko", "en"], ["srt", "vtt"], True)
    assert paths.files[("ko", "srt")] == "out/season 1/ep.01.ko.srt"
    assert paths.files[("ja", "vtt")] == "out/season 1/ep.01.ja.vtt"
    assert paths.bilingual == {
        "ko": "out/season 1/ep.01.ja-ko.srt",
        "en": "out/season 1/ep.01.ja-en.srt",
    }


texts = st.text(alphabet="가나다라 마바사ABC,.!?", min_size=0, max_size=40)
cue_lists = st.lists(
    st.builds(
        lambda start, length, text: Cue(start, start + length, "", text),
        st.floats(0, 10_000, allow_nan=False),
        st.floats(0, 30, allow_nan=False),
        texts | st.text(max_size=40),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(cue_lists)
def test_written_srt_always_parses_back_in_order(cues):
    parsed = list(srt.parse(compose_srt(lay_out(cues, KO))))
    for a, b in itertools.pairwise(parsed):
        assert a.start <= b.start and a.end <= b.start
    assert all(s.end >= s.start >= timedelta(0) for s in parsed)


def write_inputs(folder):
    words = (Word(0.5, 1.0, "今日は", 0.9), Word(1.0, 2.0, "晴れです。", 0.9))
    segment = Segment(0.5, 2.0, "今日は晴れです。", 0.01, -0.2, 1.0, words)
    dropped = Decision(5.0, 7.0, "ご視聴ありがとうございました", "dropped", "known silence phrase")
    transcript = Transcript("ja", 0.99, 10.0, (segment,), {}, RUN, (dropped,))
    retry = Retry(0, "今日は晴れです。", "", ("empty",), "beam 8", "오늘은 맑아요.")
    translation = Translation(
        "jpn_Jpan",
        "kor_Hang",
        (TranslatedCue(0.5, 2.0, "今日は晴れです。", "오늘은 맑아요.", 0, "retried: beam 8"),),
        {},
        RUN,
        1,
        (retry,),
    )
    media = Media("videos/a.mp4", 100, 0.0, 10.0, 25.0, 1, RUN)
    write_record(transcript, folder / "transcript.json")
    write_record(translation, folder / "translation.ko.json")
    write_record(media, folder / "media.json")


def test_by_hand_writes_every_format_and_the_qa_report(tmp_path, python):
    write_inputs(tmp_path)
    prefix = tmp_path / "subs" / "ep 01"
    cmd = [python, ROOT / "scripts" / "make_srt.py", prefix, "--transcript"]
    cmd += [tmp_path / "transcript.json", "--translation", f"ko={tmp_path / 'translation.ko.json'}"]
    cmd += ["--media", tmp_path / "media.json", "--formats", "[srt, vtt]", "--bilingual", "true"]
    subprocess.run(cmd, check=True)
    folder = tmp_path / "subs"
    assert sorted(p.name for p in folder.iterdir()) == [
        "ep 01.ja-ko.srt",
        "ep 01.ja.srt",
        "ep 01.ja.vtt",
        "ep 01.ko.srt",
        "ep 01.ko.vtt",
        "ep 01.qa.json",
    ]
    [ko] = srt.parse((folder / "ep 01.ko.srt").read_text(encoding="utf-8"))
    assert ko.content == "오늘은 맑아요." and ko.start == timedelta(seconds=0.5)
    qa = read_qa(folder / "ep 01.qa.json")
    assert qa.cues == {"ja": 1, "ko": 1}
    assert [d.action for d in qa.decisions] == ["dropped"]
    assert [r.method for r in qa.retries["ko"]] == ["beam 8"]
    assert qa.settings["frame_rate"] == 25.0
    assert set(qa.seconds) == {"extract_audio", "transcribe", "translate.ko", "make_srt"}
    assert json.loads((folder / "ep 01.qa.json").read_text(encoding="utf-8"))["rule_breaks"] == {
        "ja": [],
        "ko": [],
    }


def test_detected_source_language_names_the_orig_file_and_keeps_its_rules(tmp_path, python):
    write_inputs(tmp_path)
    prefix = tmp_path / "ep"
    cmd = [
        python,
        ROOT / "scripts" / "make_srt.py",
        prefix,
        "--source-language",
        "auto",
        "--transcript",
    ]
    subprocess.run([*cmd, tmp_path / "transcript.json"], check=True)
    [cue] = srt.parse((tmp_path / "ep.orig.srt").read_text(encoding="utf-8"))
    assert cue.content == "今日は晴れです。"
    assert read_qa(tmp_path / "ep.qa.json").cues == {"orig": 1}


def test_make_srt_reports_a_broken_record_in_one_line(tmp_path, python):
    bad = tmp_path / "transcript.json"
    bad.write_text("{", encoding="utf-8")
    cmd = [python, ROOT / "scripts" / "make_srt.py", tmp_path / "x", "--transcript", bad]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 1
    assert f"autokr: {bad}: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.ja.srt").exists()
