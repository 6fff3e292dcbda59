"""`make watch`: a new video is picked up once it has stopped changing; one run at a time;
autokr's own files start nothing; Ctrl-C and SIGTERM stop it cleanly."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from watchfiles import Change

from autokr.watching.file_events import POLLING_ENV, polling_reason
from autokr.watching.settling import Settling
from autokr.watching.watcher import FolderWatch, describe
from conftest import ROOT
from runs import (
    configure,
    copy_project,
    held,
    hold_at,
    korean_text,
    logged,
    release,
    start_held,
    subtitle,
    wait_for,
)
from speech import KOREAN

# -- settling, with a clock and file sizes the test sets ---------------------------------


class Files:
    """A clock and a stat() over files the test says the size of."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sizes: dict[Path, int] = {}

    def clock(self) -> float:
        return self.now

    def stat(self, path: Path) -> SimpleNamespace:
        if path not in self.sizes:
            raise FileNotFoundError(path)
        return SimpleNamespace(st_size=self.sizes[path], st_mtime_ns=self.sizes[path])


@pytest.fixture
def files() -> Files:
    return Files()


def settling(files: Files, seconds: float = 10) -> Settling:
    return Settling(seconds, clock=files.clock, stat=files.stat)


def waiting_on(files: Files, path: Path, size: int) -> Settling:
    """A Settling that has just seen ``path`` (``size`` bytes) appear, and looked at it."""
    files.sizes[path] = size
    waiting = settling(files)
    assert waiting.note(path, "new")
    waiting.check()
    return waiting


def test_a_file_is_ready_only_once_it_has_not_changed_for_the_settle_time(files):
    ep = Path("videos/ep.mkv")
    waiting = waiting_on(files, ep, 100)
    files.now, files.sizes[ep] = 5, 200  # still being copied
    assert waiting.check() == [] and not waiting.ready
    files.now = 14.9
    assert waiting.check() == [] and not waiting.ready
    files.now = 15
    assert [item.path for item in waiting.check()] == [ep]
    assert waiting.ready
    assert [(item.path, item.label) for item in waiting.take()] == [(ep, "new")]
    assert not waiting.ready and not waiting.pending


def test_an_event_starts_the_wait_again_even_when_size_and_time_look_the_same(files):
    ep = Path("videos/ep.mkv")
    waiting = waiting_on(files, ep, 100)
    files.now = 9
    assert not waiting.note(ep, "new")  # already waiting: no second line for it
    files.now = 18
    assert not waiting.check()
    files.now = 19
    assert waiting.check() and waiting.ready


def test_a_file_still_changing_waits_on_its_own_while_settled_files_run(files):
    done, copying = Path("videos/a.mkv"), Path("videos/b.mkv")
    waiting = waiting_on(files, done, 100)
    files.now = 8
    files.sizes[copying] = 1
    waiting.note(copying, "new")
    files.sizes[copying] = 2
    files.now = 10
    assert [item.path for item in waiting.check()] == [done]
    assert waiting.ready  # a recording that never stops growing holds nothing back
    assert waiting.changing() == [copying]  # the run leaves it out
    assert [item.path for item in waiting.take()] == [done]
    assert not waiting.ready and list(waiting.pending) == [copying]
    files.now = 18
    waiting.check()
    assert [item.path for item in waiting.take()] == [copying]


def test_a_new_file_gone_before_it_settled_is_forgotten_and_a_removed_video_is_ready(files):
    temporary, old = Path("videos/tmp.mkv"), Path("videos/old.mkv")
    waiting = waiting_on(files, temporary, 5)
    del files.sizes[temporary]
    files.now = 30
    waiting.check()
    assert not waiting.pending
    assert waiting.note(temporary, "new")  # back, as a new file
    assert not waiting.note(temporary, "removed")  # and gone again: never run
    assert not waiting.pending
    waiting.note(old, "removed")
    waiting.check()
    assert waiting.ready
    assert [(item.path, item.label) for item in waiting.take()] == [(old, "removed")]


