"""Snakemake's slurm executor on a real one-node cluster (tests/slurm_cluster.py).

A small workflow of its own, not autokr's: GPU jobs that overlap get distinct
cards, a failing job is reported failed, a job over its memory is killed by
the scheduler and retried with more. Skipped, with the reason, where the
cluster cannot run (not root, Debian's SLURM packages missing).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from slurm_cluster import slurm_cluster, write_profile  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slurm

#: Seconds one snakemake run through the cluster may take.
RUN_SECONDS = 300

SNAKEFILE = r"""
HOLD = config["hold"]


rule gpus:
    input:
        expand("gpu/{i}.txt", i=[1, 2]),


# Each job records the card SLURM gave it, then waits until the test lets it
# go: the test releases them only once both have started, so they overlap.
rule gpu:
    output:
        "gpu/{i}.txt",
    resources:
        gpu=1,
    shell:
        '''
        echo "${{CUDA_VISIBLE_DEVICES:-}} ${{SLURM_JOB_ID:-}} ${{HF_HUB_OFFLINE:-}}" > {output}.tmp
        touch {HOLD}/started.{wildcards.i}
        n=0
        while [ ! -e {HOLD}/release ]; do
            n=$((n + 1)); [ "$n" -lt 1200 ] || exit 3
            sleep 0.1
        done
        mv {output}.tmp {output}
        '''


rule fail:
    output:
        "fail.txt",
    shell:
        "echo going to fail >&2; exit 1"


# Asks too little memory on its first try; the scheduler kills it, and the
# retry asks enough.
rule hungry:
    output:
        "hungry.txt",
    retries: 1
    resources:
        mem_mb=lambda wildcards, attempt: 400 if attempt == 1 else 2000,
    shell:
        '''
        python3 -c "
import time
block = bytearray(800 * 1024 * 1024)
time.sleep(4)
print(len(block))
" > {output}
        '''
"""


@pytest.fixture(scope="module")
def workflow(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("slurm-workflow")
    (folder / "Snakefile").write_text(SNAKEFILE)
    (folder / "hold").mkdir()
    return folder


def run_snakemake(cluster, folder: Path, *targets: str) -> subprocess.CompletedProcess:
    """``snakemake --executor slurm TARGETS`` in ``folder``, against ``cluster``, time-bound."""
    snakemake = Path(sys.executable).parent / "snakemake"
    args = [
        str(snakemake),
        "--jobs",
        "4",
        *cluster.executor_args(mem_mb=1000, runtime=10),
        "--config",
        f"hold={folder / 'hold'}",
        "--latency-wait",
        "10",
        *targets,
    ]
    start = time.monotonic()
    try:
        result = subprocess.run(
            args,
            cwd=folder,
            env=cluster.env,
            capture_output=True,
            text=True,
            timeout=RUN_SECONDS,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"snakemake ran past {RUN_SECONDS} s:\n{exc.stderr}\n{cluster.logs()}", pytrace=False
        )
    result.seconds = time.monotonic() - start
    return result


def test_overlapping_gpu_jobs_get_distinct_cards(slurm_cluster, workflow):  # noqa: F811
    import threading

    hold = workflow / "hold"
    results = {}
    thread = threading.Thread(
        target=lambda: results.setdefault("run", run_snakemake(slurm_cluster, workflow, "gpus"))
    )
    thread.start()
    try:
        deadline = time.monotonic() + RUN_SECONDS
        while not all((hold / f"started.{i}").exists() for i in (1, 2)):
            assert thread.is_alive(), results["run"].stderr[-3000:]
            assert time.monotonic() < deadline, "the two GPU jobs never ran at the same time"
            time.sleep(0.1)
    finally:
        (hold / "release").touch()
        thread.join(RUN_SECONDS)
    run = results["run"]
    assert run.returncode == 0, run.stderr[-3000:]
    records = [(workflow / "gpu" / f"{i}.txt").read_text().split() for i in (1, 2)]
    cards = sorted(record[0] for record in records)
    assert cards == ["0", "1"], records
    assert records[0][1] != records[1][1], "both ran in one SLURM job"
    jobs = {job["JobIDRaw"]: job for job in slurm_cluster.jobs()}
    for record in records:
        assert "gres/gpu=1" in jobs[record[1]]["AllocTRES"]


def test_failing_job_is_reported_failed(slurm_cluster, workflow):  # noqa: F811
    run = run_snakemake(slurm_cluster, workflow, "fail.txt")
    assert run.returncode != 0
    assert "Error in rule fail" in run.stderr
    assert "SLURM status is: 'FAILED'" in run.stderr
    # Reported at the first status checks, not after a long wait.
    assert run.seconds < 120, f"took {run.seconds:.0f} s"


def test_job_over_its_memory_is_killed_and_retried(slurm_cluster, workflow):  # noqa: F811
    run = run_snakemake(slurm_cluster, workflow, "hungry.txt")
    assert run.returncode == 0, run.stderr[-4000:]
    assert (workflow / "hungry.txt").read_text().strip() == str(800 * 1024 * 1024)
    tries = [job for job in slurm_cluster.jobs() if job["Comment"] == "rule_hungry"]
    assert [(job["ReqMem"], job["State"]) for job in tries] == [
        ("400M", "FAILED"),
        ("2000M", "COMPLETED"),
    ]
    killed = tries[0]["JobIDRaw"]
    # The scheduler's own account of why: the kill line in the job's log
    # (kept for failed jobs), and a step that used more than it asked.
    log = workflow / ".snakemake" / "slurm_logs" / "rule_hungry" / f"{killed}.log"
    assert "exceeded memory limit" in log.read_text(), log.read_text()
    assert slurm_cluster.memory_killed(killed)


def test_slurm_profile_leaves_gpus_to_the_scheduler(tmp_path):
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    # --resources gpu=N would cap the GPUs of the whole cluster to N at a time.
    assert "resources" not in profile
    for rule in ("transcribe", "translate", "convert_model"):
        resources = profile["set-resources"][rule]
        # The rule asks for its card itself (none when configured for the CPU).
        assert "gpu" not in resources
        assert "attempt" in str(resources["mem_mb"])  # a retry asks for more memory
        assert int(resources["runtime"]) > 0
        assert "slurm_extra" not in resources  # --gres there is refused by the plugin
    # The profile loads: snakemake reads it and evaluates mem_mb per attempt.
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(
        "rule transcribe:\n    output: 'a'\n    shell: 'touch {output}'\n"
        "rule translate:\n    output: 'b'\n    shell: 'touch {output}'\n"
    )
    snakemake = Path(sys.executable).parent / "snakemake"
    result = subprocess.run(
        [str(snakemake), "--profile", str(ROOT / "profiles" / "slurm"), "-n", "a", "b"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]


PROFILE_SNAKEFILE = r"""
localrules:
    extract_audio,


