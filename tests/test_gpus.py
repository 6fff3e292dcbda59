"""Several GPUs on one machine: each GPU job takes a free card of its own.

No GPU is needed: with `gpus: [0, 1, 2]` configured and `device: auto`, every
model job asks for a card and takes one as it would on a GPU machine (then
runs on the CPU, since CUDA sees none). The jobs' own records say which card
each held, and when.
"""

import itertools
import shutil

import pytest

from autokr.records import read_transcript, read_translation
from conftest import ROOT
from runs import configure, copy_project, held, hold_at, release, start_snakemake, wait_for

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
    gate = tmp_path / "hold"
    env = {**hold_at("transcribe.model", gate), "AUTOKR_GPU_LOCKS": str(tmp_path / "locks")}
    args = ["--configfile", "gpus.yaml", "--cores", "6", "--resources", "gpu=3", "model_jobs=3"]
    proc = start_snakemake(project, env=env, args=args, output=tmp_path / "out.txt")
    try:
        # Three transcriptions hold their cards at once before any goes on.
        wait_for("three jobs on three cards", held("transcribe.model", gate, jobs=3), proc)
        release(gate)
        assert proc.wait(timeout=600) == 0, (tmp_path / "out.txt").read_text()[-3000:]
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
from autokr.devices import claim_gpu
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