def test_a_settled_file_that_changes_again_waits_again(files):
    ep = Path("videos/ep.mkv")
    waiting = waiting_on(files, ep, 1)
    files.now = 10
    waiting.check()
    assert waiting.ready
    files.sizes[ep] = 2
    waiting.note(ep, "new")
    assert not waiting.ready
    files.now = 19
    waiting.check()
    assert not waiting.ready


# -- what starts a run, and when, with a run the test ends ---------------------------------


class FakeRun:
    """Stands in for Snakemake: the test says when a run ends."""

    def __init__(self) -> None:
        self.starts = 0
        self.running = False
        self.status: int | None = None
        self.left_out: list[Path] = []

    def start(self, changing=()) -> None:
        self.starts += 1
        self.running = True
        self.left_out = list(changing)

    def end(self, status: int = 0) -> None:
        self.running, self.status = False, status

    def finished(self) -> int | None:
        status, self.status = self.status, None
        return status


def folder_watch(project: Path, videos: Path, lines: list[str], **options) -> FolderWatch:
    return FolderWatch(videos, "videos", project, FakeRun(), 0, lines.append, **options)


def added(*paths: Path) -> set[tuple[Change, str]]:
    return {(Change.added, str(path)) for path in paths}


def write(path: Path, data: bytes = b"video") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_changes_during_a_run_make_one_more_run_after_it(tmp_path):
    videos, lines = tmp_path / "videos", []
    watch = folder_watch(tmp_path, videos, lines)
    watch.note(added(write(videos / "a.mkv")))
    watch.step()
    assert watch.run.starts == 1
    assert lines[-1] == "new: videos/a.mkv; running"
    for name in ("b.mkv", "season 2/c.mp4"):
        watch.note(added(write(videos / name)))
        watch.step()
    assert watch.run.starts == 1  # never two at once
    assert lines[-1] == "new: videos/season 2/c.mp4; running after the current run"
    watch.run.end(0)
    watch.step()
    assert watch.run.starts == 2
    assert lines[-2:] == [
        "run finished; watching videos/",
        "new: videos/b.mkv, videos/season 2/c.mp4; running",
    ]
    watch.run.end(1)
    watch.step()
    assert watch.run.starts == 2
    assert lines[-1] == (
        "run failed (exit 1); trying again in 1 min for new: videos/b.mkv, videos/season 2/c.mp4 "
        "(see results/summary.md)"
    )


def test_a_touched_video_is_changed_and_a_deleted_one_removed(tmp_path):
    videos, lines = tmp_path / "videos", []
    watch = folder_watch(tmp_path, videos, lines)
    old = write(videos / "old.mkv")
    watch.note({(Change.modified, str(old)), (Change.deleted, str(videos / "gone.mp4"))})
    watch.step()
    assert lines[-1] == "changed: videos/old.mkv; removed: videos/gone.mp4; running"


def test_a_folder_moved_in_whole_brings_its_videos(tmp_path):
    videos, lines = tmp_path / "videos", []
    watch = folder_watch(tmp_path, videos, lines)
    write(videos / "season 3" / "ep1.mkv")
    write(videos / "season 3" / "extras" / "ep2.webm")
    write(videos / "season 3" / "ep1.ko.srt")
    watch.note(added(videos / "season 3"))  # the only event a `mv` into the folder raises
    watch.step()
    assert lines[-1] == "new: videos/season 3/ep1.mkv, videos/season 3/extras/ep2.webm; running"


def test_autokr_subtitles_partial_downloads_and_hidden_files_start_nothing(tmp_path):
    videos, lines = tmp_path / "videos", []
    watch = folder_watch(tmp_path, videos, lines)
    ignored = [
        write(videos / name)
        for name in (
            "ep.ko.srt",
            "ep.ja.vtt",
            "ep.ko.ass",
            "ep.mkv.part",
            "ep.mkv.tmp",
            "ep.ko.srt.tmp",
            ".~lock.ep.mkv#",
            ".ep.mkv.Xb1234",  # rsync's temporary name
            ".sync/ep.mkv",
            "notes.txt",
        )
    ]
    watch.note(added(*ignored))
    watch.step()
    assert watch.run.starts == 0 and lines == []
    watch.note(added(write(videos / "sub" / "EP.MKV")))  # any case, any depth
    watch.step()
    assert lines == [
        "new: videos/sub/EP.MKV; waiting until it stops changing",
        "new: videos/sub/EP.MKV; running",
    ]


