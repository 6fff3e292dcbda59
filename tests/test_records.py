import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autokr.core.errors import RecordError
from autokr.core.record_files import write_record
from autokr.core.records import (
    Cue,
    Run,
    Segment,
    Transcript,
    Translation,
    Word,
    read_transcript,
    read_translation,
)

RUN = Run("cpu", "int8", 1.0, 2.0, "host")


def transcript():
    words = (Word(0.5, 0.9, "今日は", 0.9), Word(0.9, 1.4, "晴れ", 0.8))
    segment = Segment(0.5, 1.4, "今日は晴れ", 0.01, -0.2, 1.1, words)
    return Transcript("ja", 0.99, 3.0, (segment,), {"model": "base"}, RUN)


def test_transcript_round_trips_as_readable_utf8(tmp_path):
    path = tmp_path / "transcript.json"
    write_record(transcript(), path)
    assert read_transcript(path) == transcript()
    text = path.read_text(encoding="utf-8")
    assert "今日は晴れ" in text  # ensure_ascii=False: a user can edit it
    assert json.loads(text)["version"] == 1


def test_translation_round_trips(tmp_path):
    path = tmp_path / "translation.ko.json"
    record = Translation("jpn_Jpan", "kor_Hang", (Cue(0.5, 1.4, "晴れ", "맑음"),), {}, RUN)
    write_record(record, path)
    assert read_translation(path) == record


def test_write_leaves_no_temporary_file_and_is_not_stopped_by_a_stale_one(tmp_path):
    path = tmp_path / "transcript.json"
    # A killed writer's temporary file (or another writer's, still writing) is not ours.
    (tmp_path / "transcript.json.tmp").write_text("half a fi")
    write_record(transcript(), path)
    assert read_transcript(path) == transcript()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["transcript.json", "transcript.json.tmp"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("segments"), "missing field 'segments'"),
        (lambda d: d.update(version=99), "version 99 is not 1"),
        (
            lambda d: d["segments"][0].update(start="0.5"),
            "segments[0].start: should be a number, not str",
        ),
        (
            lambda d: d["segments"][0]["words"][1].pop("word"),
            "segments[0].words[1]: missing field 'word'",
        ),
        (
            lambda d: d["segments"][0].update(text=None),
            "segments[0].text: should be str, not NoneType",
        ),
    ],
)
def test_edited_transcript_with_a_mistake_names_the_field(tmp_path, mutate, message):
    path = tmp_path / "transcript.json"
    write_record(transcript(), path)
    data = json.loads(path.read_text(encoding="utf-8"))
    mutate(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(RecordError) as caught:
        read_transcript(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_not_json_or_missing_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff{not json")
    with pytest.raises(RecordError, match="not valid JSON"):
        read_transcript(bad)
    with pytest.raises(RecordError, match="file not found"):
        read_translation(tmp_path / "missing.json")


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(data=json_values, version=st.sampled_from([1, 1, 2, None]))
def test_readers_never_crash_on_hostile_json(tmp_path_factory, data, version):
    path = tmp_path_factory.mktemp("fuzz") / "record.json"
    if isinstance(data, dict):
        data["version"] = version
    path.write_text(json.dumps(data), encoding="utf-8")
    for read in (read_transcript, read_translation):
        try:
            read(path)
        except RecordError as exc:
            assert str(path) in str(exc)
