"""Folders more than one run or user shares: temporary names of one's own, a live run
proved by a file lock it holds, and a models folder whose model was deleted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from autokr.batch.run_lock import OWNER, clear_stale_lock
from autokr.core import record_files
from autokr.models.store import slug
from runs import (
    configure,
    copy_project,
    owner,
    release,
    rules_of,
    snakemake,
    start_held,
    started_jobs,
)

# -- temporary files ------------------------------------------------------------------


def test_two_writers_of_one_file_never_write_into_each_other(tmp_path, monkeypatch):
    # Two runs sharing a models folder write one manifest at once: the other
    # run writes it while this one is about to rename its own.
    path = tmp_path / "manifest.json"
    real_replace = os.replace

    def another_writer_first(src, dst):
        monkeypatch.setattr(record_files.os, "replace", real_replace)
        record_files.write_text_atomic(path, "theirs\n")
        real_replace(src, dst)

    monkeypatch.setattr(record_files.os, "replace", another_writer_first)
    record_files.write_text_atomic(path, "ours\n")
    assert path.read_text(encoding="utf-8") == "ours\n"  # whole, and the last one
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_a_write_that_fails_leaves_no_temporary_file(tmp_path, monkeypatch):
    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(record_files.os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        record_files.write_text_atomic(tmp_path / "qa.json", "{}\n")
    assert list(tmp_path.iterdir()) == []


# -- the run that holds a project's lock ------------------------------------------------


def snakemake_lock(workdir: Path) -> Path:
    locks = workdir / ".snakemake" / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    lock = locks / "0.output.lock"
    lock.write_text("results/x\n")
    return lock


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def pretend_its_pid_means_nothing_here(workdir: Path) -> int:
    """Rewrite the owner record's process as one this host has not got (as a run in
    another PID namespace, or hidden by hidepid, looks from here)."""
    record = json.loads((workdir / OWNER).read_text(encoding="utf-8"))
    record["pid"] = dead_pid()
    (workdir / OWNER).write_text(json.dumps(record), encoding="utf-8")
    return record["pid"]


def test_a_live_run_the_process_table_does_not_show_keeps_its_lock(tmp_path):
    lock = snakemake_lock(tmp_path)
    live = owner(tmp_path, 600)
    try:
        pid = pretend_its_pid_means_nothing_here(tmp_path)
        assert clear_stale_lock(tmp_path) == (False, f"held by a live run (process {pid})")
        assert lock.exists()
    finally:
        live.kill()
        live.wait()
    # Gone, however it went: its file lock went with it.
    assert clear_stale_lock(tmp_path) == (True, "")
    assert not lock.exists()


@pytest.mark.workflow
def test_a_held_snakemake_run_keeps_its_lock_whatever_its_pid_says(
    tmp_path, whisper_model, nllb_model, media
):
    (tmp_path / "project").mkdir()
    project = copy_project(tmp_path / "project")
    configure(project, whisper_model, nllb_model)
    (project / "videos").mkdir()
    shutil.copy(media["one.mkv"], project / "videos" / "ep.mkv")
    gate = tmp_path / "hold"
    proc = start_held(project, "transcribe.model", gate)
    try:
        pid = pretend_its_pid_means_nothing_here(project)
        assert clear_stale_lock(project) == (False, f"held by a live run (process {pid})")
        release(gate)
        assert proc.wait(timeout=600) == 0
    finally:
        release(gate)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (project / "results" / "subtitles" / "ep.ko.srt").exists()


# -- a models folder whose model was deleted -------------------------------------------


@pytest.mark.workflow
def test_a_model_whose_folder_was_deleted_is_fetched_again(tmp_path, whisper_model, nllb_model):
    from hub_server import HubServer

    project = copy_project(tmp_path)
    (project / "hub.yaml").write_text(
        "transcribe: {model: autokr-tests/whisper-base, device: cpu}\n"
        f"translate: {{model: '{nllb_model}', device: cpu}}\n",
        encoding="utf-8",
    )
    folder = project / "models" / "whisper" / slug("autokr-tests/whisper-base")
    converted = project / "models" / "ctranslate2" / slug(str(nllb_model))
    with HubServer({"autokr-tests/whisper-base": whisper_model}) as hub:
        env = {"HF_ENDPOINT": hub.endpoint}
        first = snakemake(project, "models", "--configfile", "hub.yaml", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        shutil.rmtree(folder / "hub")  # space made on the disk, by hand
        shutil.rmtree(converted / "int8")
        again = snakemake(project, "models", "--configfile", "hub.yaml", env=env)
        assert again.returncode == 0, again.stderr[-3000:]
        assert hub.downloads("autokr-tests/whisper-base", "model.bin") == 2
    assert rules_of(started_jobs(again.stderr)) == {
        "download_model": 1,
        "convert_model": 1,
        "models": 1,
    }
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert (project / manifest["folder"] / "model.bin").exists()
    assert (converted / "int8" / "model" / "model.bin").exists()
    assert f"{folder.relative_to(project)}/manifest.json: its model folder" in again.stderr