def test_files_named_in_a_publish_manifest_start_nothing(tmp_path):
    videos, lines = tmp_path / "videos", []
    watch = folder_watch(tmp_path, videos, lines)
    relative, absolute = write(videos / "a.mkv"), write(videos / "b.mkv")
    # The shape of results/published.json: files by path (relative to the project).
    manifest = {"version": 1, "files": {"videos/a.mkv": {"kind": "mux"}}}
    write(tmp_path / "results" / "published.json").write_text(json.dumps(manifest))
    record = {"video": "b", "files": [{"path": str(absolute), "action": "written"}]}
    write(tmp_path / "results" / "videos" / "b" / "publish.json").write_text(json.dumps(record))
    watch.note(added(relative, absolute))
    watch.step()
    assert watch.run.starts == 0
    watch.note(added(write(videos / "c.mkv")))
    watch.step()
    assert lines[-1] == "new: videos/c.mkv; running"
    assert not any("a.mkv" in line or "b.mkv" in line for line in lines)


def test_the_projects_own_folders_are_left_out_when_the_videos_folder_holds_the_project(
    tmp_path,
):
    lines = []
    watch = FolderWatch(tmp_path, ".", tmp_path, FakeRun(), 0, lines.append, models_dir="models")
    (tmp_path / "more").symlink_to("results")  # a link into them is out too
    own = [
        write(tmp_path / "results" / "muxed" / "ep.mkv"),
        write(tmp_path / "results" / "videos" / "ep" / "audio.wav"),
        write(tmp_path / ".snakemake" / "x.mp4"),
        write(tmp_path / "example" / "autokr-example.mp4"),
        write(tmp_path / "models" / "whisper" / "x" / "sample.wav"),
        tmp_path / "more" / "muxed" / "ep.mkv",
    ]
    watch.note(added(*own))
    watch.step()
    assert watch.run.starts == 0 and lines == []
    watch.note(added(write(tmp_path / "show" / "ep.mkv")))
    watch.step()
    assert lines[-1] == "new: ./show/ep.mkv; running"


def test_a_project_inside_the_videos_folder_is_never_looked_into(tmp_path):
    videos, lines = tmp_path / "Videos", []
    project = videos / "autokr"
    watch = folder_watch(project, videos, lines)
    watch.note(added(write(project / "tests" / "data" / "speech.flac")))
    watch.note(added(write(videos / "ep.mkv")))
    watch.step()
    assert lines[-1] == "new: videos/ep.mkv; running"


