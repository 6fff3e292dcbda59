"""Reading subtitle files: SRT, ASS/SSA and WebVTT in the encodings Japanese files come in."""

import codecs
from datetime import timedelta

import pytest
import srt
from hypothesis import given, settings
from hypothesis import strategies as st

from autokr.core.errors import SubtitleError
from autokr.core.records import WORDS_FROM_TEXT
from autokr.text.sentences import join_sentences
from autokr.text.subtitle_formats import (
    TextCue,
    clean_ass,
    clean_tags,
    clean_vtt,
    read_subtitles,
)
from autokr.text.text_source import cue_segment
from speech import PAIRS

SRT = """1
00:00:01,000 --> 00:00:03,500
<i>今日は</i>{\\an8}<font color="#ffff00">とても</font>
良い天気ですね。

2
00:00:04,000 --> 00:00:06,000
♪～

3
00:00:06,500 --> 00:00:08,000
<b>駅まで</b>歩いて十分かかります。
"""


def test_srt_tags_and_override_codes_never_reach_the_text():
    read = read_subtitles(SRT.encode(), "ep.ja.srt")
    assert read.format == "srt" and read.encoding == "UTF-8"
    # A cue of music notes alone has nothing to say and is left out.
    assert read.cues == (
        TextCue(1.0, 3.5, "今日はとても\n良い天気ですね。"),
        TextCue(6.5, 8.0, "駅まで歩いて十分かかります。"),
    )


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (SRT.encode("utf-8"), "UTF-8"),
        (codecs.BOM_UTF8 + SRT.encode("utf-8"), "UTF-8"),
        (SRT.encode("utf-16"), "UTF-16"),  # with its byte-order mark
        (codecs.BOM_UTF16_BE + SRT.encode("utf-16-be"), "UTF-16"),
        (SRT.replace("\n", "\r\n").encode("cp932"), "Shift-JIS"),
    ],
)
def test_japanese_files_are_read_in_every_usual_encoding(data, encoding):
    read = read_subtitles(data, "ep.ja.srt")
    assert read.encoding == encoding
    assert read.cues == read_subtitles(SRT.encode(), "ep.ja.srt").cues


ASS = """\ufeff[Script Info]
ScriptType: v4.00+

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour
Style: Default,Arial,20,&H00FFFFFF

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:05.00,0:00:07.25,Default,,0,0,0,,{\\an8}{\\i1}駅まで{\\i0}\\N歩いて、{\\b1}十分
Comment: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,見えない行
Dialogue: 0,0:00:01.00,0:00:02.50,Default,,0,0,0,,{\\pos(10,10)\\fad(100,100)}はい、\\hはい
Dialogue: 0,0:00:02.00,0:00:03.00,Sign,,0,0,0,,{\\p1}m 0 0 l 100 0 100 100 0 100{\\p0}
Dialogue: 0,1:02:03.4,1:02:04.00,Default,,0,0,0,,{comment}{\\p2}m 0 0 b 1 1 2 2{\\p0}見える
"""


def test_ass_override_codes_drawings_and_comments_never_reach_the_text():
    read = read_subtitles(ASS.encode("utf-8"), "ep.ja.ass")
    assert read.format == "ass"
    assert read.cues == (
        TextCue(1.0, 2.5, "はい、 はい"),
        TextCue(5.0, 7.25, "駅まで\n歩いて、十分"),
        TextCue(3723.4, 3724.0, "見える"),
    )


def test_ssa_v4_events_are_read_by_their_format_line():
    ssa = (
        "[Script Info]\nScriptType: v4.00\n\n[Events]\n"
        "Format: Marked, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
        "Dialogue: Marked=0,0:00:01.50,0:00:02.00,*Default,,0000,0000,0000,,一, 二, 三\n"
    )
    assert read_subtitles(ssa.encode(), "x.ssa").cues == (TextCue(1.5, 2.0, "一, 二, 三"),)


VTT = """WEBVTT - 日本語

STYLE
::cue { color: yellow }

NOTE 00:00:09.000 --> 00:00:10.000 is not a cue

intro
00:01.000 --> 00:03.000 line:0 position:20%
<v 佐藤><c.yellow>今日は</c></v> &amp; <ruby>天気<rt>てんき</rt></ruby>

01:00:04.5 --> 01:00:05.000
<00:00:04.600>いい<i>ね</i>
"""


def test_webvtt_tags_ruby_readings_and_notes_never_reach_the_text():
    read = read_subtitles(VTT.encode(), "ep.ja.vtt")
    assert read.format == "vtt"
    assert read.cues == (TextCue(1.0, 3.0, "今日は & 天気"), TextCue(3604.5, 3605.0, "いいね"))


