"""Several GPUs on one machine: each GPU job takes a free card of its own.

No GPU is needed: with `gpus: [0, 1, 2]` configured and `device: auto`, every
model job asks for a card and takes one as it would on a GPU machine (then
runs on the CPU, since CUDA sees none). The jobs' own records say which card
each held, and when.
"""

import itertools
import shutil

import pytest

from autokr.core.records import read_transcript, read_translation
from conftest import ROOT
from runs import configure, copy_project, release, start_held, wait_for

pytestmark = pytest.mark.workflow

CARDS = ["0", "1", "2"]


def test_jobs_under_gpu_3_hold_three_cards_never_two_on_one(
    tmp_path, whisper_model, nllb_model, media
):
    (tmp_path / "project").mkdir()
    project = copy_project(tmp_path / "project")
    configure(project, whisper_model, nllb_model)
    (project / "gpus.yaml").write_text(
        "gpus: [0, 1, 2]\ntranscribe: {device: auto}\ntranslate: {device: auto}\n",
        encoding="utf-8",
    )
    (project / "videos").mkdir()
    for n in range(5):
        shutil.copy(media["one.mkv"], project / "videos" / f"ep{n}.mkv")
    gate, out = tmp_path / "hold", tmp_path / "out.txt"
    env = {"AUTOKR_GPU_LOCKS": str(tmp_path / "locks")}
    args = ["--configfile", "gpus.yaml", "--cores", "6", "--resources", "gpu=3", "model_jobs=3"]
    # Three transcriptions hold their cards at once before any goes on.
    proc = start_held(project, "transcribe.model", gate, jobs=3, env=env, args=args, output=out)
    try:
        release(gate)
        assert proc.wait(timeout=600) == 0, out.read_text()[-3000:]
    finally:
        release(gate)
        if proc.poll() is None:
            proc.kill()
    folder = project / "results" / "videos"
    runs = [read_transcript(p).run for p in folder.glob("*/transcript.json")]
    runs += [read_translation(p).run for p in folder.glob("*/translation.*.json")]
    assert len(runs) == 10
    assert sorted({run.gpu for run in runs}) == CARDS  # every card was used
    for card in CARDS:
        spans = sorted((r.started, r.finished) for r in runs if r.gpu == card)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, f"two jobs held card {card} at once"


CLAIM = """
import os, sys, time
from autokr.core.devices import claim_gpu
print(claim_gpu(), os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
time.sleep(float(sys.argv[1]))
"""


@pytest.mark.parametrize(
    ("visible", "expected"),
    [("2", [("2", "2"), ("2", "2")]), ("3,5", [("3", "3"), ("5", "5")])],
)
def test_a_slurm_job_keeps_its_card_and_an_allocations_jobs_share_theirs(
    tmp_path, python, visible, expected
):
    # The first holds its card until the test kills it, however slow the machine.
    # One card from SLURM is the job's own, however many jobs hold it; jobs of
    # a run inside an allocation of several cards take one each.
    import os
    import subprocess

    env = {
        **os.environ,
        "SLURM_JOB_ID": "41",
        "CUDA_VISIBLE_DEVICES": visible,
        "AUTOKR_GPU_LOCKS": str(tmp_path),
        "PYTHONPATH": str(ROOT / "scripts"),
    }
    first = subprocess.Popen(
        [python, "-c", CLAIM, "600"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        got = [tuple(first.stdout.readline().split())]
        second = subprocess.run(
            [python, "-c", CLAIM, "0"], env=env, capture_output=True, text=True, timeout=60
        )
        got.append(tuple(second.stdout.split()))
    finally:
        first.kill()
        first.wait()
    assert got == expected


def claim_env(tmp_path, **more) -> dict:
    """A job's environment on a machine with card 0 and no scheduler, the temporary
    folder (where the private lock folder goes) in ``tmp_path``."""
    import os

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("AUTOKR_GPU_LOCKS", "SLURM_JOB_ID", "XDG_RUNTIME_DIR")
    }
    return {
        **env,
        "TMPDIR": str(tmp_path),
        "CUDA_VISIBLE_DEVICES": "0",
        "PYTHONPATH": str(ROOT / "scripts"),
        **more,
    }


def test_card_locks_are_in_a_private_folder(tmp_path, python):
    import os
    import stat
    import subprocess

    done = subprocess.run(
        [python, "-c", CLAIM, "0"], env=claim_env(tmp_path), capture_output=True, text=True
    )
    assert done.stdout.split() == ["0", "0"], done.stderr
    folder = tmp_path / f"autokr-gpus-{os.getuid()}"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # no other user reaches the locks
    assert (folder / "gpu-0.lock").exists()


def test_a_lock_folder_that_is_not_the_users_own_is_refused(tmp_path, python):
    import os
    import subprocess

    planted = tmp_path / "planted"
    planted.mkdir()
    (tmp_path / f"autokr-gpus-{os.getuid()}").symlink_to(planted)  # made before the job ran
    done = subprocess.run(
        [python, "-c", CLAIM, "0"], env=claim_env(tmp_path), capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "not a folder (a link?); refused for GPU locks" in done.stderr
    assert list(planted.iterdir()) == []
    if os.getuid() == 0:  # only root can give a folder to another user
        other = tmp_path / "other"
        other.mkdir()
        os.chown(other, 4242, 4242)
        done = subprocess.run(
            [python, "-c", CLAIM, "0"],
            env=claim_env(other),
            capture_output=True,
            text=True,
        )
        assert "refused for GPU locks" not in done.stderr  # its own folder inside is made
        mine = other / f"autokr-gpus-{os.getuid()}"
        os.chown(mine, 4242, 4242)
        done = subprocess.run(
            [python, "-c", CLAIM, "0"], env=claim_env(other), capture_output=True, text=True
        )
        assert "belongs to another user (uid 4242); refused for GPU locks" in done.stderr


WAIT_FOR_A_CARD = """
import sys
from autokr.core.devices import claim_gpu
from autokr.core.steps import setup_logging
setup_logging("transcribe", "ep", sys.argv[1])
print(claim_gpu(), flush=True)
"""


def test_a_job_waiting_for_a_card_says_so_in_its_log(tmp_path, python):
    import subprocess

    from runs import logged

    shared = tmp_path / "shared"  # a folder set on purpose: two users' jobs share cards
    env = claim_env(tmp_path, AUTOKR_GPU_LOCKS=str(shared))
    first = subprocess.Popen([python, "-c", CLAIM, "600"], env=env, stdout=subprocess.PIPE)
    log, second = tmp_path / "transcribe.log", None
    try:
        assert first.stdout.readline().split() == [b"0", b"0"]
        second = subprocess.Popen(
            [python, "-c", WAIT_FOR_A_CARD, str(log)], env=env, stdout=subprocess.PIPE, text=True
        )
        waiting = f"waiting for a free GPU: card 0 held by other jobs (locks in {shared})"
        wait_for("the job to say it waits", logged(log, waiting), second, seconds=60)
        first.kill()
        assert second.stdout.readline() == "0\n"
        assert second.wait(timeout=60) == 0
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    assert "got card 0 after waiting" in log.read_text(encoding="utf-8")
