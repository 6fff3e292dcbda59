"""Taking published files back: only what autokr wrote, byte for byte, only in a run that
holds the lock, never because a config leaves a kind out, never a muxed copy whose video is
gone; and every problem on the way one line, never a traceback.

The workflow tests share one project and run in order: a first run that
publishes four videos beside them and muxed; a run the lock refuses; videos
deleted; a one-off config; a run interrupted; a damaged manifest, a user's
unreadable subtitle, a read-only videos folder; and `make unpublish`.
"""

import errno
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autokr.publishing import manifest as publish_manifest
from autokr.publishing.beside_video import publish_next_to_video
from autokr.publishing.manifest import Published, published_entry
from autokr.publishing.own_files import file_sha256, unchanged_since_written
from autokr.publishing.subtitle_choice import Subtitle
from autokr.publishing.take_back import remove_own
from autokr.speech.media import ffmpeg_executable
from conftest import ROOT
from runs import (
    add_videos,
    configure,
    copy_project,
    interrupt,
    release,
    set_config,
    snakemake,
    start_held,
)

USERS_OWN = "1\n00:00:00,000 --> 00:00:01,000\n내가 만든 자막\n\n"
#: Video files of the project and the test media they are copies of.
VIDEOS = {
    "ep.01.mkv": "one.mkv",
    "movie.mp4": "late.mp4",
    "show/ep.02.webm": "two.webm",
    "season/ep.03.mkv": "one.mkv",
}


def write_srt(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"1\n00:00:00,000 --> 00:00:00,900\n{text}\n\n", encoding="utf-8")
    return path


def retitled(path: Path, title: str) -> None:
    """Change a Matroska file's title in place, as mkvpropedit would."""
    tmp = path.with_name(path.name + ".edit.mkv")
    subprocess.run(
        [
            *(ffmpeg_executable(), "-nostdin", "-v", "error", "-y", "-i", f"file:{path}"),
            *("-map", "0", "-c", "copy", "-metadata", f"title={title}", f"file:{tmp}"),
        ],
        check=True,
    )
    os.replace(tmp, path)


# Without a run.


def test_a_muxed_copy_changed_since_autokr_wrote_it_is_never_removed(tmp_path, media):
    muxed = tmp_path / "results" / "muxed" / "ep.mkv"
    muxed.parent.mkdir(parents=True)
    shutil.copy(media["one.mkv"], muxed)
    entry = Published("ep", "mux", str(media["one.mkv"]), (), file_sha256(muxed))
    retitled(muxed, "Episode 1, fixed by hand")

    outcome = remove_own(str(muxed), entry, "publish no longer lists mux")
    assert outcome.action == "kept"
    assert muxed.exists()


@pytest.mark.parametrize("clock", ["fine", "whole seconds"])
def test_an_edit_that_keeps_size_and_time_is_seen_where_the_clock_is_coarse(tmp_path, clock):
    # FAT, ext3 and some shares keep whole seconds: an edit in the second autokr
    # wrote the file keeps its size and time, and only its bytes tell.
    path = write_srt(tmp_path / "ep.ko.srt", "자막")
    when = 1_760_000_000_123_456_789 if clock == "fine" else 1_760_000_000_000_000_000
    os.utime(path, ns=(when, when))
    entry = published_entry("ep", "next_to_video", tmp_path / "ep.mkv", (), path, file_sha256(path))
    write_srt(path, "내꺼")  # the same size, in UTF-8
    os.utime(path, ns=(when, when))
    assert unchanged_since_written(path, entry) is (clock == "fine")
    outcome = remove_own(str(path), entry, "its video is gone")
    assert path.exists() is (clock != "fine")
    assert outcome.action == ("removed" if clock == "fine" else "kept")


def test_without_file_locks_a_long_holder_is_never_taken_for_a_killed_one(tmp_path, monkeypatch):
    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    monkeypatch.setattr(publish_manifest, "STALE_LOCK_SECONDS", 1.5)
    lock = tmp_path / "published.json.lock"
    inside, release_holder, order = threading.Event(), threading.Event(), []

    def holder():
        with publish_manifest.manifest_lock(lock):
            inside.set()
            release_holder.wait(10)  # a slow hash of a large muxed copy, held by the test
            order.append("holder done")

    first = threading.Thread(target=holder)
    first.start()
    assert inside.wait(10)
    second = threading.Thread(target=lambda: (_take(lock), order.append("second in")))
    second.start()
    # Three times the stale age: a lock nobody touched is taken over by now, and the
    # holder, touching it every 0.15 s, has ample slack on a busy machine.
    second.join(4.5)
    assert order == []
    release_holder.set()
    first.join(10)
    second.join(10)
    assert order == ["holder done", "second in"]


