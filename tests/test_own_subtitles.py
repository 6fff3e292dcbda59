"""Videos with Japanese subtitles of their own, run through `snakemake` as a user runs it.

One project folder, four runs in order: the first (a sidecar file, an SRT
track, an ASS track, and a video whose subtitles cannot be read); nothing
changed; a sidecar edited and one added; `transcribe.source: subtitles` with a
video that has none and no Whisper model at all. The subtitles say sentences
of ``speech.PAIRS`` that the videos do not speak, and the tiny NLLB model
translates those sentences exactly, so the Korean tells where the text came from.
"""

import shutil

import pytest

from autokr.core.records import WORDS_FROM_TEXT, read_qa, read_transcript
from runs import (
    configure,
    copy_project,
    cues,
    korean_text,
    rules_of,
    set_config,
    snakemake,
    started_jobs,
    subtitle,
)
from speech import KOREAN, PAIRS, kana_cer
from subtitle_media import ASS_COMMENT, ASS_TRACK, SRT_TRACK, srt_text, subtitled_videos

pytestmark = pytest.mark.workflow

#: What the sidecar of sidecar.mp4 says (its speech is PAIRS[0:3]).
SIDECAR = [PAIRS[3][0], PAIRS[4][0]]
#: Subtitle files beside broken.mkv that cannot be read, and why.
BROKEN = {
    "broken.ja.srt": (b"", "empty file"),
    "broken.jpn.srt": ("d\xe9j\xe0 vu".encode("latin-1"), "not UTF-8, UTF-16"),
    "broken.ja.ass": ("ただのメモです。\n".encode(), "not a subtitle file"),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory, whisper_model, nllb_model, media):
    root = copy_project(tmp_path_factory.mktemp("autokr-own-subtitles"))
    configure(root, whisper_model, nllb_model)
    set_config(root, publish=["next_to_video"])
    videos = root / "videos"
    videos.mkdir()
    shutil.copy(media["three.mp4"], videos / "sidecar.mp4")
    (videos / "sidecar.ja.srt").write_text(srt_text(SIDECAR), encoding="utf-8")
    subtitled = subtitled_videos(media)
    shutil.copy(subtitled["srt-track.mkv"], videos / "srt-track.mkv")
    shutil.copy(subtitled["ass-track.mkv"], videos / "ass-track.mkv")
    # Speech (PAIRS[5]), a picture track and three files that are not subtitles.
    shutil.copy(subtitled["pgs-track.mkv"], videos / "broken.mkv")
    for name, (data, _) in BROKEN.items():
        (videos / name).write_bytes(data)
    return root


@pytest.fixture(scope="module")
def first_run(project):
    return snakemake(project)


def transcript(project, video):
    return read_transcript(project / "results" / "videos" / video / "transcript.json")


def qa(project, video):
    return read_qa(project / "results" / "videos" / video / "qa.json")


def test_a_sidecar_becomes_the_transcript_and_its_korean(project, first_run):
    assert first_run.returncode == 0, first_run.stderr
    made = transcript(project, "sidecar")
    assert [s.text for s in made.segments] == SIDECAR
    assert [(s.start, s.end) for s in made.segments] == [(1.0, 3.5), (4.0, 6.5)]
    assert all(WORDS_FROM_TEXT in s.flags for s in made.segments)
    assert (made.source.kind, made.source.path) == ("file", "videos/sidecar.ja.srt")
    # The Korean is the sidecar's sentences, not the speech's, at the cues' times.
    korean = cues(subtitle(project, "sidecar", "ko"))
    assert [c.content.replace("\n", " ") for c in korean] == [KOREAN[s] for s in SIDECAR]
    assert [c.start.total_seconds() for c in korean] == [1.0, 4.0]
    assert qa(project, "sidecar").text_source == "videos/sidecar.ja.srt (srt, UTF-8)"


def test_text_tracks_inside_a_video_become_its_transcript(project, first_run):
    assert korean_text(project, "srt-track") == KOREAN[SRT_TRACK[0]]
    assert transcript(project, "srt-track").source.track == 1  # track 0 is English
    assert korean_text(project, "ass-track") == " ".join(KOREAN[s] for s in ASS_TRACK)
    japanese = subtitle(project, "ass-track", "ja").read_text(encoding="utf-8")
    assert not set("{}\\") & set(japanese) and ASS_COMMENT not in japanese
    assert qa(project, "ass-track").text_source == "videos/ass-track.mkv, subtitle track 0 (ass)"


