"""The Hub-shaped test server: the real clients download the test models through it, whole."""

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub_server import HubServer

WHISPER = "Systran/faster-whisper-base"
NLLB = "autokr-tests/tiny-nllb"

# Run in a fresh interpreter: huggingface_hub reads HF_ENDPOINT when imported.
CLIENT = r"""
import json, sys
from faster_whisper.utils import download_model
from huggingface_hub import HfApi, snapshot_download

whisper, nllb = sys.argv[1:]
api = HfApi()
print(json.dumps({
    "sha": api.model_info(nllb).sha,
    "files": sorted(api.list_repo_files(nllb)),
    "dry_run": sorted(f.filename for f in snapshot_download(nllb, dry_run=True)),
    "nllb": snapshot_download(nllb),
    "whisper": download_model(whisper),
    "again": snapshot_download(nllb),
}))
"""


def fetch(hub: HubServer, cache: Path, *extra_env: tuple[str, str]) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.endpoint,
        "HF_HOME": str(cache),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        **dict(extra_env),
    }
    env.pop("HF_HUB_OFFLINE", None)
    return subprocess.run(
        [sys.executable, "-c", CLIENT, WHISPER, NLLB],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def files_of(folder: Path) -> set[str]:
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


def test_models_download_whole_once(tmp_path, whisper_model, nllb_model):
    with HubServer({WHISPER: whisper_model, NLLB: nllb_model}) as hub:
        result = fetch(hub, tmp_path / "hf")
        assert result.returncode == 0, result.stderr[-3000:]
        got = json.loads(result.stdout.splitlines()[-1])

        assert got["sha"] == hub.repos[NLLB].commit
        assert got["files"] == sorted(files_of(nllb_model))
        assert got["dry_run"] == got["files"]
        for key, source in (("nllb", nllb_model), ("whisper", whisper_model)):
            folder = Path(got[key])
            # faster-whisper asks only for the files it loads.
            assert files_of(folder) <= files_of(source) and "config.json" in files_of(folder)
            for name in files_of(folder):
                assert filecmp.cmp(folder / name, source / name, shallow=False), name
        assert got["again"] == got["nllb"]
        # Each file crossed the wire once: the second snapshot came from the cache.
        for name in files_of(nllb_model):
            assert hub.downloads(NLLB, name) == 1, name
        assert hub.downloads(WHISPER, "model.bin") == 1
        # model.bin is large enough to be served as an LFS file, as on the Hub.
        assert hub.repos[WHISPER].files["model.bin"].is_lfs


def test_offline_client_makes_no_request(tmp_path, whisper_model, nllb_model):
    with HubServer({WHISPER: whisper_model, NLLB: nllb_model}) as hub:
        assert fetch(hub, tmp_path / "hf").returncode == 0
        before = hub.count()
        offline = subprocess.run(
            [
                sys.executable,
                "-c",
                "from huggingface_hub import snapshot_download\n"
                f"print(snapshot_download({NLLB!r}))",
            ],
            env={
                **os.environ,
                "HF_ENDPOINT": hub.endpoint,
                "HF_HOME": str(tmp_path / "hf"),
                "HF_HUB_OFFLINE": "1",
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert offline.returncode == 0, offline.stderr[-2000:]
        assert hub.count() == before


@pytest.mark.parametrize(
    ("repo", "error"),
    [("nobody/missing", "RepositoryNotFoundError"), (NLLB + "@nope", "RevisionNotFoundError")],
)
def test_missing_repo_or_revision_is_the_clients_own_error(tmp_path, nllb_model, repo, error):
    repo_id, _, revision = repo.partition("@")
    code = (
        "from huggingface_hub import snapshot_download\n"
        f"snapshot_download({repo_id!r}, revision={revision or 'main'!r})\n"
    )
    with HubServer({NLLB: nllb_model}) as hub:
        result = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0
    assert error in result.stderr