def test_a_replaced_or_deleted_video_that_was_published_runs_again(tmp_path):
    videos, lines = tmp_path / "videos", []
    watch = folder_watch(tmp_path, videos, lines)
    replaced = write(videos / "a.mkv")
    # The manifest names each published file's video as its input: the video is no
    # published file, only what was made from it is.
    entry = {"video": "a", "kind": "next_to_video", "input": "videos/a.mkv", "sources": []}
    gone = {**entry, "video": "b", "kind": "mux", "input": "videos/b.mkv"}
    files = {"videos/a.ko.srt": entry, "results/muxed/b.mkv": gone}
    write(tmp_path / "results" / "published.json").write_text(json.dumps({"files": files}))
    record = {"video": "a", "files": [{"path": "videos/a.ko.srt", "action": "written"}]}
    write(tmp_path / "results" / "videos" / "a" / "publish.json").write_text(json.dumps(record))
    watch.note({(Change.modified, str(replaced)), (Change.deleted, str(videos / "b.mkv"))})
    watch.step()
    assert lines[-1] == "changed: videos/a.mkv; removed: videos/b.mkv; running"


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_failed_run_is_tried_again_for_the_same_videos_with_back_off(tmp_path):
    videos, lines, clock = tmp_path / "videos", [], Clock()
    watch = folder_watch(tmp_path, videos, lines, retry=60, clock=clock)
    watch.note(added(write(videos / "a.mkv")))
    watch.step()
    for wait, said in ((60, "1 min"), (120, "2 min"), (240, "4 min")):
        watch.run.end(1)
        watch.step()
        assert lines[-1] == (
            f"run failed (exit 1); trying again in {said} for new: videos/a.mkv "
            "(see results/summary.md)"
        )
        starts = watch.run.starts
        clock.now += wait - 1
        watch.step()
        assert watch.run.starts == starts  # not yet
        clock.now += 1
        watch.step()
        assert watch.run.starts == starts + 1
        assert lines[-1] == "new: videos/a.mkv; running"
    watch.run.end(1)
    watch.step()
    assert lines[-1] == (
        "run failed (exit 1), 4 times in a row; giving up on new: videos/a.mkv "
        "until something changes (see results/summary.md)"
    )
    clock.now += 3600
    watch.step()
    assert watch.run.starts == 4
    # A new video starts a run for itself; a run that ends well is the end of it.
    watch.note(added(write(videos / "b.mkv")))
    watch.step()
    assert (watch.run.starts, lines[-1]) == (5, "new: videos/b.mkv; running")
    watch.run.end(0)
    watch.step()
    assert lines[-1] == "run finished; watching videos/"


def test_a_failed_run_and_new_videos_go_in_one_run(tmp_path):
    videos, lines, clock = tmp_path / "videos", [], Clock()
    watch = folder_watch(tmp_path, videos, lines, retry=60, clock=clock)
    watch.note(added(write(videos / "a.mkv")))
    watch.step()
    watch.run.end(2)
    watch.step()
    watch.note(added(write(videos / "b.mkv")))
    watch.step()  # b has settled: its run takes a along, before a's retry is due
    assert lines[-1] == "new: videos/a.mkv, videos/b.mkv; running"


def test_a_run_the_lock_would_refuse_waits_for_the_lock(tmp_path):
    videos, lines = tmp_path / "videos", []
    watch = folder_watch(tmp_path, videos, lines)
    lock = write(tmp_path / ".snakemake" / "locks" / "0.input.lock", b"")
    watch.note(added(write(videos / "a.mkv")))
    watch.step()
    watch.step()
    assert watch.run.starts == 0
    assert lines[1:] == [
        "not running yet: the folder is locked (no record of the run that holds it); running "
        "once it is free (if no run is going, clear it with '.venv/bin/snakemake --unlock')"
    ]
    lock.unlink()
    watch.step()
    assert (watch.run.starts, lines[-1]) == (1, "new: videos/a.mkv; running")


def test_a_run_leaves_out_the_files_still_changing(tmp_path):
    videos, lines, clock = tmp_path / "videos", [], Clock()
    watch = FolderWatch(videos, "videos", tmp_path, FakeRun(), 10, lines.append, clock=clock)
    watch.note(added(write(videos / "a.mkv")))
    watch.step()
    clock.now = 5
    recording = write(videos / "rec.ts")
    watch.note(added(recording))
    watch.step()
    clock.now = 10
    watch.step()
    assert watch.run.starts == 1 and watch.run.left_out == [recording]
    assert lines[-1] == "new: videos/a.mkv; running (videos/rec.ts still changing: waits)"


def test_a_run_is_told_which_files_to_leave_out(tmp_path):
    from autokr.batch.discovery import WAITING_ENV, waiting_files
    from autokr.batch.launch import WorkflowRun

    out = tmp_path / "env.json"
    show = f"import os; open({str(out)!r}, 'w').write(os.environ[{WAITING_ENV!r}])"
    run = WorkflowRun([sys.executable, "-c", show], tmp_path, print)
    name = os.fsdecode(b"\x83e\x83X\x83g.mkv")  # Shift-JIS, not UTF-8
    run.start([tmp_path / "rec.ts", tmp_path / name])
    assert run.wait() == 0
    told = waiting_files({WAITING_ENV: out.read_text()})
    assert told == {str(tmp_path / "rec.ts"), str(tmp_path / name)}