@pytest.mark.parametrize(
    ("data", "cause"),
    [
        (b"", "ep.ja.srt: empty file"),
        (b" \r\n\n", "ep.ja.srt: empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "ep.ja.srt: not a subtitle file (binary data)"),
        ("Caf\xe9 au lait, s'il vous pla\xeet".encode("latin-1"), "ep.ja.srt: not UTF-8, UTF-16"),
        (SRT.replace("～", "").encode("euc_jp"), "ep.ja.srt: not UTF-8, UTF-16"),
        ("これは字幕ではなくメモです。\n".encode(), "ep.ja.srt: not a subtitle file (no SRT, ASS"),
        (b"WEBVTT\n\nNOTE nothing here\n", "ep.ja.srt: no cues with text (VTT)"),
        (b"[Script Info]\n[Events]\n", "ep.ja.srt: no cues with text (ASS)"),
        ("1\n00:00:01,000 --> 00:00:02,000\n♪\n".encode(), "ep.ja.srt: no cues with text (SRT)"),
    ],
)
def test_a_broken_file_is_one_line_naming_it_and_the_cause(data, cause):
    with pytest.raises(SubtitleError) as caught:
        read_subtitles(data, "ep.ja.srt")
    assert str(caught.value).startswith(cause)
    assert "\n" not in str(caught.value)


#: Text a subtitle line may hold: Japanese, Latin, digits and punctuation, no markup.
LINE = st.text(
    st.sampled_from(list("今日は良い天気ですね駅までアイウabcXYZ019、。！？ ・「」（）")),
    min_size=1,
    max_size=20,
).filter(lambda t: any(ch.isalnum() for ch in t))
SRT_TAG = st.sampled_from(
    ["<i>", "</i>", "<b>", "</b>", '<font color="#fff">', "</font>", "{\\an8}"]
)
ASS_CODE = st.sampled_from(["{\\i1}", "{\\i0}", "{\\an8}", "{\\c&HFFFFFF&}", "{\\fad(1,2)}", "{}"])


def _tidy(text: str) -> str:
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.split())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(LINE, SRT_TAG), min_size=1, max_size=4))
def test_srt_text_survives_any_tags_around_it(parts):
    marked = "".join(f"{tag}{text}" for text, tag in parts)
    assert clean_tags(marked) == _tidy("".join(text for text, _ in parts))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(ASS_CODE, LINE), min_size=1, max_size=4), st.booleans())
def test_ass_text_survives_any_override_codes_and_drawings(parts, drawing):
    shape = "{\\p1}m 0 0 l 10 0 10 10{\\p0}" if drawing else ""
    marked = shape + "\\N".join(f"{code}{text}" for code, text in parts)
    assert clean_ass(marked) == _tidy("\n".join(text for _, text in parts))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(LINE, st.integers(0, 500_000), st.integers(1, 9_000)), min_size=1),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp932"]),
)
def test_composed_srt_reads_back_in_any_encoding(cues, encoding):
    subs = [
        srt.Subtitle(i + 1, timedelta(milliseconds=at), timedelta(milliseconds=at + length), text)
        for i, (text, at, length) in enumerate(cues)
    ]
    read = read_subtitles(srt.compose(subs).encode(encoding), "x.srt")
    expected = sorted(
        (round(s.start.total_seconds(), 3), round(s.end.total_seconds(), 3), _tidy(s.content))
        for s in srt.sort_and_reindex(subs)
    )
    assert sorted((c.start, c.end, c.text) for c in read.cues) == expected


def test_vtt_character_references_are_resolved():
    assert clean_vtt("a &lt;b&gt; &amp; c&nbsp;d") == "a <b> & c d"


def test_a_cue_becomes_a_segment_with_its_timing_and_words_cut_from_its_text():
    seg = cue_segment(TextCue(2.0, 4.0, "はい、\nいいえ"), spaced=False)
    assert (seg.start, seg.end, seg.text) == (2.0, 4.0, "はい、いいえ")
    assert WORDS_FROM_TEXT in seg.flags
    assert [w.word for w in seg.words] == list("はい、いいえ")
    assert seg.words[0].start == 2.0 and seg.words[-1].end == 4.0
    assert all(abs((w.end - w.start) - 2.0 / 6) < 0.002 for w in seg.words)  # by character
    english = cue_segment(TextCue(0.0, 3.0, "I see\nthe sea"), spaced=True)
    assert english.text == "I see the sea"
    assert [w.word for w in english.words] == ["I", " see", " the", " sea"]
    assert english.words[1].end - english.words[1].start == pytest.approx(3.0 * 3 / 10, abs=0.002)


def test_the_sentence_splitter_cuts_a_cue_of_two_sentences_and_joins_one_over_two_cues():
    (a, _), (b, _), (c, _) = PAIRS[0:3]
    cues = [TextCue(1.0, 5.0, a + b), TextCue(5.5, 7.0, c[:6]), TextCue(7.2, 9.0, c[6:])]
    sentences = join_sentences([cue_segment(cue, spaced=False) for cue in cues])
    assert [s.text for s in sentences] == [a, b, c]
    # The sentence over two cues keeps both cues' timing as its pieces.
    assert [(p.start, p.end) for p in sentences[2].pieces] == [(5.5, 7.0), (7.2, 9.0)]
    assert sentences[0].start == 1.0 and sentences[1].end == 5.0
