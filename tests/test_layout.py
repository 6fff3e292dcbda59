"""Cue layout rules: line width and breaking, durations, gaps, reading speed."""

import dataclasses
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autokr.core import records
from autokr.text.layout import Cue, lay_out, reading_chars, rules_for, split_text, text_width, wrap

KO = rules_for("ko")
JA = rules_for("ja")
EN = rules_for("en")
ZH = rules_for("zh")
TH = rules_for("th")


def cue(start, end, text, source=""):
    return Cue(start, end, source, text)


def test_korean_width_counts_latin_digits_spaces_and_punctuation_half():
    assert text_width("한국어", KO) == 3
    assert text_width("OK 12.", KO) == 3
    assert text_width("Netflix 자막", KO) == 6


def test_short_korean_line_stays_whole():
    assert wrap("오늘은 정말 날씨가 좋네요.", KO) == ["오늘은 정말 날씨가 좋네요."]


def test_korean_breaks_at_a_space_into_balanced_lines():
    lines = wrap("내일 아침에 친구와 영화를 보러 갑니다 그리고 저녁도", KO)
    assert lines is not None and len(lines) == 2
    assert all(text_width(line, KO) <= 16 for line in lines)
    assert abs(text_width(lines[0], KO) - text_width(lines[1], KO)) <= 3
    assert " ".join(lines) == "내일 아침에 친구와 영화를 보러 갑니다 그리고 저녁도"


def test_korean_prefers_to_break_after_a_sentence_end():
    assert wrap("그리고 저녁을 먹어요. 그 다음에 집에 가요", KO)[0] == "그리고 저녁을 먹어요."


def test_mixed_korean_and_latin_fits_by_half_widths():
    lines = wrap("Netflix 자막 가이드를 따르는 한국어 자막입니다", KO)
    assert lines == ["Netflix 자막 가이드를", "따르는 한국어 자막입니다"]


def test_a_long_run_with_no_space_breaks_between_characters():
    word = "가나다라마바사아자차카타파하가나다라마바"  # 20 units, no space
    lines = wrap(word, KO)
    assert lines is not None and "".join(lines) == word
    assert all(text_width(line, KO) <= 16 for line in lines)


def test_text_for_more_than_two_lines_does_not_wrap():
    assert wrap("가" * 40, KO) is None


def test_japanese_breaks_between_characters_after_punctuation_or_a_particle():
    assert wrap("明日の朝、友達と映画を見に行きます。", JA) == [
        "明日の朝、友達と",
        "映画を見に行きます。",
    ]
    lines = wrap("私は毎朝コーヒーを飲みながら新聞を読みます", JA)
    assert all(text_width(line, JA) <= 13 for line in lines)
    assert not lines[1].startswith(("ー", "っ", "、"))


def test_languages_without_a_table_get_42_characters():
    assert EN.max_width == 42 and EN.max_lines == 2 and EN.break_at == "space"
    assert len(wrap("a" * 30 + " " + "b" * 30, EN)) == 2


@pytest.mark.parametrize("code", ["zh", "yue", "zho_Hans", "zho_Hant", "yue_Hant"])
def test_chinese_gets_the_netflix_chinese_rules(code):
    rules = rules_for(code)
    assert (rules.max_width, rules.max_lines, rules.max_cps) == (16, 2, 9)
    assert rules.break_at == "char" and rules.half_width_half


@pytest.mark.parametrize("code", ["th", "tha_Thai"])
def test_thai_gets_35_characters_a_line(code):
    assert rules_for(code).max_width == 35 and rules_for(code).max_lines == 2


def test_a_34_character_chinese_line_is_laid_out_in_lines_of_16():
    text = "我们明天早上和朋友一起去看电影然后在附近的餐厅吃晚饭好吗我们一起去吧"
    assert len(text) == 34
    layout = lay_out([cue(0, 6, text)], ZH, 24)
    assert "".join(c.text for c in layout.cues) == text
    assert all(len(line) <= 16 for lines in layout.lines for line in lines)
    assert len(layout.cues) == 2 and layout.breaks == []


def test_chinese_latin_letters_and_punctuation_count_half():
    assert text_width("我用iPhone。", ZH) == 2 + 3 + 1


def test_thai_breaks_at_a_space_where_there_is_one():
    text = "ถ้าฉันรู้ว่าเธอจะไม่อยู่บ้านในวันนี้ ฉันคงไม่โทรไปหาเธอหรอก"
    assert wrap(text, TH) == text.split(" ")