def test_a_run_line_names_a_few_files_and_counts_the_rest():
    items = [SimpleNamespace(path=Path(f"{n}.mkv"), label="new") for n in "abcde"]
    assert describe(items, str) == "new: a.mkv, b.mkv, c.mkv and 2 more"


MOUNTS = """\
/dev/sda1 / ext4 rw 0 0
server:/media /mnt/media nfs4 rw 0 0
//nas/share /mnt/nas\\040share cifs rw 0 0
"""


@pytest.mark.parametrize(
    ("folder", "forced", "environ", "reason"),
    [
        ("/home/me/videos", False, {}, None),
        ("/mnt/media/tv", False, {}, "nfs4 network share"),
        ("/mnt/nas share/tv", False, {}, "cifs network share"),
        ("/home/me/videos", True, {}, "--poll"),
        ("/home/me/videos", False, {POLLING_ENV: "1"}, POLLING_ENV),
        ("/mnt/media/tv", False, {POLLING_ENV: "false"}, None),
    ],
)
def test_network_shares_are_polled(folder, forced, environ, reason):
    assert polling_reason(Path(folder), forced, environ, MOUNTS) == reason


def test_where_file_events_are_refused_the_folder_is_polled(monkeypatch, tmp_path):
    import threading

    from autokr.watching import file_events as watch

    calls = []

    def refusing_events(folder, force_polling, **options):
        calls.append(force_polling)
        if not force_polling:
            raise OSError(28, "inotify watch limit reached")
        yield {(Change.added, str(folder / "a.mkv"))}

    monkeypatch.setattr(watch.watchfiles, "watch", refusing_events)
    monkeypatch.delenv(POLLING_ENV, raising=False)
    lines = []
    options = watch.WatchOptions(settle=1, poll_interval=2)
    batches = list(watch.file_changes(tmp_path, "videos", options, threading.Event(), lines.append))
    assert batches == [{(Change.added, str(tmp_path / "a.mkv"))}]
    assert calls[-2:] == [False, True]
    assert lines[-2:] == [
        "file events are not available here ([Errno 28] inotify watch limit reached); "
        "polling instead",
        "watching videos/ for new videos (polling every 2 s: no file events)",
    ]


def test_the_videos_folder_is_read_from_the_config_as_snakemake_reads_it(monkeypatch, tmp_path):
    import watch
    from autokr.batch.run_config import configured_videos

    monkeypatch.chdir(ROOT)
    assert configured_videos([]) == "videos"
    mine = tmp_path / "mine.yaml"
    mine.write_text("videos: /srv/media\n")
    assert configured_videos(["--configfile", str(mine), "--cores", "2"]) == "/srv/media"
    assert configured_videos(["--config", "keep_audio=true", "videos=tv shows"]) == "tv shows"
    options, rest = watch.parse_args(["--settle-seconds", "2", "--poll", "--cores", "1"])
    assert (options.settle, options.poll, rest) == (2.0, True, ["--cores", "1"])


# -- the real thing, as a subprocess -------------------------------------------------------


def start_watch(project: Path, output: Path, command: list[str], env=None) -> subprocess.Popen:
    """The watch in the background, in its own process group as a terminal would run it."""
    with open(output, "w", encoding="utf-8") as sink:
        return subprocess.Popen(
            command,
            cwd=project,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )


def stop(proc: subprocess.Popen, sig: signal.Signals, group: bool) -> int:
    """Send ``sig`` (to the group, as a terminal's Ctrl-C does); its exit status."""
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def watch_lines(output: Path) -> list[str]:
    text = output.read_text(encoding="utf-8", errors="replace")
    return [line for line in text.splitlines() if line.startswith("autokr: watch: ")]


