import itertools
import subprocess
from datetime import timedelta

import srt
from hypothesis import given, settings
from hypothesis import strategies as st

from autokr.records import Cue, Run, Translation, write_record
from autokr.subtitles import Line, to_subtitles, write_srt
from conftest import ROOT


def test_cues_are_ordered_and_never_overlap():
    subs = to_subtitles([Line(5, 9, "둘"), Line(1, 6, "하나"), Line(9, 10, " ")])
    assert [s.content for s in subs] == ["하나", "둘"]
    assert subs[0].end <= subs[1].start
    assert [s.index for s in subs] == [1, 2]


def test_no_lines_give_a_valid_empty_file(tmp_path):
    path = tmp_path / "a.srt"
    assert write_srt([], path) == 0
    assert path.read_text() == ""
    assert list(srt.parse(path.read_text())) == []


lines = st.lists(
    st.builds(
        lambda start, length, text: Line(start, start + length, text),
        st.floats(0, 10_000, allow_nan=False),
        st.floats(0, 30, allow_nan=False),
        st.text(min_size=0, max_size=40),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(lines)
def test_written_srt_always_parses_back_in_order(tmp_path_factory, items):
    path = tmp_path_factory.mktemp("srt") / "x.srt"
    count = write_srt(items, path)
    parsed = list(srt.parse(path.read_text(encoding="utf-8")))
    assert len(parsed) == count
    for a, b in itertools.pairwise(parsed):
        assert a.start <= b.start and a.end <= b.start
    assert all(s.end >= s.start >= timedelta(0) for s in parsed)


def test_make_srt_by_hand_from_a_translation(tmp_path, python):
    record = Translation(
        "jpn_Jpan",
        "kor_Hang",
        (Cue(0.5, 2.0, "晴れ", "맑음"), Cue(3.0, 4.5, "雨", "비")),
        {},
        Run("cpu", "float32", 0, 1),
    )
    write_record(record, tmp_path / "translation.ko.json")
    out = tmp_path / "x.ko.srt"
    cmd = [python, ROOT / "scripts" / "make_srt.py", out, "--translation"]
    subprocess.run([*cmd, tmp_path / "translation.ko.json"], check=True)
    subs = list(srt.parse(out.read_text(encoding="utf-8")))
    assert [(s.start.total_seconds(), s.content) for s in subs] == [(0.5, "맑음"), (3.0, "비")]


def test_make_srt_reports_a_broken_record_in_one_line(tmp_path, python):
    bad = tmp_path / "translation.ko.json"
    bad.write_text("{", encoding="utf-8")
    cmd = [python, ROOT / "scripts" / "make_srt.py", tmp_path / "x.srt", "--translation", bad]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 1
    assert f"autokr: {bad}: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.srt").exists()
