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
