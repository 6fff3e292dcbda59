"""Progress you can watch: `--logger autokr` in a terminal and in a log."""

import json
import os
import pty
import re
import select
import shutil
import subprocess
import time

import pytest

from autokr.batch import progress
from autokr.batch.progress import Board
from runs import configure, copy_project, held, hold_at, release, wait_for

VIDEOS = ["one.mkv", "two.webm"]


def test_the_board_says_where_the_batch_and_each_job_are(tmp_path):
    now = [1000.0]
    board = Board(root=tmp_path, clock=lambda: now[0])
    progress.write_run(["ep1", "ep2", "ep3"], tmp_path / "run.json")
    run = json.loads((tmp_path / "run.json").read_text())
    now[0] = run["started"]
    board.observe("job_info", {"jobid": 1, "rule_name": "make_srt", "wildcards": {"video": "ep1"}})
    board.observe(
        "job_info", {"jobid": 2, "rule_name": "transcribe", "wildcards": {"video": "ep2"}}
    )
    board.observe(
        "job_info",
        {"jobid": 3, "rule_name": "translate", "wildcards": {"video": "ep3", "lang": "ko"}},
    )
    now[0] += 600
    board.observe("job_finished", {"job_id": 1})
    board.observe("progress", {"done": 5, "total": 12})
    # ep2 has decoded 4 of 24 minutes of audio in 2 minutes; ep3 nothing to tell yet.
    started = now[0] - 120
    (tmp_path / "transcribe").mkdir()
    (tmp_path / "transcribe" / "ep2.json").write_text(
        json.dumps({"done": 240, "total": 1440, "unit": "s", "started": started, "updated": now[0]})
    )
    assert board.lines() == [
        "autokr: 1 of 3 videos done, 5 of 12 jobs, about 20:00 left",
        "  transcribe ep2: 4:00 of 24:00 of audio, about 10:00 left",
        "  translate ep3 ko: running for 10:00",
    ]
    # A file from an earlier run of the job is not this run's progress.
    (tmp_path / "translate").mkdir()
    (tmp_path / "translate" / "ep3.ko.json").write_text(
        json.dumps({"done": 3, "total": 9, "unit": "sentences", "started": 1, "updated": 2})
    )
    assert board.lines()[2] == "  translate ep3 ko: running for 10:00"
    board.observe("job_error", {"jobid": 2})
    assert board.lines()[0].startswith("autokr: 1 of 3 videos done, 1 failed")


@pytest.fixture(scope="module")
def project(tmp_path_factory, whisper_model, nllb_model, media):
    root = copy_project(tmp_path_factory.mktemp("progress"))
    configure(root, whisper_model, nllb_model)
    (root / "videos").mkdir()
    for name in VIDEOS:
        shutil.copy(media[name], root / "videos" / name)
    return root


def start(project, hold, args, **popen):
    env = {**os.environ, **hold_at("transcribe.model", hold)}
    command = [str(project / ".venv" / "bin" / "snakemake"), "--logger-autokr-interval", "1"]
    return subprocess.Popen(
        [*command, *args], cwd=project, env=env, start_new_session=True, **popen
    )


@pytest.mark.workflow
def test_in_a_log_progress_is_plain_lines_and_snakemakes_lines_stay(project, tmp_path):
    hold, log = tmp_path / "hold", tmp_path / "log.txt"
    with open(log, "wb") as out:
        run = start(project, hold, [], stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for("a transcription to hold", held("transcribe.model", hold), run)
            # The held one (one or two: model jobs run one at a time) is named.
            shown = lambda: re.search(rb"\n  transcribe (one|two): running for", log.read_bytes())  # noqa: E731
            wait_for("its progress line", shown, run, seconds=60)
        finally:
            release(hold)
        assert run.wait(600) == 0, log.read_text()[-3000:]
    text = log.read_bytes()
    assert b"\x1b" not in text  # no control codes in a log
    assert b"autokr: 0 of 2 videos done" in text
    # Snakemake's own lines, as its default output has them.
    for line in (b"\nlocalrule transcribe:\n", b"\nlocalrule make_srt:\n", b"steps (100%) done\n"):
        assert line in text, line
    # The steps told how far they were.
    audio = json.loads((project / "results/progress/transcribe/one.json").read_text())
    assert audio["unit"] == "s" and 5 < audio["total"] < 8
    sentences = json.loads((project / "results/progress/translate/two.ko.json").read_text())
    assert (sentences["unit"], sentences["done"], sentences["total"]) == ("sentences", 2, 2)


@pytest.mark.workflow
def test_in_a_terminal_the_progress_lines_are_redrawn(project, tmp_path):
    hold = tmp_path / "hold"
    main, child = pty.openpty()
    run = start(project, hold, ["--forcerun", "transcribe"], stdout=child, stderr=child)
    os.close(child)
    seen = bytearray()

    def read() -> bool:
        while select.select([main], [], [], 0)[0]:
            try:
                seen.extend(os.read(main, 65536))
            except OSError:
                break
        return re.search(rb"transcribe (one|two): running for", seen) is not None

    try:
        wait_for("a transcription to hold", held("transcribe.model", hold), run)
        wait_for("its progress line", read, run, seconds=60)
        mark = len(seen)
        deadline = time.monotonic() + 30
        while b"\x1b[1A\x1b[2K" not in seen[mark:] and time.monotonic() < deadline:
            read()
            time.sleep(0.1)
    finally:
        release(hold)
    while run.poll() is None:
        read()
        time.sleep(0.1)
    read()
    os.close(main)
    assert run.returncode == 0, bytes(seen[-3000:]).decode(errors="replace")
    # Redrawn in place: cursor up and erase, then the lines again.
    assert b"\x1b[1A\x1b[2K" in seen[mark:]
    assert b"autokr: 0 of 2 videos done" in seen
    assert b"localrule transcribe:" in seen


def test_a_retried_job_has_not_failed_its_video_and_lines_fit_a_terminal(tmp_path):
    from snakemake_logger_plugin_autokr import fit

    board = Board(root=tmp_path)
    info = {"jobid": 4, "rule_name": "transcribe", "wildcards": {"video": "ep1"}}
    board.observe("job_info", info)
    board.observe("job_error", {"jobid": 4})  # out of memory: Snakemake tries again
    assert board.failed_videos == {"ep1"}
    board.observe("job_info", {**info, "jobid": 5})
    assert board.failed_videos == set()
    # One terminal row each (a CJK character takes two cells), so erasing a row erases it.
    assert fit("  transcribe 第01話: 1:00 of 24:00", 16) == "  transcribe 第0"
    assert fit("  transcribe 第01話: 1:00 of 24:00", 14) == "  transcribe "
    assert fit("short", 80) == "short"
