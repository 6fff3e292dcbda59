"""read_subtitles: which of a video's own subtitles become its transcript, and the transcript.

Files beside a video are made here; videos with text and picture subtitle
tracks are real (ffmpeg, ``subtitle_media``).
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autokr.core.config import output_settings, validate_config
from autokr.core.errors import ConfigError, SubtitleError
from autokr.core.records import WORDS_FROM_TEXT, read_transcript
from autokr.text.text_source import (
    choose_text,
    describe,
    read_text,
    read_video_subtitles,
    speech_source,
)
from conftest import ROOT
from speech import PAIRS
from subtitle_media import ASS_COMMENT, ASS_TRACK, SRT_TRACK, srt_text, subtitled_videos

NOTHING_PUBLISHED = lambda path: False  # noqa: E731


@pytest.fixture(scope="module")
def subtitled(media):
    return subtitled_videos(media)


def folder_with(tmp_path: Path, video: str, files: dict[str, bytes]) -> Path:
    """A folder holding an (empty) video and files beside it; the video's path."""
    (tmp_path / video).write_bytes(b"")
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path / video


GOOD = srt_text([PAIRS[3][0]]).encode()


def test_a_file_beside_the_video_in_its_language_is_chosen_by_any_usual_name(tmp_path):
    video = folder_with(
        tmp_path,
        "ep.01.mkv",
        {
            "ep.01.ko.srt": GOOD,  # another language
            "ep.01.ja.forced.srt": GOOD,  # signs only
            "ep.srt": GOOD,  # no language
            "ep.mkv": b"",
            "ep.ja.srt": GOOD,  # ep.mkv's, not ep.01.mkv's
            "ep.01.Japanese.vtt": b"WEBVTT\n\n00:01.000 --> 00:02.000\n" + PAIRS[4][0].encode(),
            "ep.01.jpn.ass": b"[Events]\nDialogue: 0,0:00:01.00,0:00:02.00,D,,0,0,0,,x",
        },
    )
    found = choose_text(video, "ja", "auto", NOTHING_PUBLISHED)
    # SRT before ASS before WebVTT: the ASS is chosen, the others are never read.
    assert (found.kind, Path(found.path).name, found.format) == ("file", "ep.01.jpn.ass", "ass")
    assert found.skipped == ()
    (tmp_path / "ep.01.jpn.ass").unlink()
    assert Path(choose_text(video, "ja", "auto", NOTHING_PUBLISHED).path).name == (
        "ep.01.Japanese.vtt"
    )


def test_files_autokr_published_never_count_but_an_edited_copy_does(tmp_path):
    video = folder_with(tmp_path, "ep.mkv", {"ep.ja.srt": GOOD})
    published = lambda path: path.name == "ep.ja.srt"  # noqa: E731
    assert choose_text(video, "ja", "auto", published).kind == "speech"
    assert choose_text(video, "ja", "auto", NOTHING_PUBLISHED).kind == "file"


def test_speech_or_an_undetected_language_never_looks(tmp_path):
    video = folder_with(tmp_path, "ep.mkv", {"ep.ja.srt": GOOD})
    assert choose_text(video, "ja", "speech", NOTHING_PUBLISHED).kind == "speech"
    assert choose_text(video, "auto", "auto", NOTHING_PUBLISHED).kind == "speech"


def test_broken_files_are_passed_over_one_line_each_and_the_next_one_is_read(tmp_path):
    video = folder_with(
        tmp_path,
        "ep.mkv",
        {
            "ep.ja.srt": b"",
            "ep.jpn.srt": "d\xe9j\xe0 vu".encode("latin-1"),
            "ep.ja.ass": "ただのメモです。\n".encode(),
            "ep.ja.sup": b"PG\x00",
            "ep.Japanese.vtt": b"WEBVTT\n\n00:01.000 --> 00:02.500\n" + PAIRS[4][0].encode(),
        },
    )
    found = choose_text(video, "ja", "auto", NOTHING_PUBLISHED)
    assert Path(found.path).name == "ep.Japanese.vtt"
    assert found.skipped == (
        f"{tmp_path}/ep.ja.srt: empty file",
        f"{tmp_path}/ep.jpn.srt: not UTF-8, UTF-16 (with a byte-order mark) or Shift-JIS "
        "text; save it as UTF-8",
        f"{tmp_path}/ep.ja.ass: not a subtitle file (no SRT, ASS or WebVTT cues)",
    )
    (tmp_path / "ep.Japanese.vtt").unlink()
    fallback = speech_source(video, "ja", "auto", NOTHING_PUBLISHED)
    assert fallback.kind == "speech" and len(fallback.skipped) == 4
    assert fallback.skipped[-1] == f"{tmp_path}/ep.ja.sup: pictures of text (PGS), not text"


def test_a_text_track_in_the_language_is_read_and_others_are_not(subtitled):
    found = choose_text(subtitled["srt-track.mkv"], "ja", "auto", NOTHING_PUBLISHED)
    # Track 0 is English; track 1, tagged jpn, is the Japanese one.
    assert (found.kind, found.track, found.format) == ("track", 1, "subrip")
    assert [c.text for c in read_text(found).cues] == SRT_TRACK  # <i> removed
    assert choose_text(subtitled["srt-track.mkv"], "en", "auto", NOTHING_PUBLISHED).track == 0


