"""The model steps: `make models` fetches and converts each configured model once."""

import json
import os
import shutil
import subprocess

import pytest

from autokr.models.store import slug
from runs import copy_project, rules_of, snakemake, started_jobs

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def project(tmp_path_factory, whisper_model, nllb_model):
    root = copy_project(tmp_path_factory.mktemp("models"))
    (root / "local.yaml").write_text(
        f"transcribe: {{model: '{whisper_model}'}}\ntranslate: {{model: '{nllb_model}'}}\n",
        encoding="utf-8",
    )
    return root


def make_models(project, *args, env=None):
    command = ["make", "models", f"ARGS=--configfile local.yaml {' '.join(args)}"]
    return subprocess.run(
        command, cwd=project, capture_output=True, text=True, timeout=600, env=env
    )


def test_make_models_prepares_each_model_once(project, whisper_model, nllb_model):
    result = make_models(project)
    assert result.returncode == 0, result.stderr[-3000:]
    # device auto: the CPU's int8 and CUDA's float16 are both made, by one job.
    assert rules_of(started_jobs(result.stderr)) == {
        "download_model": 2,
        "convert_model": 1,
        "models": 1,
    }
    models = project / "models"
    whisper = json.loads(
        (models / "whisper" / slug(str(whisper_model)) / "manifest.json").read_text("utf-8")
    )
    # A local folder is used where it is: nothing copied.
    assert whisper["folder"] == str(whisper_model) and "model.bin" in whisper["files"]
    path = models / "ctranslate2" / slug(str(nllb_model)) / "manifest.json"
    converted = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(converted["conversions"]) == ["float16", "int8"]
    for folder in converted["conversions"].values():
        assert (project / folder / "model.bin").exists()
    assert not (project / "results" / "videos").exists()  # no video was touched
    again = make_models(project)
    assert again.returncode == 0 and started_jobs(again.stderr) == []


def test_touching_the_models_folder_reruns_nothing(project):
    for folder, _, files in os.walk(project / "models"):
        for name in files:
            os.utime(os.path.join(folder, name))
    assert started_jobs(make_models(project, "--dry-run").stdout) == []


def test_a_model_that_cannot_be_had_is_one_line(project, tmp_path):
    mine = project / "missing.yaml"
    mine.write_text("transcribe: {model: no-such-org/no-such-whisper}\n", encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path)}
    result = snakemake(project, "models", "--configfile", "local.yaml", str(mine), env=env)
    assert result.returncode != 0
    assert "autokr: model 'no-such-org/no-such-whisper' (transcribe.model)" in result.stderr
    # It names the cache it looked in: the models folder, not the Hub's.
    assert f"not in the cache at models/whisper/{slug('no-such-org/no-such-whisper')}/hub," in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_a_models_folder_under_home_is_expanded(project, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    mine = project / "home.yaml"
    mine.write_text("models_dir: ~/autokr-models\n", encoding="utf-8")
    env = {**os.environ, "HOME": str(home)}
    result = snakemake(project, "models", "-n", "--configfile", "local.yaml", str(mine), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{home}/autokr-models/whisper/" in result.stdout
    assert not (project / "~").exists()


def test_models_come_from_the_hub_once_and_jobs_never_ask_it(
    tmp_path, whisper_model, nllb_model, media
):
    # Repo ids served by a Hub-shaped server on loopback: download_model
    # fetches each model once; the model jobs, offline, never ask it anything.
    from hub_server import HubServer

    project = copy_project(tmp_path)
    (project / "videos").mkdir()
    shutil.copy(media["one.mkv"], project / "videos" / "first.mkv")
    (project / "hub.yaml").write_text(
        "transcribe: {model: autokr-tests/whisper-base, device: cpu, beam_size: 1}\n"
        "translate: {model: autokr-tests/tiny-nllb, device: cpu}\n",
        encoding="utf-8",
    )
    repos = {"autokr-tests/whisper-base": whisper_model, "autokr-tests/tiny-nllb": nllb_model}
    with HubServer(repos) as hub:
        env = {**os.environ, "HF_ENDPOINT": hub.endpoint}
        first = snakemake(project, "--configfile", "hub.yaml", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        assert hub.downloads("autokr-tests/whisper-base", "model.bin") == 1
        assert hub.downloads("autokr-tests/tiny-nllb", "model.safetensors") == 1
        asked = hub.count()
        shutil.copy(media["one.mkv"], project / "videos" / "second.mkv")
        second = snakemake(project, "--configfile", "hub.yaml", env=env)
        assert second.returncode == 0, second.stderr[-3000:]
        assert rules_of(started_jobs(second.stderr)) == {
            "extract_audio": 1,
            "transcribe": 1,
            "translate": 1,
            "make_srt": 1,
        }
        assert hub.count() == asked  # the second video's jobs made no request
        # Another device adds its conversion and reruns no translation.
        translations = sorted(project.glob("results/videos/*/translation.ko.json"))
        before = [p.stat().st_mtime_ns for p in translations]
        hub_yaml = (project / "hub.yaml").read_text(encoding="utf-8")
        (project / "hub.yaml").write_text(hub_yaml.replace("device: cpu}", "device: auto}"))
        third = snakemake(project, "--configfile", "hub.yaml", env=env)
        assert third.returncode == 0, third.stderr[-3000:]
        assert rules_of(started_jobs(third.stderr)) == {"convert_model": 1}
        assert [p.stat().st_mtime_ns for p in translations] == before
        assert hub.count() == asked
    models = project / "models"
    assert (models / "whisper" / slug("autokr-tests/whisper-base") / "hub").is_dir()


def test_a_try_loads_its_own_conversion_or_another_one():
    from autokr.core.errors import ModelError
    from autokr.models.store import folder_for

    both = {"int8": "m/int8", "float16": "m/float16"}
    assert folder_for(both, "int8", "m.json") == "m/int8"
    assert folder_for(both, "int8_float16", "m.json") == "m/float16"  # CUDA's lighter retry
    # float32 configured on CUDA: its last try runs int8_float32, never converted.
    assert folder_for({"float32": "m/float32"}, "int8_float32", "m.json") == "m/float32"
    assert folder_for({"checkpoint": "ckpt"}, "float16", "m.json") == "ckpt"
    with pytest.raises(ModelError, match=r"^m\.json: lists no model folder"):
        folder_for({}, "int8", "m.json")


def test_a_models_folder_of_another_model_is_not_fetched_as_the_configured_one(project):
    # Asking for a manifest the config does not name must not fetch the
    # configured model into another model's folder.
    result = snakemake(
        project,
        "--configfile",
        "local.yaml",
        "-n",
        "models/whisper/someone_else-0000/manifest.json",
    )
    assert result.returncode != 0
    assert "models/whisper/someone_else-0000: not the configured whisper model" in (
        result.stderr + result.stdout
    )
