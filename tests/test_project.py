"""The project's own files: conda envs against pip pins, formatting, sizes, the lock helper."""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import ROOT
from runs import owner

sys.path.insert(0, str(ROOT / "scripts"))
from autokr.batch.run_lock import OWNER, clear_stale_lock


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
    rules = (ROOT / "rules" / "steps.smk").read_text() + (ROOT / "rules" / "models.smk").read_text()
    steps = ("extract_audio", "transcribe", "read_subtitles", "translate", "make_srt")
    for rule in (*steps, "download_model", "convert_model"):
        env = yaml.safe_load((ROOT / "envs" / f"{rule}.yaml").read_text(encoding="utf-8"))
        assert "conda-forge" in env["channels"]
        [pip_section] = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
        for line in pip_section:
            name, version = line.split("==")
            in_envs[re.sub(r"[-_.]+", "-", name).lower()] = version
        assert f'"../envs/{rule}.yaml"' in rules
    # Snakemake, its SLURM plugins and jsonschema run the workflow, not a rule (PyYAML
    # both: the steps read their defaults from the schema); matplotlib draws the
    # report's plots at the end of a run, watchfiles runs make watch.
    workflow = {"jsonschema", "matplotlib", "watchfiles"}
    assert {k: v for k, v in pip.items() if k not in workflow and "snakemake" not in k} == in_envs


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


#: The step scripts: thin adapters from Snakemake (or a command line) to one function.
STEP_SCRIPTS = [
    "extract_audio",
    "transcribe",
    "read_subtitles",
    "translate",
    "make_srt",
    "download_model",
    "convert_model",
    "publish",
    "unpublish",
]


def test_modules_functions_and_step_scripts_stay_small():
    # The house's limits (docs/development.md): a module a reader can hold, a
    # function that fits a screen, a step script that only adapts.
    too_long = []
    for path in sorted((ROOT / "scripts").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT)
        if len(source.splitlines()) > 400:
            too_long.append(f"{name}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > 60:
                    too_long.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    for step in STEP_SCRIPTS:
        path = ROOT / "scripts" / f"{step}.py"
        source = path.read_text(encoding="utf-8")
        modules = {
            node.module
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("autokr")
        }
        if len(source.splitlines()) >= 100 or len(modules) > 5:
            too_long.append(f"{step}.py: {len(source.splitlines())} lines, {len(modules)} imports")
    assert not too_long


def test_the_lock_of_a_run_gone_from_this_host_is_cleared(tmp_path):
    lock = make_lock(tmp_path)
    owner(tmp_path, 0).wait()
    assert clear_stale_lock(tmp_path) == (True, "")
    assert not lock.exists()


def test_the_lock_of_a_live_run_is_kept(tmp_path):
    lock = make_lock(tmp_path)
    live = owner(tmp_path, 600)
    try:
        assert clear_stale_lock(tmp_path) == (False, f"held by a live run (process {live.pid})")
        assert lock.exists()
    finally:
        live.kill()
        live.wait()


def test_a_lock_it_cannot_prove_dead_is_never_removed(tmp_path):
    # On a folder shared between machines, a run on another node is invisible
    # from here; and a lock with no record of its run proves nothing.
    lock = make_lock(tmp_path)
    assert clear_stale_lock(tmp_path) == (False, "no record of the run that holds it")
    (tmp_path / OWNER).write_text(json.dumps({"host": "node-17", "pid": 4242}), "utf-8")
    assert clear_stale_lock(tmp_path) == (False, "held by a run on host node-17 (process 4242)")
    assert lock.exists()


def test_a_record_older_than_the_lock_proves_nothing(tmp_path):
    # A dead run of this host left its record; a new run (here or on another
    # node) has locked the folder and not recorded itself yet.
    owner(tmp_path, 0).wait()
    lock = make_lock(tmp_path)
    later = (tmp_path / OWNER).stat().st_mtime + 5
    os.utime(lock, (later, later))
    assert clear_stale_lock(tmp_path) == (
        False,
        "no record of the run that holds it (the last record is older than the lock)",
    )
    assert lock.exists()
