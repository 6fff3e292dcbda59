"""The project's own files: conda envs against pip pins, formatting, the lock helper."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from clear_stale_lock import clear_stale_lock


def pins(path: Path) -> dict[str, str]:
    """name -> version of the '==' pins in a requirements file (names normalised)."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def test_every_rule_has_an_env_and_envs_pin_what_pip_pins():
    pip = pins(ROOT / "requirements.txt") | pins(ROOT / "requirements-torch.txt")
    in_envs = {}
    for rule in ("extract_audio", "transcribe", "translate", "make_srt"):
        env = yaml.safe_load((ROOT / "envs" / f"{rule}.yaml").read_text(encoding="utf-8"))
        assert "conda-forge" in env["channels"]
        [pip_section] = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
        for line in pip_section:
            name, version = line.split("==")
            in_envs[re.sub(r"[-_.]+", "-", name).lower()] = version
        assert f'"../envs/{rule}.yaml"' in (ROOT / "rules" / "steps.smk").read_text()
    # snakemake, PyYAML and jsonschema run the workflow itself, not a rule.
    assert {k: v for k, v in pip.items() if k not in {"snakemake", "pyyaml", "jsonschema"}} == (
        in_envs
    )


def test_code_is_formatted_and_lint_clean():
    bin_dir = Path(sys.executable).parent
    for cmd in (
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["snakefmt", "--check", "Snakefile", "rules"],
    ):
        result = subprocess.run([str(bin_dir / cmd[0]), *cmd[1:]], cwd=ROOT, capture_output=True)
        assert result.returncode == 0, (cmd, result.stdout, result.stderr)


def make_lock(workdir: Path) -> Path:
    locks = workdir / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    lock = locks / "0.output.lock"
    lock.write_text("results/x\n")
    return lock


def test_stale_lock_is_cleared(tmp_path):
    lock = make_lock(tmp_path)
    assert clear_stale_lock(tmp_path)
    assert not lock.exists()


def test_lock_of_a_live_run_is_kept(tmp_path):
    lock = make_lock(tmp_path)
    # Any process in that folder with "snakemake" on its command line counts as live.
    live = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", "snakemake"], cwd=tmp_path
    )
    try:
        deadline = time.time() + 10
        cmdline = Path(f"/proc/{live.pid}/cmdline")
        while b"snakemake" not in cmdline.read_bytes() and time.time() < deadline:
            time.sleep(0.01)  # until the child has exec'd
        assert not clear_stale_lock(tmp_path)
        assert lock.exists()
    finally:
        live.kill()
        live.wait()


def test_make_models_prepares_configured_local_models(tmp_path, whisper_model, nllb_model):
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        yaml.safe_dump(
            {"transcribe": {"model": str(whisper_model)}, "translate": {"model": str(nllb_model)}}
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "AUTOKR_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "scripts/download_models.py", "--configfile", str(mine)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert f"transcribe.model: {whisper_model}" in result.stdout
    # The CTranslate2 backend's conversion is made ahead too, for offline machines.
    [converted] = (tmp_path / "cache" / "ctranslate2").iterdir()
    assert f"translate.model: {converted}" in result.stdout
    assert (converted / "model.bin").exists() and (converted / "tokenizer.json").exists()


def test_make_models_names_a_model_it_cannot_get(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("transcribe:\n  model: no-such-org/no-such-whisper\n", encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AUTOKR_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "scripts/download_models.py", "--configfile", str(mine)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert "autokr: model 'no-such-org/no-such-whisper' (transcribe.model)" in result.stderr
    assert "Traceback" not in result.stderr