@pytest.fixture
def empty_project(tmp_path) -> Path:
    (tmp_path / "project").mkdir()
    project = copy_project(tmp_path / "project")
    (project / "videos").mkdir()
    return project


@pytest.mark.parametrize(("sig", "group"), [(signal.SIGINT, True), (signal.SIGTERM, False)])
def test_the_watch_stops_cleanly(empty_project, tmp_path, sig, group):
    out = tmp_path / "watch.out"
    proc = start_watch(empty_project, out, [sys.executable, "scripts/watch.py"])
    wait_for("the watch to start", logged(out, "no videos in videos/ yet"), proc, seconds=120)
    assert stop(proc, sig, group) == 0
    assert watch_lines(out)[-1] == "autokr: watch: stopped"


def test_a_missing_videos_folder_is_one_line(tmp_path):
    project = copy_project(tmp_path)
    result = subprocess.run(
        [sys.executable, "scripts/watch.py"], cwd=project, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "autokr: watch: videos: videos folder not found (create it, or set 'videos' in the config)"
    ]


@pytest.mark.workflow
def test_make_watch_picks_up_a_new_video_once_copied(
    empty_project, whisper_model, nllb_model, media, spoken, tmp_path
):
    project, videos = empty_project, empty_project / "videos"
    configure(project, whisper_model, nllb_model)
    gate, out = tmp_path / "hold", tmp_path / "watch.out"
    env = hold_at("extract_audio.written", gate)
    release(gate)  # the first video goes through; the second is held, to be stopped
    # `-o`: the test venv is set up already, whatever its marker's time says.
    # 20 s to settle: far longer than the test takes to write the second half.
    command = ["make", "-o", ".venv/.setup-done", "watch", "ARGS=--settle-seconds 20"]
    proc = start_watch(project, out, command, env)
    try:
        wait_for("the watch to start", logged(out, "no videos in videos/ yet"), proc, 120)
        # What autokr and download tools write beside videos starts nothing.
        write(videos / "ep.ko.srt", b"1\n00:00:00,000 --> 00:00:01,000\n\n")
        write(videos / "ep.mkv.part")
        data = media["one.mkv"].read_bytes()
        with open(videos / "ep.mkv", "wb") as copy:  # a copy in progress: half of it
            copy.write(data[: len(data) // 2])
            copy.flush()
            waiting = "new: videos/ep.mkv; waiting until it stops changing"
            wait_for("the watch to see the copy", logged(out, waiting), proc, 60)
            assert "; running" not in out.read_text(encoding="utf-8")
            copy.write(data[len(data) // 2 :])
        wait_for("the subtitles", lambda: subtitle(project, "ep", "ko").exists(), proc, 900)
        wait_for("the run to end", logged(out, "run finished"), proc, 120)
        # Whole sentences: the run took the whole file, not the half.
        assert korean_text(project, "ep") == " ".join(KOREAN[s.text] for s in spoken["one"])

        (gate / "release").unlink()
        shutil.copy(media["one.mkv"], videos / "ep2.mkv")
        wait_for("the second run to be held", held("extract_audio.written", gate, 2), proc, 300)
        jobs = [int(p.name.split(".")[-2]) for p in gate.glob("*.held")]
        stop(proc, signal.SIGINT, group=True)  # Ctrl-C in the terminal
    finally:
        release(gate)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lines = watch_lines(out)
    assert [line for line in lines if line.endswith("; running")] == [
        "autokr: watch: new: videos/ep.mkv; running",
        "autokr: watch: new: videos/ep2.mkv; running",
    ]
    assert not any(".srt" in line or ".part" in line for line in lines)
    assert lines[-1] == (
        "autokr: watch: stopped; the run in progress was interrupted (the next run finishes it)"
    )
    # The run was stopped and waited for: its job is gone and Snakemake took its lock away.
    assert not any(alive(pid) for pid in jobs)
    assert not list((project / ".snakemake" / "locks").glob("*.lock"))


def alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie has stopped running)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_watch_survives_a_name_watchfiles_cannot_read(
    empty_project, whisper_model, nllb_model, tmp_path
):
    # watchfiles raises RuntimeError for a name that is not UTF-8 (a Shift-JIS name
    # from a Japanese archive): the watch goes on, and runs for what it may have missed.
    project, videos = empty_project, empty_project / "videos"
    configure(project, whisper_model, nllb_model)
    out = tmp_path / "watch.out"
    command = [sys.executable, "scripts/watch.py", "--settle-seconds", "1"]
    proc = start_watch(project, out, command)
    try:
        wait_for("the watch to start", logged(out, "no videos in videos/ yet"), proc, 120)
        with open(os.fsencode(videos) + b"/\x83e\x83X\x83g.mkv", "wb") as f:
            f.write(b"not a video")
        wait_for("the watch to go on", logged(out, "watching failed ("), proc, 60)
        wait_for("the run for what it missed", logged(out, "run finished"), proc, 300)
        write(videos / "ok.mkv")
        wait_for("a new file seen", logged(out, "new: videos/ok.mkv; waiting"), proc, 60)
        assert stop(proc, signal.SIGINT, group=True) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = out.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text
    assert "skipped: name is not valid UTF-8 (in Shift-JIS it reads 'テスト.mkv')" in text
    assert watch_lines(out)[-1].startswith("autokr: watch: stopped")


def test_whatever_ends_the_watch_stops_the_run_it_started(monkeypatch, tmp_path):
    from autokr.batch import launch
    from autokr.watching import watcher as watch
    from autokr.watching.file_events import WatchOptions

    monkeypatch.setattr(watch, "stop_on_signals", lambda *args: None)  # pytest's own stay
    started = []
    real_start = launch.WorkflowRun.start

    def start(self, *args):
        real_start(self, *args)
        started.append(self.process)

    def broken(self, changes):
        raise ValueError("a bug in the watch")

    monkeypatch.setattr(launch.WorkflowRun, "start", start)
    monkeypatch.setattr(watch.FolderWatch, "note", broken)
    write(tmp_path / "videos" / "a.mkv")
    command = [sys.executable, "-c", "import time; time.sleep(600)"]
    lines = []
    with pytest.raises(ValueError, match="a bug in the watch"):
        watch.watch_folder(
            tmp_path / "videos", "videos", tmp_path, command, WatchOptions(), lines.append
        )
    [process] = started
    assert process.poll() is not None  # stopped and waited for, not left running
    assert lines[-1] == "stopped; the run in progress was interrupted (the next run finishes it)"


@pytest.mark.workflow
def test_a_run_refused_by_the_lock_runs_once_the_lock_is_free(
    empty_project, whisper_model, nllb_model, media, tmp_path
):
    project, videos = empty_project, empty_project / "videos"
    configure(project, whisper_model, nllb_model)
    shutil.copy(media["one.mkv"], videos / "first.mkv")
    gate, out = tmp_path / "hold", tmp_path / "watch.out"
    # A run by hand holds the folder's lock, its first step held until the test says.
    manual = start_held(project, "extract_audio.written", gate)
    proc = None
    try:
        command = [sys.executable, "scripts/watch.py", "--settle-seconds", "1"]
        proc = start_watch(project, out, command)
        wait_for("the watch to wait", logged(out, "not running yet: the folder is locked"), proc)
        shutil.copy(media["one.mkv"], videos / "second.mkv")
        wait_for("the copy to settle", logged(out, "new: videos/second.mkv; waiting"), proc)
        release(gate)
        assert manual.wait(timeout=600) == 0
        wait_for("the second video", lambda: subtitle(project, "second", "ko").exists(), proc)
        wait_for("the run to end", logged(out, "run finished"), proc, 120)
        assert stop(proc, signal.SIGINT, group=True) == 0
    finally:
        release(gate)
        for running in (manual, proc):
            if running is not None and running.poll() is None:
                os.killpg(running.pid, signal.SIGKILL)
                running.wait()
    lines = watch_lines(out)
    assert sum("not running yet" in line for line in lines) == 1
    assert "run failed" not in out.read_text(encoding="utf-8")
