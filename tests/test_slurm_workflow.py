"""autokr through `snakemake --profile profiles/slurm` on a real one-node cluster.

The cluster (tests/slurm_cluster.py) has accounting and two pretend GPUs; its
jobs run with the network cut off (``HF_HUB_OFFLINE=1`` and a Hub address
that answers nothing), as compute nodes often do. The models come by repo id
from a Hub-shaped server on loopback, which counts what is fetched. Skipped,
with the reason, where the cluster cannot run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT
from hub_server import HubServer
from runs import copy_project, held, release, snakemake
from slurm_cluster import slurm_cluster, write_profile  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

#: Seconds one snakemake run through the cluster may take.
RUN_SECONDS = 600
VIDEOS = ["one.mkv", "two.webm"]
WHISPER, NLLB = "autokr-tests/whisper-base", "autokr-tests/tiny-nllb"
#: The settings of both runs; only where the models come from differs.
SETTINGS = "transcribe: {{model: '{whisper}', beam_size: 1, threads: 2}}\n" + (
    "translate: {{model: '{nllb}', batch_size: 4, threads: 2}}\n"
)


def add_videos(project: Path, media: dict[str, Path], names: list[str]) -> None:
    (project / "videos").mkdir(exist_ok=True)
    for name in names:
        shutil.copy(media[name], project / "videos" / name)


def subtitles(project: Path) -> dict[str, str]:
    folder = project / "results" / "subtitles"
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, whisper_model, nllb_model, media) -> Path:
    """The same videos and settings, run on this machine."""
    project = copy_project(tmp_path_factory.mktemp("local"))
    add_videos(project, media, VIDEOS)
    (project / "local.yaml").write_text(SETTINGS.format(whisper=whisper_model, nllb=nllb_model))
    result = snakemake(project, "--cores", "2", "--configfile", "local.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    return project


def run_on_cluster(
    cluster, project: Path, profile: Path, env: dict, workflow_profile: bool = False
) -> subprocess.Popen:
    """`snakemake --workflow-profile none --profile PROFILE` in the background, as a user
    starts it on a login node (with ``workflow_profile``, without leaving out profiles/default).
    """
    leave_out = [] if workflow_profile else ["--workflow-profile", "none"]
    return subprocess.Popen(
        [
            *(str(project / ".venv" / "bin" / "snakemake"), *leave_out, "--profile", str(profile)),
            *("--configfile", "cluster.yaml", "--latency-wait", "10"),
        ],
        cwd=project,
        env={**cluster.env, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(run: subprocess.Popen, cluster) -> str:
    try:
        output, _ = run.communicate(timeout=RUN_SECONDS)
    except subprocess.TimeoutExpired:
        run.kill()
        output, _ = run.communicate()
        pytest.fail(f"snakemake ran past {RUN_SECONDS} s:\n{output[-4000:]}\n{cluster.logs()}")
    return output


def test_the_cluster_makes_the_subtitles_a_local_run_makes(
    slurm_cluster,  # noqa: F811
    local_run,
    whisper_model,
    nllb_model,
    media,
    tmp_path,
):
    (tmp_path / "project").mkdir()
    project = copy_project(tmp_path / "project")
    add_videos(project, media, VIDEOS)
    (project / "cluster.yaml").write_text(SETTINGS.format(whisper=WHISPER, nllb=NLLB))
    profile = write_profile(ROOT / "profiles" / "slurm", tmp_path / "profile", slurm_cluster)
    # The first conversion asks too little memory: SLURM kills it, the retry asks more.
    text = (profile / "config.yaml").read_text(encoding="utf-8")
    (profile / "config.yaml").write_text(
        text.replace("mem_mb: 16000 * attempt", "mem_mb: 200 if attempt == 1 else 4000")
    )
    hold = tmp_path / "hold"
    hold.mkdir()
    offline = {"HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}
    # profiles/default's one-machine caps would hold the whole cluster to one model job.
    capped = run_on_cluster(slurm_cluster, project, profile, offline, workflow_profile=True)
    assert capped.wait(RUN_SECONDS) != 0
    assert "add --workflow-profile none" in capped.stdout.read()
    assert slurm_cluster.queue() == []
    with (
        HubServer({WHISPER: whisper_model, NLLB: nllb_model}) as hub,
        slurm_cluster.job_env(**offline, AUTOKR_HOLD=f"transcribe.model:{hold}"),
    ):
        run = run_on_cluster(slurm_cluster, project, profile, {"HF_ENDPOINT": hub.endpoint})
        output = []
        reader = threading.Thread(target=lambda: output.append(finish(run, slurm_cluster)))
        reader.start()
        try:
            # Both transcriptions hold with their model loaded, so they overlap.
            deadline = time.monotonic() + RUN_SECONDS
            while not held("transcribe.model", hold, jobs=2)():
                assert reader.is_alive(), output[0][-4000:]
                assert time.monotonic() < deadline, "the two transcriptions never overlapped"
                time.sleep(0.2)
        except BaseException:
            run.kill()  # a failing (or interrupted) test leaves no run behind
            raise
        finally:
            release(hold)
            reader.join(RUN_SECONDS + 30)
        assert run.returncode == 0, output[0][-4000:]
        assert hub.downloads(WHISPER, "model.bin") == 1
        assert hub.downloads(NLLB, "model.safetensors") == 1

    assert subtitles(project) == subtitles(local_run)
    cards = []
    for video in ("one", "two"):
        record = json.loads(
            (project / "results" / "videos" / video / "transcript.json").read_text()
        )
        cards.append(record["run"]["gpu"])
    assert sorted(cards) == ["0", "1"], cards  # overlapping jobs, one card each

    jobs = [job for job in slurm_cluster.jobs() if job["WorkDir"] == str(project.resolve())]
    by_rule: dict[str, list[dict]] = {}
    for job in jobs:
        by_rule.setdefault(job["Comment"].removeprefix("rule_").split("_wildcards_")[0], []).append(
            job
        )
    # Light steps and the download ran on the submit node; model steps were jobs.
    assert sorted(by_rule) == ["convert_model", "transcribe", "translate"], jobs
    for job in by_rule["transcribe"] + by_rule["translate"]:
        assert job["State"] == "COMPLETED" and "gres/gpu=1" in job["AllocTRES"], job
    converts = [(job["ReqMem"], job["State"]) for job in by_rule["convert_model"]]
    assert converts == [("200M", "FAILED"), ("4000M", "COMPLETED")]
    assert slurm_cluster.memory_killed(by_rule["convert_model"][0]["JobIDRaw"])
    models = project / "models" / "ctranslate2"
    assert len(list(models.glob("*/manifest.json"))) == 1  # converted once

    # A transcription that never gets the memory it needs fails, and the
    # summary says what SLURM did, not just that the job stopped.
    add_videos(project, media, ["three.mp4"])
    (profile / "config.yaml").write_text(
        (profile / "config.yaml")
        .read_text(encoding="utf-8")
        .replace("mem_mb: 6000 * attempt", "mem_mb: 200")
    )
    with slurm_cluster.job_env(**offline):
        run = run_on_cluster(slurm_cluster, project, profile, offline)
        output = finish(run, slurm_cluster)
    assert run.returncode != 0
    summary = (project / "results" / "summary.md").read_text(encoding="utf-8")
    assert "2 unchanged" in summary and "1 failed" in summary, summary
    failed = next(line for line in summary.splitlines() if "three.mp4" in line)
    assert "| transcribe | killed by SLURM for using more memory than it asked" in failed, summary
    assert "raise its mem_mb" in failed
