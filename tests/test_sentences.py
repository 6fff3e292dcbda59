"""Joining words into sentences and sharing a translation back over them."""

from hypothesis import given
from hypothesis import strategies as st

from autokr.core.records import Segment, Word
from autokr.text.sentences import (
    Piece,
    SentenceOptions,
    ends_sentence,
    join_sentences,
    repeats_itself,
    share_text,
)


def segment(words, text=None):
    joined = "".join(w for _, _, w in words)
    return Segment(
        words[0][0],
        words[-1][1],
        text or joined,
        0.01,
        -0.2,
        1.0,
        tuple(Word(s, e, w, 0.9) for s, e, w in words),
    )


def test_a_sentence_split_over_two_segments_is_joined():
    segments = [
        segment([(0, 0.5, "今日は"), (0.5, 1.0, "天気が"), (1.0, 1.4, "良いので、")]),
        segment([(1.5, 2.0, "散歩に"), (2.0, 2.5, "行きます。"), (3.0, 3.5, "明日は")]),
        segment([(3.5, 4.0, "雨です。")]),
    ]
    sentences = join_sentences(segments)
    assert [s.text for s in sentences] == [
        "今日は天気が良いので、散歩に行きます。",
        "明日は雨です。",
    ]
    # The first sentence keeps the two stretches of speech it was made of.
    assert [(p.start, p.end) for p in sentences[0].pieces] == [(0, 1.4), (1.5, 2.5)]
    assert sentences[1].start == 3.0 and sentences[1].end == 4.0


def test_a_long_pause_ends_a_sentence_without_punctuation():
    segments = [segment([(0, 0.5, "はい"), (3.0, 3.5, "そうです")])]
    assert [s.text for s in join_sentences(segments)] == ["はい", "そうです"]


def test_a_too_long_sentence_is_cut_at_a_clause():
    words = [
        (i * 0.3, i * 0.3 + 0.3, w)
        for i, w in enumerate("あいうえおかきくけこ、さしすせそたちつてと")
    ]
    sentences = join_sentences([segment(words)], SentenceOptions(max_chars=12))
    assert [s.text for s in sentences] == ["あいうえおかきくけこ、", "さしすせそたちつてと"]


def test_an_edited_segment_is_taken_whole():
    # The user fixed the text; the words still spell the old one.
    edited = segment([(0, 0.5, "海に"), (0.5, 1.0, "行きました。")], text="山に登りました。")
    [sentence] = join_sentences([edited])
    assert sentence.text == "山に登りました。" and sentence.end == 1.0


def test_latin_words_keep_their_spaces():
    seg = segment([(0, 0.3, " Hello"), (0.3, 0.6, " world.")])
    assert join_sentences([seg])[0].text == "Hello world."


def test_translation_is_shared_in_proportion_at_korean_spaces():
    pieces = [Piece(0, 1.4, "今日は天気が良いので、"), Piece(1.5, 2.5, "散歩に行きます。")]
    parts = share_text("오늘은 날씨가 좋아서 산책을 갑니다", pieces, by_space=True)
    assert parts == ["오늘은 날씨가 좋아서", "산책을 갑니다"]


def test_a_korean_word_is_never_cut_between_pieces():
    two = [Piece(0, 1, "ありがとう"), Piece(1.5, 2.0, "ございます")]
    assert share_text("감사합니다", two, by_space=True) == ["감사합니다", ""]
    three = [Piece(0, 1, "どうも"), Piece(1.5, 2.0, "ありがとう"), Piece(2.5, 3, "ございます")]
    parts = share_text("감사합니다", three, by_space=True)
    # The word goes whole to the piece its share falls in; the others get none.
    assert sorted(parts) == ["", "", "감사합니다"]


def test_fewer_words_than_pieces_keeps_each_word_whole_and_in_order():
    pieces = [Piece(i, i + 1, "あいう") for i in range(3)]
    parts = share_text("감사합니다 여러분", pieces, by_space=True)
    assert parts == ["감사합니다", "", "여러분"]


def test_thai_is_not_cut_between_a_letter_and_its_vowel():
    parts = share_text("สวัสดีครับ", [Piece(0, 1, "ab"), Piece(1, 2, "cd")], by_space=False)
    assert "".join(parts) == "สวัสดีครับ"
    assert parts[1][0] not in "ัิีึืุู่้๊๋ะาำ"


def test_one_piece_gets_everything():
    assert share_text("전부", [Piece(0, 1, "x")], by_space=True) == ["전부"]


@given(
    st.text(alphabet="가나다 라마", min_size=0, max_size=50),
    st.lists(st.text(alphabet="あいう", min_size=1, max_size=8), min_size=1, max_size=6),
    st.booleans(),
)
def test_shared_parts_always_give_back_the_whole_text(text, sources, by_space):
    pieces = [Piece(i, i + 1, s) for i, s in enumerate(sources)]
    parts = share_text(text, pieces, by_space)
    assert len(parts) == len(pieces)
    squash = "".join(text.split())
    assert "".join("".join(p.split()) for p in parts) == squash
    if by_space:  # every word whole, in one piece
        assert " ".join(p for p in parts if p) == " ".join(text.split())
    words = text.split()
    if len(words) >= len(pieces) or (not by_space and len(squash) >= len(pieces)):
        assert all(parts)  # enough places to cut: every piece gets some


def test_sentence_ends_are_found_behind_closing_quotes():
    assert ends_sentence("「行きます。」") and ends_sentence("Really?!")
    assert not ends_sentence("行きます、") and not ends_sentence("")


def test_a_loop_is_a_run_of_two_or_more_characters_said_the_given_times():
    assert repeats_itself("はいはいはい", 3) and not repeats_itself("はいはいはい", 4)
    assert repeats_itself("정말 좋아요 정말 좋아요 정말 좋아요", 3)
    assert not repeats_itself("네 네 네 네", 3)  # one character is no loop