rule extract_audio:
    output:
        "audio.txt",
    shell:
        "echo ${{SLURM_JOB_ID:-local}} > {output}"


rule transcribe:
    input:
        "audio.txt",
    output:
        "transcript.txt",
    resources:
        gpu=1,
    shell:
        "echo ${{SLURM_JOB_ID:-local}} ${{CUDA_VISIBLE_DEVICES:-}} > {output}"


rule translate:
    input:
        "transcript.txt",
    output:
        "translation.txt",
    resources:
        gpu=1,
    shell:
        "echo ${{SLURM_JOB_ID:-local}} ${{CUDA_VISIBLE_DEVICES:-}} > {output}"
"""


def test_slurm_profile_runs_on_the_cluster(slurm_cluster, tmp_path):  # noqa: F811
    """The shipped profile, with partition and account filled in: what each job asks of SLURM."""
    (tmp_path / "Snakefile").write_text(PROFILE_SNAKEFILE)
    profile = write_profile(ROOT / "profiles" / "slurm", tmp_path / "profile", slurm_cluster)
    snakemake = Path(sys.executable).parent / "snakemake"
    result = subprocess.run(
        [str(snakemake), "--profile", str(profile), "--latency-wait", "10", "translation.txt"],
        cwd=tmp_path,
        env=slurm_cluster.env,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "audio.txt").read_text().split() == ["local"]
    jobs = {job["JobIDRaw"]: job for job in slurm_cluster.jobs()}
    asked = {}
    for step in ("transcript", "translation"):
        job_id, card = (tmp_path / f"{step}.txt").read_text().split()
        job = jobs[job_id]
        assert card in ("0", "1")
        assert "gres/gpu=1" in job["AllocTRES"]
        asked[step] = (job["ReqMem"], job["Timelimit"])
    assert asked == {
        "transcript": ("6000M", "04:00:00"),
        "translation": ("8000M", "02:00:00"),
    }