def _take(lock: Path) -> None:
    with publish_manifest.manifest_lock(lock):
        pass


def test_a_share_without_file_locks_still_publishes(tmp_path, monkeypatch):
    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    video = tmp_path / "videos" / "ep.mkv"
    video.parent.mkdir()
    video.write_bytes(b"video")
    ko = Subtitle("ko", write_srt(tmp_path / "results" / "ep.ko.srt", "안녕"), True)
    manifest = tmp_path / "results" / "published.json"

    [outcome] = publish_next_to_video("ep", video, [ko], manifest)
    assert outcome.action == "written"
    assert video.with_name("ep.ko.srt").read_bytes() == ko.path.read_bytes()
    assert list(json.loads(manifest.read_text(encoding="utf-8"))["files"]) == [
        str(video.with_name("ep.ko.srt"))
    ]


@pytest.mark.parametrize("where", ["the input", "outside results"])
def test_the_publish_script_muxes_only_into_results(tmp_path, media, where):
    video = tmp_path / "videos" / "ep.mkv"
    video.parent.mkdir()
    shutil.copy(media["one.mkv"], video)
    before = file_sha256(video)
    write_srt(tmp_path / "results" / "subtitles" / "ep.ko.srt", "안녕")
    out = "videos/ep.mkv" if where == "the input" else "elsewhere/ep.mkv"
    done = subprocess.run(
        [
            *(sys.executable, str(ROOT / "scripts" / "publish.py"), "videos/ep.mkv"),
            *("--subtitle", "ko=results/subtitles/ep.ko.srt", "--mux", out),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")},
    )
    assert done.returncode == 1
    [line] = [ln for ln in done.stderr.splitlines() if ln.startswith("autokr: ")]
    assert line.startswith(f"autokr: {out}: ")
    assert "results/" in line
    assert file_sha256(video) == before
    assert not (tmp_path / "elsewhere").exists()


# The workflow, run as a user runs it.


@pytest.fixture(scope="module")
def project(tmp_path_factory, whisper_model, nllb_model, media):
    root = copy_project(tmp_path_factory.mktemp("autokr-unpublish"))
    configure(root, whisper_model, nllb_model)
    set_config(root, publish=["next_to_video", "mux"])
    add_videos(root, {name: media[source] for name, source in VIDEOS.items()})
    return root


@pytest.fixture(scope="module")
def first_run(project):
    result = snakemake(project)
    assert result.returncode == 0, result.stderr
    return result


def beside(project: Path, video: str, tag: str) -> Path:
    return project / "videos" / f"{video}.{tag}.srt"


def muxed(project: Path, video: str) -> Path:
    return project / "results" / "muxed" / f"{video}.mkv"


def manifest(project: Path) -> dict:
    return json.loads((project / "results" / "published.json").read_text("utf-8"))["files"]


def summary(project: Path) -> str:
    return (project / "results" / "summary.md").read_text(encoding="utf-8")


def unprivileged() -> list[str]:
    """A command prefix under which file permissions hold, as for any user (root drops
    the capabilities that let it read and write past them)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def run_unprivileged(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*unprivileged(), str(project / ".venv" / "bin" / "snakemake"), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
    )


def no_traceback(result: subprocess.CompletedProcess) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output


@pytest.mark.workflow
def test_every_video_is_published(project, first_run):
    for video in ("ep.01", "movie", "show/ep.02", "season/ep.03"):
        assert beside(project, video, "ko").exists()
        assert beside(project, video, "ja").exists()
        assert muxed(project, video).exists()


@pytest.mark.workflow
def test_a_run_the_lock_refuses_removes_nothing(project, first_run, media, tmp_path):
    shutil.copy(media["one.mkv"], project / "videos" / "new.mkv")
    gate, out = tmp_path / "hold", tmp_path / "first.out"
    first = start_held(project, "extract_audio.written", gate, output=out)
    try:
        (project / "videos" / "movie.mp4").unlink()
        refused = snakemake(project)
        assert refused.returncode != 0
        assert "lock" in (refused.stdout + refused.stderr).lower()
        # The run that could not start took nothing away.
        assert beside(project, "movie", "ko").exists()
        assert "videos/movie.ko.srt" in manifest(project)
    finally:
        release(gate)
        first.wait(timeout=600)
    assert first.returncode == 0, out.read_text(encoding="utf-8")
    # The run that holds the lock does, at its end, and says so.
    assert not beside(project, "movie", "ko").exists()
    assert not beside(project, "movie", "ja").exists()
    report = summary(project)
    assert "| videos/movie.ko.srt | removed: its video videos/movie.mp4 is gone |" in report
    # The muxed copy may be the only copy of the video left: it stays, said so.
    assert muxed(project, "movie").exists()
    assert "| results/muxed/movie.mkv | kept: its video videos/movie.mp4 is gone" in report


@pytest.mark.workflow
def test_a_video_deleted_between_runs_loses_its_copies_in_a_run_with_nothing_else(project):
    (project / "videos" / "show" / "ep.02.webm").unlink()
    result = snakemake(project)
    assert result.returncode == 0, result.stderr
    assert not beside(project, "show/ep.02", "ko").exists()
    assert (
        "autokr: videos/show/ep.02.ko.srt: removed (its video videos/show/ep.02.webm is gone)"
        in result.stderr
    )
    assert muxed(project, "show/ep.02").exists()
    assert "results/muxed/show/ep.02.mkv: kept (its video videos/show/ep.02.webm is gone" in (
        result.stderr
    )
    assert "| videos/show/ep.02.ja.srt | removed: its video" in summary(project)
    # Done: the copies kept are no work for the next run.
    again = snakemake(project, "--dry-run")
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.workflow
def test_a_one_off_config_that_leaves_out_a_kind_removes_nothing(project):
    before = {path: entry["sha256"] for path, entry in manifest(project).items()}
    (project / "only-mux.yaml").write_text("publish: [mux]\n", encoding="utf-8")
    for args in (["--config", "publish=[]"], ["--configfile", "only-mux.yaml"]):
        result = snakemake(project, *args, "--forcerun", "make_srt")
        assert result.returncode == 0, result.stderr
        assert "removed" not in result.stderr
        for path in before:
            assert (project / path).exists(), path
        assert set(manifest(project)) == set(before)


@pytest.mark.workflow
def test_an_interrupted_run_of_a_touched_video_keeps_its_subtitles_and_copies(project, tmp_path):
    settled = snakemake(project)  # nothing else left to do: only this video runs
    assert settled.returncode == 0, settled.stderr
    video = project / "videos" / "ep.01.mkv"
    now = time.time() + 2
    os.utime(video, (now, now))  # touched: the same bytes, a new time
    kept = [
        project / "results" / "subtitles" / "ep.01.ko.srt",
        project / "results" / "subtitles" / "ep.01.ja.srt",
        beside(project, "ep.01", "ko"),
        beside(project, "ep.01", "ja"),
        muxed(project, "ep.01"),
    ]
    gate, out = tmp_path / "hold", tmp_path / "run.out"
    # Snakemake reruns a touched video over 1 MB (it compares smaller ones' bytes):
    # the test video is smaller, so the limit goes down to what a real one meets.
    real = ["--max-checksum-file-size", "0"]
    proc = start_held(project, "extract_audio.written", gate, output=out, args=real)
    try:
        interrupt(proc, signal.SIGINT)  # Ctrl-C
    finally:
        release(gate)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for path in kept:
        assert path.exists(), path
    report = summary(project)
    assert "subtitles of the earlier input removed" not in report
    assert "| videos/ep.01.mkv | extract_audio |" not in report.split("## Interrupted")[0]
    assert ", 0 failed, 1 interrupted." in report
    # The next run finishes it, and what it publishes is the same.
    result = snakemake(project, *real)
    assert result.returncode == 0, result.stderr
    assert "| ep.01 | done |" in summary(project)


@pytest.mark.workflow
def test_a_damaged_manifest_is_one_line_and_the_subtitles_are_made(project):
    path = project / "results" / "published.json"
    saved = path.read_bytes()
    path.write_text('{"files": {"videos/ep.01.ko.srt": ', encoding="utf-8")
    try:
        result = snakemake(project, "--forcerun", "make_srt")
        no_traceback(result)
        assert "autokr: results/published.json: not valid JSON" in result.stderr
        report = summary(project)
        assert "| results/published.json | not valid JSON" in report
        assert "| ep.01 | done |" in report  # the subtitles are made all the same
        for video in ("ep.01", "season/ep.03"):
            assert beside(project, video, "ko").exists()
    finally:
        path.write_bytes(saved)


@pytest.mark.workflow
def test_a_users_unreadable_subtitle_is_left_alone_in_one_line(project, media):
    shutil.copy(media["one.mkv"], project / "videos" / "own.mkv")
    mine = beside(project, "own", "ko")
    mine.write_text(USERS_OWN, encoding="utf-8")
    mine.chmod(0)
    try:
        result = run_unprivileged(project)
        no_traceback(result)
        assert result.returncode == 0, result.stderr
        log = (project / "results" / "logs" / "publish" / "own.log").read_text(encoding="utf-8")
        assert "videos/own.ko.srt: left alone (cannot be read: Permission denied)" in log
        assert beside(project, "own", "ja").exists()
    finally:
        mine.chmod(0o644)
    assert mine.read_text(encoding="utf-8") == USERS_OWN


@pytest.mark.workflow
def test_a_read_only_videos_folder_fails_only_its_videos_publishing(project):
    (project / "videos" / "own.mkv").unlink()  # its ja copy is autokr's: to remove
    write_srt(project / "results" / "subtitles" / "ep.01.ko.srt", "고친 자막")  # to publish
    folder = project / "videos"
    folder.chmod(0o555)
    try:
        result = run_unprivileged(project, "--forcerun", "publish")
        no_traceback(result)
        lines = [ln for ln in result.stderr.splitlines() if ln.startswith("autokr: ")]
        assert (
            "autokr: videos/ep.01.ko.srt: cannot write beside the video (Permission denied)"
            in lines
        )
        assert (
            "autokr: videos/own.ja.srt: not removed (cannot remove it: Permission denied; "
            "its video videos/own.mkv is gone)" in lines
        )
        # The videos in a folder autokr may write are published all the same.
        log = project / "results" / "logs" / "publish" / "season" / "ep.03.log"
        assert log.read_text(encoding="utf-8").rstrip().endswith(" done")
        report = summary(project)
        assert "| ep.01 | failed: videos/ep.01.ko.srt: cannot write beside the video" in report
    finally:
        folder.chmod(0o755)
    assert beside(project, "own", "ja").exists()
    assert "videos/own.ja.srt" in manifest(project)  # still autokr's: taken back later
    result = snakemake(project)
    assert result.returncode == 0, result.stderr
    assert not beside(project, "own", "ja").exists()


@pytest.mark.workflow
def test_make_unpublish_takes_back_a_kind_and_says_what_it_removes(project):
    edited = beside(project, "ep.01", "ja")
    edited.write_text("the user fixed this line", encoding="utf-8")
    retitled(muxed(project, "season/ep.03"), "Episode 3, fixed by hand")

    nothing = subprocess.run(["make", "unpublish"], cwd=project, capture_output=True, text=True)
    assert nothing.returncode != 0
    assert "autokr: say what to take back: make unpublish KIND=" in nothing.stderr

    result = subprocess.run(
        ["make", "unpublish", "KIND=next_to_video"], cwd=project, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    err = result.stderr
    assert "autokr: videos/ep.01.ko.srt: removed (make unpublish KIND=next_to_video)" in err
    assert "autokr: videos/season/ep.03.ja.srt: removed (make unpublish KIND=next_to_video)" in err
    assert "autokr: videos/ep.01.ja.srt: kept (changed since autokr wrote it" in err
    assert "config publish still lists next_to_video" in err
    assert not beside(project, "ep.01", "ko").exists()
    assert edited.read_text(encoding="utf-8") == "the user fixed this line"
    assert not [p for p, e in manifest(project).items() if e["kind"] == "next_to_video"]

    result = subprocess.run(
        ["make", "unpublish", "KIND=mux"], cwd=project, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    err = result.stderr
    assert "autokr: results/muxed/ep.01.mkv: removed (make unpublish KIND=mux)" in err
    assert not muxed(project, "ep.01").exists()
    # Changed since, or the video gone: kept, whatever is asked.
    assert "autokr: results/muxed/season/ep.03.mkv: kept (changed since autokr wrote it" in err
    assert muxed(project, "season/ep.03").exists()
    assert "autokr: results/muxed/movie.mkv: kept (its video videos/movie.mp4 is gone" in err
    assert muxed(project, "movie").exists()
