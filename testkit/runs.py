"""Running autokr as a user does (workflow tests, bench): a project folder, snakemake, make."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import srt
import yaml

#: The autokr checkout the runs copy from.
ROOT = Path(__file__).resolve().parents[1]

PROJECT_FILES = [
    "Snakefile",
    "rules",
    "scripts",
    "config",
    "profiles",
    "envs",
    "Makefile",
    "requirements.txt",
    "requirements-torch.txt",
    "example",
    "report",
    "logger",
]


def copy_project(dest: Path) -> Path:
    """A fresh checkout of autokr in ``dest``, sharing the test run's virtualenv."""
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)  # keeps mtimes, so make sees setup as done
    (dest / ".venv").symlink_to(Path(sys.prefix))
    return dest


def configure(project: Path, whisper_model: Path, nllb_model: Path) -> None:
    """Point config/config.yaml at the test models, as a user edits it for local models."""
    path = project / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["transcribe"].update(model=str(whisper_model), beam_size=1, device="cpu", threads=2)
    config["translate"].update(model=str(nllb_model), device="cpu", batch_size=4, threads=2)
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def snakemake(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``snakemake ARGS`` in the project, as a user types it."""
    return subprocess.run(
        [str(project / ".venv" / "bin" / "snakemake"), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )


def make_run(project: Path, *args: str) -> subprocess.CompletedProcess:
    """``make run`` in the project (``args`` go to Snakemake through ``ARGS``)."""
    command = ["make", "run", *([f"ARGS={' '.join(args)}"] if args else [])]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=900)


def start_snakemake(
    project: Path,
    env: dict | None = None,
    output: Path | None = None,
    args: list[str] | None = None,
) -> subprocess.Popen:
    """Snakemake in the background, in its own process group (so it can be killed whole).

    Its output goes to ``output`` when given, so a test can wait for a line.
    """
    sink = open(output, "w", encoding="utf-8") if output else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(
            [str(project / ".venv" / "bin" / "snakemake"), *(args or [])],
            cwd=project,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    finally:
        if output:
            sink.close()


def hold_at(point: str, folder: Path) -> dict[str, str]:
    """The environment that holds a run's step at ``point`` until ``release(folder)``."""
    folder.mkdir(parents=True, exist_ok=True)
    return {"AUTOKR_HOLD": f"{point}:{folder}"}


def held(point: str, folder: Path, jobs: int = 1) -> Callable[[], bool]:
    """A check that ``jobs`` steps are waiting at ``point``."""
    return lambda: len(list(folder.glob(f"{point}.*.held"))) >= jobs


def release(folder: Path) -> None:
    """Let every step held through ``folder`` go on."""
    (folder / "release").touch()


def wait_for(what: str, ready: Callable[[], bool], proc: subprocess.Popen, seconds=300) -> None:
    """Poll until ``ready()``; fail if the run ends first."""
    deadline = time.time() + seconds
    while not ready():
        assert proc.poll() is None, f"the run ended before {what}"
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def interrupt(proc: subprocess.Popen, sig: signal.Signals) -> None:
    """Stop the run as a power cut (SIGKILL), `kill` (SIGTERM) or Ctrl-C (SIGINT) would.

    A power cut and a terminal's Ctrl-C reach every process of the run; `kill`
    reaches Snakemake alone, which then lets running jobs finish and starts no more.
    """
    if sig == signal.SIGTERM:
        proc.send_signal(sig)
    else:
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def logged(path: Path, text: str) -> Callable[[], bool]:
    """A check that ``path`` exists and holds ``text``."""
    return lambda: path.exists() and text in path.read_text(encoding="utf-8", errors="replace")


def started_jobs(output: str) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job Snakemake started, from its log output."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", output):
        head = re.match(r"(?:local)?rule (\w+):\n", block)
        if head and head.group(1) != "all":
            wildcards = re.search(r"^    wildcards: (.*)$", block, re.MULTILINE)
            jobs.append((head.group(1), wildcards.group(1) if wildcards else ""))
    return jobs


def rules_of(jobs) -> Counter:
    return Counter(rule for rule, _ in jobs)


def cues(path: Path) -> list[srt.Subtitle]:
    return list(srt.parse(path.read_text(encoding="utf-8")))


def subtitle(project: Path, video: str, label: str) -> Path:
    return project / "results" / "subtitles" / f"{video}.{label}.srt"


def korean_text(project: Path, video: str) -> str:
    """All the Korean of a video's subtitles, lines joined by spaces."""
    return " ".join(c.content.replace("\n", " ") for c in cues(subtitle(project, video, "ko")))


def files_outside_results(project: Path) -> set[str]:
    """Every file in the project that autokr did not put under results/, models/ (the
    models folder) or .snakemake/."""
    found = set()
    for folder, _dirs, files in os.walk(project):  # links are not followed
        relative = Path(folder).relative_to(project)
        if relative.parts[:1] in (("results",), ("models",), (".snakemake",)):
            continue
        found |= {str(relative / name) for name in files}
    return found


#: A stand-in for a run: records itself as the holder of a folder's lock, then lives on.
OWNER_PROCESS = """
import sys, time
from pathlib import Path
from autokr.batch.run_lock import record_owner
record_owner(Path(sys.argv[1]))
print("recorded", flush=True)
time.sleep(float(sys.argv[2]))
"""


def owner(workdir: Path, seconds: float) -> subprocess.Popen:
    """A process that records itself as the run holding ``workdir``'s lock (as the
    workflow's onstart does), then lives for ``seconds``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    process = subprocess.Popen(
        [sys.executable, "-c", OWNER_PROCESS, str(workdir), str(seconds)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "recorded\n"
    return process


def set_config(project: Path, **settings) -> None:
    """Edit config/config.yaml as a user does: a dict is merged into its section; any other
    value replaces the setting."""
    path = project / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, value in settings.items():
        if isinstance(value, dict):
            config[key].update(value)
        else:
            config[key] = value
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def add_videos(project: Path, videos: dict[str, Path]) -> None:
    """Copy each of ``videos`` into the project's videos folder, under its name there."""
    for name, source in videos.items():
        dest = project / "videos" / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, dest)


def start_held(project: Path, point: str, gate: Path, jobs: int = 1, **start) -> subprocess.Popen:
    """Snakemake in the background (``start`` as ``start_snakemake`` takes it), returned once
    ``jobs`` of its steps wait at ``point`` until ``release(gate)``; killed if they never do."""
    env = {**(start.pop("env", None) or {}), **hold_at(point, gate)}
    proc = start_snakemake(project, env=env, **start)
    try:
        wait_for(f"{point} to be held", held(point, gate, jobs), proc)
    except BaseException:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return proc
