"""Start-up cost: Snakemake plans a thousand videos without loading any model."""

import subprocess
import sys
import time

import pytest

from runs import copy_project, rules_of, started_jobs

#: Modules that only a model step needs: planning must not import any of them.
MODEL_LIBRARIES = ("faster_whisper", "ctranslate2", "torch", "transformers", "onnxruntime")

pytestmark = pytest.mark.workflow


def test_a_dry_run_over_1000_videos_finishes(tmp_path):
    project = copy_project(tmp_path)
    (project / "videos").mkdir()
    for i in range(1000):
        (project / "videos" / f"ep {i:04d}.mp4").touch()  # never opened by a dry run
    started = time.perf_counter()
    # -X importtime lists every module the planning process imports.
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "snakemake", "-n"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = rules_of(started_jobs(result.stdout + result.stderr))
    each = {"extract_audio": 1000, "transcribe": 1000, "translate": 1000, "make_srt": 1000}
    # The default models, fetched once, and converted by one job for both devices.
    assert jobs == {**each, "download_model": 2, "convert_model": 1}
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "snakemake" in imported  # the listing works
    assert not imported & set(MODEL_LIBRARIES), imported & set(MODEL_LIBRARIES)
    # How long it took is the benchmark's business; here it is only reported.
    print(f"dry run over 1000 videos: {seconds:.1f} s")
