"""One library with every hard case at once, as a user's ``~/Videos`` is: the project
inside it, linked back into the project under another name, names Japanese archives
have, a broken file, a user's own subtitles, a muxed copy edited by hand, a video
deleted once its muxed copy holds it, a video touched, and a one-off config. Every good
video is subtitled, and not one of the user's files is lost or changed."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
from pathlib import Path

import av
import pytest

from autokr.speech.media import ffmpeg_executable
from runs import configure, copy_project, snakemake, started_jobs

pytestmark = pytest.mark.workflow

#: Not UTF-8: a Shift-JIS name, as archives made on Japanese Windows carry it.
SHIFT_JIS = "テスト".encode("cp932") + b".mkv"
#: A stem that fits alone but not with ``.ko.srt.tmp`` after it (246 bytes).
LONG = "あいうえお" * 16 + "かき"
GOOD = {"第1話 ep01.mkv": "one.mkv", "show/ep.02.webm": "two.webm", "movie.mp4": "late.mp4"}
USERS_OWN = "1\n00:00:00,000 --> 00:00:01,000\n내가 만든 자막\n\n"
ENGLISH = "1\n00:00:00,000 --> 00:00:01,000\nMy own English line\n\n"


def users_files(library: Path, project: Path) -> dict[str, str]:
    """Every file in the library that autokr did not write, by its sha256: all but the
    project and the published copies the manifest lists."""
    found = {}
    for folder, dirs, files in os.walk(library):  # links are not followed
        if Path(folder) == library:
            dirs.remove(project.name)
        for name in files:
            path = Path(folder) / name
            if name.endswith((".ko.srt", ".ja.srt")) and path.read_bytes() != USERS_OWN.encode():
                continue  # autokr's published copies; checked on their own
            found[os.fsdecode(path.relative_to(library))] = hashlib.sha256(
                path.read_bytes()
            ).hexdigest()
    return found


def muxed_title(path: Path) -> str:
    with av.open(str(path)) as container:
        return container.metadata.get("title", "")


def retitle(path: Path, title: str) -> None:
    """Change a Matroska file's title in place, as a user does with mkvpropedit."""
    tmp = path.with_name(path.name + ".edit.mkv")
    subprocess.run(
        [
            *(ffmpeg_executable(), "-nostdin", "-v", "error", "-i", path),
            *("-map", "0", "-c", "copy", "-metadata", f"title={title}", tmp),
        ],
        check=True,
    )
    os.replace(tmp, path)


def jobs_for(result) -> set[str]:
    jobs = started_jobs(result.stderr + result.stdout)
    return {w.split(",")[0] for _, w in jobs if w.startswith("video=")}


def test_a_library_with_every_hard_case_at_once_loses_nothing(
    tmp_path, media, whisper_model, nllb_model
):
    library = tmp_path / "Videos"
    project = library / "autokr"
    project.mkdir(parents=True)
    copy_project(project)
    configure(project, whisper_model, nllb_model)
    (project / "videos").symlink_to(library)  # the library, by a second name
    for name, source in GOOD.items():
        (library / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(media[source], library / name)
    (library / "第1話 ep01.en.srt").write_text(ENGLISH, encoding="utf-8")
    (library / "show" / "ep.02.ko.srt").write_text(USERS_OWN, encoding="utf-8")
    (library / "broken.mkv").write_bytes(random.Random(0).randbytes(4096))
    shutil.copy(media["one.mkv"], os.fsencode(library) + b"/" + SHIFT_JIS)
    shutil.copy(media["one.mkv"], library / f"{LONG}.mkv")
    shutil.copy(media["one.mkv"], library / "Pilot.mkv")  # one file on a share that
    shutil.copy(media["one.mkv"], library / "pilot.mp4")  # ignores letter case
    mine = project / "mine.yaml"
    mine.write_text("videos: ..\npublish: [next_to_video, mux]\n", encoding="utf-8")
    before = users_files(library, project)

    first = snakemake(project, "--configfile", str(mine))
    err = first.stderr
    assert first.returncode != 0  # broken.mkv fails, alone
    assert "Traceback" not in err
    assert f"autokr: {library}/broken.mkv: not a readable video or audio file" in err
    assert jobs_for(first) == {
        "video=第1話 ep01",
        "video=show/ep.02",
        "video=movie",
        "video=broken",
    }
    for line in (
        f"autokr: {library}/\\x83e\\x83X\\x83g.mkv: skipped: name is not valid UTF-8",
        f"autokr: {library}/{LONG}.mkv: skipped: name too long",
        f"autokr: {library}/Pilot.mkv: skipped: same name as {library}/pilot.mp4 but for letter",
    ):
        assert line in err
    for video in ("第1話 ep01", "show/ep.02", "movie"):
        assert (project / "results" / "subtitles" / f"{video}.ko.srt").exists()
        assert (project / "results" / "muxed" / f"{video}.mkv").exists()
        assert (library / f"{video}.ja.srt").exists()
    assert (library / "第1話 ep01.ko.srt").exists()
    assert (library / "show" / "ep.02.ko.srt").read_text(encoding="utf-8") == USERS_OWN
    assert users_files(library, project) == before

    # The user edits one muxed copy, deletes a video its muxed copy now holds, touches
    # another, then runs once with the library by its other name and no publishing.
    edited = project / "results" / "muxed" / "第1話 ep01.mkv"
    retitle(edited, "Episode 1, fixed by hand")
    (library / "movie.mp4").unlink()
    del before["movie.mp4"]
    os.utime(library / "show" / "ep.02.webm")
    second = snakemake(
        project, "--configfile", str(mine), "--config", "videos=videos", "publish=[]"
    )
    err = second.stderr
    assert "Traceback" not in err
    assert jobs_for(second) <= {"video=broken", "video=show/ep.02"}, second.stdout[-3000:]
    assert not any(rule in ("transcribe", "translate") for rule, _ in started_jobs(err))
    assert (library / "第1話 ep01.ko.srt").exists()  # a one-off config takes nothing back
    assert (library / "show" / "ep.02.ja.srt").exists()
    assert not (library / "movie.ja.srt").exists()  # autokr's, and its video is gone
    assert (project / "results" / "muxed" / "movie.mkv").exists()  # maybe the only copy
    assert muxed_title(edited) == "Episode 1, fixed by hand"
    assert users_files(library, project) == before

    # Back to the usual config: everything good is still there, nothing of the user's
    # lost; the only job left is the broken file's, which fails again on its own.
    third = snakemake(project, "--configfile", str(mine))
    assert "Traceback" not in third.stderr
    assert jobs_for(third) <= {"video=broken", "video=show/ep.02"}
    assert muxed_title(edited) == "Episode 1, fixed by hand"
    assert (project / "results" / "muxed" / "movie.mkv").exists()
    for video in ("第1話 ep01", "show/ep.02"):
        assert (project / "results" / "subtitles" / f"{video}.ko.srt").exists()
        assert (library / f"{video}.ja.srt").exists()
    assert users_files(library, project) == before
    summary = (project / "results" / "summary.md").read_text(encoding="utf-8")
    assert f"| results/muxed/movie.mkv | kept: its video {library}/movie.mp4 is gone" in summary