def test_subtitles_that_cannot_be_read_are_one_line_each_and_speech_is_transcribed(
    project, first_run
):
    said = transcript(project, "broken")
    assert said.source.kind == "speech" and said.mode != "subtitles"
    assert kana_cer(PAIRS[5][0], "".join(s.text for s in said.segments)) < 0.2
    assert korean_text(project, "broken") == KOREAN[PAIRS[5][0]]
    skipped = qa(project, "broken").text_skipped
    for (name, (_, cause)), line in zip(BROKEN.items(), skipped, strict=False):
        assert line.startswith(f"videos/{name}: {cause}")
        assert first_run.stderr.count(f"autokr: videos/{name}: {cause}") == 1
    assert skipped[3] == (
        "videos/broken.mkv: subtitle track 0 (jpn, hdmv_pgs_subtitle): pictures of text, not text"
    )
    summary = (project / "results" / "summary.md").read_text(encoding="utf-8")
    assert "## Text from subtitles" in summary
    assert "| broken | speech | videos/broken.ja.srt: empty file; " in summary
    assert "| sidecar | videos/sidecar.ja.srt (srt, UTF-8) | - |" in summary


def test_only_the_video_without_readable_subtitles_was_transcribed(project, first_run):
    jobs = started_jobs(first_run.stderr + first_run.stdout)
    assert [w for rule, w in jobs if rule == "transcribe"] == ["video=broken"]
    assert rules_of(jobs)["read_subtitles"] == 3


def test_nothing_changed_reruns_nothing_and_autokrs_own_copies_never_count(project, first_run):
    # publish put srt-track.ja.srt beside its video: autokr's, so not a source.
    assert (project / "videos" / "srt-track.ja.srt").exists()
    result = snakemake(project)
    assert result.returncode == 0, result.stderr
    assert not started_jobs(result.stderr + result.stdout)
    assert transcript(project, "srt-track").source.kind == "track"


def test_an_edited_or_added_sidecar_reruns_its_video_from_the_transcript_on(project, first_run):
    videos = project / "videos"
    (videos / "sidecar.ja.srt").write_text(srt_text([PAIRS[5][0]], start=2.0), encoding="utf-8")
    vtt = f"WEBVTT\n\n00:01.000 --> 00:03.000\n<c.yellow>{PAIRS[0][0]}</c>\n"
    (videos / "broken.ja.vtt").write_text(vtt, encoding="utf-8")
    result = snakemake(project)
    assert result.returncode == 0, result.stderr
    jobs = started_jobs(result.stderr + result.stdout)
    assert rules_of(jobs) == {"read_subtitles": 2, "translate": 2, "make_srt": 2, "publish": 2}
    assert {w for _, w in jobs} == {"video=sidecar", "video=sidecar, lang=ko"} | {
        "video=broken",
        "video=broken, lang=ko",
    }
    assert korean_text(project, "sidecar") == KOREAN[PAIRS[5][0]]
    assert korean_text(project, "broken") == KOREAN[PAIRS[0][0]]
    source = transcript(project, "broken").source
    assert (source.path, source.format) == ("videos/broken.ja.vtt", "vtt")
    assert len(source.skipped) == 3  # the broken files, still passed over


def test_subtitles_required_fails_the_video_without_them_alone_and_needs_no_whisper(
    project, first_run, media
):
    videos = project / "videos"
    shutil.copy(media["one.mkv"], videos / "nosubs.mkv")
    (videos / "nosubs.ja.srt").write_bytes(b"")
    (project / "subtitles.yaml").write_text(
        "transcribe: {source: subtitles, model: /nowhere/whisper}\n", encoding="utf-8"
    )
    result = snakemake(project, "--configfile", "subtitles.yaml")
    assert result.returncode != 0
    line = "autokr: videos/nosubs.ja.srt: empty file; transcribe.source is subtitles"
    assert line in result.stderr
    jobs = started_jobs(result.stderr + result.stdout)
    assert sorted(jobs) == [("extract_audio", "video=nosubs"), ("read_subtitles", "video=nosubs")]
    summary = (project / "results" / "summary.md").read_text(encoding="utf-8")
    assert "| videos/nosubs.mkv | read_subtitles | videos/nosubs.ja.srt: empty file;" in summary