def test_thai_with_no_space_breaks_between_letters_within_the_width():
    text = "ฉันคงไม่โทรไปหาเธอหรอกถ้าฉันรู้ว่าเธอจะไม่อยู่บ้านในวันนี้"
    # Vowels above and below a letter and tone marks take no room of their own.
    assert len(text) == 58 and text_width(text, TH) == 44
    lines = wrap(text, TH)
    assert lines is not None and len(lines) == 2 and "".join(lines) == text
    assert all(text_width(line, TH) <= 35 for line in lines)
    # No line starts with a mark or a following vowel, none ends on a leading vowel.
    assert not unicodedata.category(lines[1][0]).startswith("M")
    assert lines[1][0] not in "ะาำๆ" and lines[0][-1] not in "เแโใไ"


def test_layout_cue_has_the_fields_of_the_translated_cue_in_the_same_order():
    laid = [f.name for f in dataclasses.fields(Cue)]
    recorded = [f.name for f in dataclasses.fields(records.Cue)]
    assert laid == recorded[: len(laid)] == ["start", "end", "source", "text"]


def test_config_overrides_one_rule():
    assert rules_for("ko", {"max_width": 20}).max_width == 20
    assert rules_for("kor_Hang").max_width == 16


def test_split_text_prefers_sentence_then_clause_boundaries():
    assert split_text("좋아요. 그럼 내일 봐요", KO) == ("좋아요.", "그럼 내일 봐요")
    assert split_text("今日は晴れ、明日は雨です", JA) == ("今日は晴れ、", "明日は雨です")


def test_short_cue_is_extended_into_the_silence_after_it():
    [laid] = lay_out([cue(1.0, 1.3, "네")], KO, 24, media_end=10).cues
    assert laid.duration == pytest.approx(5 / 6)


def test_short_cue_stops_two_frames_before_the_next():
    cues = lay_out([cue(1.0, 1.3, "네"), cue(1.6, 3.0, "알겠어요")], KO, 25).cues
    assert cues[1].start - cues[0].end == pytest.approx(2 / 25)


def test_long_cue_is_split_at_a_sentence_with_time_shared_by_length():
    text = "내일 아침에 친구와 영화를 보러 갑니다. 그리고 저녁도 같이 먹어요."
    cues = lay_out([cue(0, 12, text)], KO, 24).cues
    assert len(cues) >= 2 and all(c.duration <= 7 for c in cues)
    assert " ".join(c.text for c in cues) == text
    first_share = reading_chars(cues[0].text) / reading_chars(text)
    assert cues[0].duration == pytest.approx(12 * first_share, abs=0.1)


def test_overlapping_cues_are_separated_and_ordered():
    layout = lay_out([cue(5, 8, "둘째"), cue(1, 6, "첫째")], KO, 24)
    assert [c.text for c in layout.cues] == ["첫째", "둘째"]
    assert layout.cues[1].start - layout.cues[0].end >= 2 / 24 - 1e-9


def test_fast_cue_is_extended_then_merged_with_a_neighbour():
    fast = lay_out([cue(0, 3, "오늘"), cue(3.1, 3.6, "정말 날씨가 좋네요")], KO, 24, media_end=3.7)
    assert len(fast.cues) == 1 and fast.cues[0].text == "오늘 정말 날씨가 좋네요"
    assert fast.breaks == []


def test_what_still_breaks_a_rule_is_reported():
    # Dense speech boxed in by dense neighbours: no extension or merge can help.
    cues = [cue(0, 1, "가" * 14), cue(1.1, 1.4, "나" * 14), cue(1.5, 2.5, "다" * 14)]
    layout = lay_out(cues, KO, 24, media_end=2.6)
    assert len(layout.cues) == 3
    fast = [b for b in layout.breaks if b.rule == "too_fast"]
    assert [b.cue for b in fast] == [0, 1, 2]
    assert all(b.value > 12 and b.limit == 12 for b in fast)


cue_lists = st.lists(
    st.builds(
        lambda start, length, text: cue(start, start + length, text),
        st.floats(0, 600, allow_nan=False),
        st.floats(0, 20, allow_nan=False),
        st.text(alphabet="가나다라마바사 ABC12.,", min_size=1, max_size=60),
    ),
    max_size=15,
)


@settings(max_examples=150, deadline=None)
@given(cue_lists)
def test_laid_out_cues_never_overlap_and_keep_the_width(cues):
    layout = lay_out(cues, KO, 24)
    for a, b in zip(layout.cues, layout.cues[1:], strict=False):
        assert a.end <= b.start + 1e-9
    for i, (laid, lines) in enumerate(zip(layout.cues, layout.lines, strict=True)):
        assert laid.end >= laid.start
        # A line over the rules is allowed only where the report names that cue and rule.
        reported = {b.rule for b in layout.breaks if b.cue == i}
        assert len(lines) <= 2 or "too_many_lines" in reported
        assert all(text_width(ln, KO) <= 16 for ln in lines) or "line_too_wide" in reported