def test_an_ass_track_loses_its_override_codes_drawings_and_comments(subtitled):
    found = choose_text(subtitled["ass-track.mkv"], "ja", "auto", NOTHING_PUBLISHED)
    assert (found.kind, found.track, found.format) == ("track", 0, "ass")
    cues = read_text(found).cues
    assert [c.text.replace("\n", "") for c in cues] == ASS_TRACK
    assert [(c.start, c.end) for c in cues] == [(0.5, 2.5), (3.0, 5.5)]
    assert not any(ch in c.text for c in cues for ch in "{}\\") and ASS_COMMENT not in str(cues)


def test_a_picture_track_is_passed_over_with_its_reason(subtitled):
    video = subtitled["pgs-track.mkv"]
    found = choose_text(video, "ja", "auto", NOTHING_PUBLISHED)
    assert found.kind == "speech"
    assert found.skipped == (
        f"{video}: subtitle track 0 (jpn, hdmv_pgs_subtitle): pictures of text, not text",
    )


def test_a_file_beside_the_video_comes_before_a_track_inside_it(subtitled, tmp_path):
    video = tmp_path / "srt-track.mkv"
    shutil.copy(subtitled["srt-track.mkv"], video)
    (tmp_path / "srt-track.ja.srt").write_bytes(GOOD)
    assert choose_text(video, "ja", "auto", NOTHING_PUBLISHED).kind == "file"


def test_the_transcript_is_the_subtitles_with_their_timing_and_their_source(subtitled, tmp_path):
    out = tmp_path / "transcript.json"
    read_video_subtitles(str(subtitled["ass-track.mkv"]), str(out), "ja", "auto")
    transcript = read_transcript(out)
    assert transcript.source.kind == "track" and transcript.source.track == 0
    assert describe(transcript.source).endswith("ass-track.mkv, subtitle track 0 (ass)")
    assert [s.text for s in transcript.segments] == ASS_TRACK
    assert [(s.start, s.end) for s in transcript.segments] == [(0.5, 2.5), (3.0, 5.5)]
    assert all(WORDS_FROM_TEXT in s.flags and s.words for s in transcript.segments)
    assert (transcript.language, transcript.mode) == ("ja", "subtitles")
    assert transcript.duration == pytest.approx(5.78, abs=0.1)  # the video's, not the cues'


def test_subtitles_required_and_missing_fail_with_one_line_naming_the_file(tmp_path):
    video = folder_with(tmp_path, "ep.mkv", {})
    with pytest.raises(SubtitleError, match=r"ep\.mkv: no Japanese text subtitles beside it"):
        read_video_subtitles(str(video), str(tmp_path / "t.json"), "ja", "subtitles")
    (tmp_path / "ep.ja.srt").write_bytes(b"")
    with pytest.raises(SubtitleError) as caught:
        read_video_subtitles(str(video), str(tmp_path / "t.json"), "ja", "subtitles")
    assert str(caught.value) == f"{tmp_path}/ep.ja.srt: empty file; transcribe.source is subtitles"
    assert not (tmp_path / "t.json").exists()


def test_subtitles_that_changed_since_the_run_planned_are_not_read_unnoticed(tmp_path):
    video = folder_with(tmp_path, "ep.mkv", {"ep.ja.srt": GOOD, "ep.jpn.srt": GOOD})
    planned = (str(tmp_path / "ep.jpn.srt"), None)
    with pytest.raises(SubtitleError, match="changed while the run went on"):
        read_video_subtitles(str(video), str(tmp_path / "t.json"), "ja", "auto", expected=planned)


def test_by_hand_a_missing_subtitle_is_one_line_and_exit_code_1(tmp_path):
    video = folder_with(tmp_path, "ep.mkv", {})
    script = ROOT / "scripts" / "read_subtitles.py"
    done = subprocess.run(
        [sys.executable, str(script), str(video), str(tmp_path / "t.json")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(f"autokr: {video}: no Japanese")
    (tmp_path / "ep.ja.srt").write_bytes(GOOD)
    subprocess.run(
        [sys.executable, str(script), str(video), str(tmp_path / "t.json")],
        check=True,
        cwd=tmp_path,
    )
    assert read_transcript(tmp_path / "t.json").segments[0].text == PAIRS[3][0]


def test_the_source_setting_chooses_a_rule_and_is_no_param_of_transcribe():
    # Changing it reruns only the videos whose rule, and so inputs, it changes.
    assert (
        output_settings(validate_config({"transcribe": {"source": "speech"}}), "transcribe") == {}
    )
    with pytest.raises(ConfigError, match=r"transcribe\.source: subtitles needs source_language"):
        validate_config({"source_language": "auto", "transcribe": {"source": "subtitles"}})
    with pytest.raises(ConfigError, match=r"transcribe\.source: 'both' is not one of"):
        validate_config({"transcribe": {"source": "both"}})
