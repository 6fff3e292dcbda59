"""Real libraries, run by real Snakemake: the videos folder spelled another way, names
Japanese archives have, and a videos folder that holds the project."""

from __future__ import annotations

import os
import shutil

import pytest

from runs import configure, copy_project, snakemake, started_jobs, subtitle

pytestmark = pytest.mark.workflow

#: A Shift-JIS name, as archives made on Japanese Windows carry it: not UTF-8.
SHIFT_JIS = "テスト".encode("cp932") + b".mkv"
#: 82 kana: 246 bytes, a stem that fits alone but not with ``.ko.srt.tmp`` after it.
LONG = "あいうえお" * 16 + "かき"
#: A title that laughs: Snakemake takes a wildcard ending in 20 repeats for a loop.
LAUGH = "面白い動画" + "w" * 24


def videos_of(result) -> set[str]:
    """The videos a run started (or, dry, would start) jobs for."""
    return {
        w.split(",")[0].removeprefix("video=")
        for rule, w in started_jobs(result.stderr + "\n" + result.stdout)
        if w.startswith("video=")
    }


def new_project(folder, whisper_model, nllb_model):
    folder.mkdir(parents=True)
    root = copy_project(folder)
    configure(root, whisper_model, nllb_model)
    return root


@pytest.fixture
def project(tmp_path, whisper_model, nllb_model):
    return new_project(tmp_path / "project", whisper_model, nllb_model)


def test_the_same_folder_spelled_another_way_reruns_nothing_and_removes_nothing(
    project, tmp_path, media
):
    library = tmp_path / "library"  # a drive, linked into the project as videos/
    library.mkdir()
    shutil.copy(media["one.mkv"], library / "ep.mkv")
    (project / "videos").symlink_to(library)
    (project / "media").symlink_to("videos")
    mine = project / "publish.yaml"
    mine.write_text("publish: [next_to_video]\n", encoding="utf-8")
    first = snakemake(project, "--configfile", str(mine))
    assert first.returncode == 0, first.stderr[-3000:]
    published = library / "ep.ko.srt"
    assert published.exists()
    for spelling in (str(library), str(project / "videos"), "media", "./videos/", "../library"):
        args = ["--configfile", str(mine), "--config", f"videos={spelling}"]
        dry = snakemake(project, "--dry-run", *args)
        assert dry.returncode == 0, dry.stderr[-3000:]
        assert videos_of(dry) == set(), (spelling, dry.stdout[-3000:])
        again = snakemake(project, *args)
        assert again.returncode == 0, again.stderr[-3000:]
        assert videos_of(again) == set()
        assert published.exists(), spelling  # not adopted under one name, removed under another
    assert subtitle(project, "ep", "ko").exists()


def test_names_real_japanese_libraries_have_are_skipped_each_with_its_reason(project, media):
    videos = project / "videos"
    videos.mkdir()
    shutil.copy(media["one.mkv"], videos / "ep.mkv")
    shutil.copy(media["one.mkv"], os.fsencode(videos) + b"/" + SHIFT_JIS)
    shutil.copy(media["one.mkv"], videos / f"{LONG}.mkv")
    shutil.copy(media["one.mkv"], videos / f"{LAUGH}.mkv")  # once, Snakemake refused them all
    shutil.copy(media["one.mkv"], videos / "Show.mkv")  # a case-insensitive share holds one
    shutil.copy(media["one.mkv"], videos / "show.mp4")
    result = snakemake(project)
    err = result.stderr
    assert result.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    assert videos_of(result) == {"ep"}
    assert subtitle(project, "ep", "ko").exists()
    assert (
        "autokr: videos/\\x83e\\x83X\\x83g.mkv: skipped: name is not valid UTF-8 "
        "(in Shift-JIS it reads 'テスト.mkv'); rename it in UTF-8 to have it done"
    ) in err
    assert f"autokr: videos/{LONG}.mkv: skipped: name too long: 246 bytes" in err
    assert (
        "autokr: videos/Show.mkv: skipped: same name as videos/show.mp4 but for letter case"
    ) in err
    assert f"autokr: videos/{LAUGH}.mkv: skipped: name ends in 'w' 24 times over" in err
    summary = (project / "results" / "summary.md").read_text(encoding="utf-8")
    assert "5 skipped (2 duplicate, 3 name)" in summary
    assert "videos/\\x83e\\x83X\\x83g.mkv" in summary


def test_a_videos_folder_that_holds_the_project_never_looks_inside_it(
    tmp_path, media, whisper_model, nllb_model
):
    library = tmp_path / "Videos"
    project = new_project(library / "autokr", whisper_model, nllb_model)
    shutil.copy(media["one.mkv"], library / "show.mkv")
    # What a project holds: muxed copies, kept audio, the example, its tests; and
    # the models folder, here beside it.
    own = [
        project / "results" / "muxed" / "show.mkv",
        project / "results" / "videos" / "show" / "audio.wav",
        project / "tests" / "data" / "speech" / "cv.flac",
        library / "models" / "whisper" / "x" / "sample.wav",
    ]
    for path in own:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(media["one.mkv"], path)
    assert (project / "example" / "autokr-example.mp4").exists()
    (library / "linked").symlink_to(project / "results")  # a link in: still autokr's own
    mine = project / "mine.yaml"
    mine.write_text("videos: ..\nmodels_dir: ../models\n", encoding="utf-8")
    result = snakemake(project, "--dry-run", "--configfile", str(mine))
    assert result.returncode == 0, result.stderr[-3000:]
    assert videos_of(result) == {"show"}
    assert "skipped" not in result.stderr
