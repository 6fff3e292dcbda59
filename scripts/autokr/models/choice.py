"""``model: auto``: the Whisper and NLLB models that fit what a run's jobs run on.

The Snakefile resolves ``auto`` once per run, before any job (``choose``), and
records the names and the reasons in ``results/model_choice.json``; the jobs
then see only the resolved names, so a resolved name, not ``auto``, decides
reruns and downloads. docs/models.md shows the tables below to users;
tests/test_model_choice.py keeps the two the same.

On CUDA the choice goes by the free memory of the emptiest usable card (NVML;
the steps run one after another, so each gets the whole card). On the CPU it
goes by size, to finish in a reasonable time.
"""

from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from autokr.core.results_layout import MODEL_CHOICE

#: Whisper on CUDA, best first: (model, GB of free card memory it needs).
#: The needs are estimates (the float16 weights, batched decoding and CUDA's
#: own context, rounded up), not yet measured on a card.
WHISPER_CUDA = [("large-v3", 6.0), ("turbo", 3.5), ("small", 1.5)]
#: For Japanese, kotoba-whisper v2.0: large-v3's encoder with a 2-layer decoder,
#: published for faster-whisper. CER 9.2 / 8.4 / 11.6 on CommonVoice 8 / JSUT /
#: ReazonSpeech (TV speech) against large-v3's 8.5 / 7.1 / 14.9, per its model
#: card, and several times faster: the better fit for broadcast-like audio.
WHISPER_CUDA_JA = [("kotoba-tech/kotoba-whisper-v2.0-faster", 4.0), *WHISPER_CUDA[1:]]
#: NLLB on CUDA: the 1.3B distilled model where it fits, else the 600M.
NLLB_CUDA = [("facebook/nllb-200-distilled-1.3B", 8.0), ("facebook/nllb-200-distilled-600M", 0.0)]
NLLB_CPU = "facebook/nllb-200-distilled-600M"
#: translate.backend llm, translate.llm.model auto: general instruction models
#: that follow the prompt's JSON answer and know Japanese and Korean, best first,
#: with the GB of free card memory each needs (bfloat16 weights, a scene's
#: context and CUDA's own: estimates, not yet measured on a card). Below the
#: smallest, and on the CPU, NLLB translates.
LLM_CUDA = [
    ("Qwen/Qwen2.5-14B-Instruct", 34.0),
    ("Qwen/Qwen2.5-7B-Instruct", 18.0),
    ("Qwen/Qwen2.5-3B-Instruct", 8.0),
]
#: The choice of translate.llm.model, recorded beside the steps'.
LLM = "translate.llm"
#: CPU cores from which the CPU gets Whisper medium rather than small.
MEDIUM_FROM_CPUS = 8
#: Whisper's compute per second of audio, relative to base, by parameter count
#: (base 74M; an estimate, see ``cpu_minutes_per_hour``).
RELATIVE_COMPUTE = {
    "tiny": 0.5,
    "base": 1.0,
    "small": 3.3,
    "medium": 10.4,
    "turbo": 10.9,
    "large-v3-turbo": 10.9,
    "large-v1": 20.9,
    "large-v2": 20.9,
    "large-v3": 20.9,
    "large": 20.9,
}
#: Whisper base on the CPU, int8, 2 cores: 36.1 s of workflow for 600 s of
#: speech (``make bench``, 2026-11-27 00:21 UTC, Intel Xeon; 37.0 s at 05:25).
BASE_CPU_SECONDS_PER_SECOND = 36.1 / 600
BASE_CPU_CORES = 2
#: Models slow enough on the CPU to warn about (an hour of audio over an hour).
SLOW_ON_CPU_FROM = 10.0


@dataclass(frozen=True)
class Machine:
    """What a step's jobs run on: ``cuda`` or ``cpu``, free card memory, CPU cores.

    ``free_gb`` None on CUDA means no card could be measured here (a cluster's
    login node): the jobs' cards are taken to have room for the largest model.
    """

    device: str
    free_gb: float | None = None
    cpus: int = 1


@dataclass(frozen=True)
class Choice:
    """A resolved ``auto``: the model, and why, in words."""

    step: str
    model: str
    why: str


def choose(step: str, machine: Machine, source_language: str = "auto") -> Choice:
    """The model ``auto`` means for ``step`` (transcribe, translate or LLM) on ``machine``.

    For LLM, an empty model means none fits: NLLB translates.
    """
    if step == LLM:
        return _instruction_model(machine)
    if machine.device == "cuda":
        return _by_free_memory(step, _table(step, source_language), machine.free_gb)
    if step == "translate":
        return Choice(step, NLLB_CPU, "no GPU for translate: the 600M model suits the CPU")
    if machine.cpus >= MEDIUM_FROM_CPUS:
        why = f"no GPU for transcribe; {machine.cpus} CPU cores run medium in reasonable time"
        return Choice(step, "medium", why)
    why = f"no GPU for transcribe; with {machine.cpus} CPU cores, small keeps the time reasonable"
    return Choice(step, "small", why)


def _table(step: str, source_language: str) -> list[tuple[str, float]]:
    """The models of ``step`` on CUDA, best first, with the free GB each needs."""
    if step == LLM:
        return LLM_CUDA
    if step == "transcribe":
        return WHISPER_CUDA_JA if source_language == "ja" else WHISPER_CUDA
    return NLLB_CUDA


def _instruction_model(machine: Machine) -> Choice:
    """translate.llm.model auto: the best instruction model that fits, or none (NLLB)."""
    nllb = "NLLB (translate.model) translates"
    if machine.device != "cuda":
        why = f"no CUDA card: an instruction model on the CPU takes hours a video; {nllb}"
        return Choice(LLM, "", why)
    chosen = _by_free_memory(LLM, LLM_CUDA, machine.free_gb)
    smallest, needs = LLM_CUDA[-1]
    if machine.free_gb is not None and machine.free_gb < needs:
        why = f"only {machine.free_gb:.1f} GB free on the card; {smallest} needs {needs:g}; {nllb}"
        return Choice(LLM, "", why)
    return chosen


def _by_free_memory(step: str, table: list[tuple[str, float]], free_gb: float | None) -> Choice:
    if free_gb is None:
        model, needs = table[0]
        return Choice(step, model, "no card to measure here; the jobs' cards are taken to fit it")
    for model, needs in table:
        if free_gb >= needs:
            return Choice(
                step, model, f"{free_gb:.1f} GB free on the card; {model} needs {needs:g}"
            )
    model, needs = table[-1]
    why = f"only {free_gb:.1f} GB free on the card; {model}, the smallest here, needs {needs:g}"
    return Choice(step, model, why)


def cpu_minutes_per_hour(model: str, cpus: int) -> float | None:
    """Likely minutes of transcription per hour of audio for a Whisper size on the CPU.

    An estimate: Whisper base's measured speed here, times the model's compute
    relative to base, spread over the cores. None for a model not in the table.
    """
    relative = RELATIVE_COMPUTE.get(model)
    if relative is None:
        return None
    seconds = BASE_CPU_SECONDS_PER_SECOND * relative * BASE_CPU_CORES / max(cpus, 1)
    return seconds * 60


def slow_on_cpu_warning(model: str, cpus: int) -> str | None:
    """The line a run prints when an explicit large model will run on the CPU."""
    if RELATIVE_COMPUTE.get(model, 0) < SLOW_ON_CPU_FROM:
        return None
    minutes = cpu_minutes_per_hour(model, cpus)
    return (
        f"autokr: transcribe.model {model} will run on the CPU (no GPU visible): likely about "
        f"{minutes:.0f} minutes per hour of audio with {cpus} cores (estimated from Whisper "
        "base's speed, make bench); model: auto picks one that fits. Going on."
    )


def free_card_memory_gb(gpus: list | None = None) -> float | None:
    """Free memory (GB) of the emptiest usable card, by NVML; None when none can be read.

    ``gpus`` (config) or ``CUDA_VISIBLE_DEVICES`` names the usable cards by index.
    """
    try:
        import pynvml

        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
    except Exception:  # no NVML library or no driver
        return None
    cards = _usable(gpus, count)
    free = []
    for index in cards:
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            free.append(pynvml.nvmlDeviceGetMemoryInfo(handle).free / 1024**3)
        except Exception:  # a card that cannot be read is not counted
            continue
    return max(free) if free else None


def _usable(gpus: list | None, count: int) -> list[int]:
    """Indices of the cards a run may use: config ``gpus``, else CUDA_VISIBLE_DEVICES, else all."""
    names = [str(g) for g in gpus] if gpus else None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if names is None and visible is not None:
        names = [v.strip() for v in visible.split(",") if v.strip()]
    if names is None:
        return list(range(count))
    return [int(n) for n in names if n.isdigit() and int(n) < count]


def machine_for(device: str, gpus: list | None, cpus: int) -> Machine:
    """What a step configured for ``device`` will run on, as seen from here."""
    if device == "cpu":
        return Machine("cpu", cpus=cpus)
    free = free_card_memory_gb(gpus)
    if free is None and device == "auto":  # no card visible: auto runs on the CPU
        return Machine("cpu", cpus=cpus)
    return Machine("cuda", free, cpus)


@dataclass(frozen=True)
class Resolved:
    """What ``resolve`` did: the lines to print, and the choices to record once the run
    really starts (``record``; None where nothing is to be recorded)."""

    lines: list[str]
    choices: dict[str, dict[str, str]] | None = None
    path: Path | None = None

    def record(self) -> None:
        """Record the choices of this run (the Snakefile's onstart: a run that executes).

        Not while the workflow is only read: a dry run, ``--report`` or a run the
        lock refuses may measure a card that a running job fills, and must not
        leave a smaller model for the next run to keep. Rewritten only when the
        choices change.
        """
        if self.choices is not None and self.path is not None:
            _write_if_changed(self.path, self.choices)


def resolve(
    config: dict,
    decide: bool,
    path: str | None = MODEL_CHOICE,
    steps: tuple[str, ...] = ("transcribe", "translate"),
) -> Resolved:
    """Put the models ``auto`` stands for into ``config``; return the lines to print and
    what to record.

    ``decide`` (Snakemake's main process): choose on this machine, keeping the
    choices recorded in ``path`` while they fit; ``Resolved.record`` writes them
    once the run starts. Otherwise (a cluster job parsing the workflow on its
    node): take the recorded ones, so that every job sees what the run decided.
    The reasons go to ``config["model_choice"]``, outside the steps' settings
    (and so their params). ``path`` None (a step run by hand) records nothing;
    ``steps`` are those to resolve.
    """
    import json

    asked = [step for step in steps if config[step]["model"] == "auto"]
    translate = config["translate"]
    if (
        "translate" in steps
        and translate["backend"] == "llm"
        and translate["llm"]["model"] == "auto"
    ):
        asked.append(LLM)
    choices, to_record = {}, None
    if asked and decide:
        choices = _decide(config, asked, Path(path) if path else None)
        to_record = choices if path else None
    elif asked:
        choices = json.loads(Path(path).read_text(encoding="utf-8"))
    lines = []
    for step in asked:
        model, why = choices[step]["model"], choices[step]["why"]
        if step != LLM:
            config[step]["model"] = model
        elif model:
            config["translate"]["llm"]["model"] = model
        else:  # no instruction model fits here
            config["translate"]["backend"] = "ctranslate2"
        config.setdefault("model_choice", {})[step] = why
        lines.append(f"autokr: {step}.model auto: {model or 'none'} ({why})")
    lines += _warnings(config) if decide and "transcribe" in steps else []
    return Resolved(lines, to_record, Path(path) if path else None)


def chosen_by_hand(config: dict, step: str) -> dict:
    """``config`` with ``step``'s ``model: auto`` chosen on this machine, said on stderr.

    For a step run by hand: nothing is recorded (see ``resolve``), and the
    caller's ``config`` is left as it was.
    """
    config = copy.deepcopy(config)
    for line in resolve(config, decide=True, path=None, steps=(step,)).lines:
        print(line, file=sys.stderr)
    return config


def _decide(config: dict, asked: list[str], path) -> dict[str, dict[str, str]]:
    """Choose for each step in ``asked``; a choice the last run recorded is kept while it fits.

    Free memory moves from run to run; a model that flipped with it would
    rerun the whole library. So the last choice stays while it still fits.
    """
    import json

    cpus = os.cpu_count() or 1
    try:
        last = json.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        last = {}
    choices = {}
    for step in asked:
        device = config["translate" if step == LLM else step]["device"]
        machine = machine_for(device, config.get("gpus"), cpus)
        new = choose(step, machine, config["source_language"])
        kept = last.get(step, {})
        if kept.get("device") == machine.device and _fits(kept.get("model"), new, machine, config):
            choices[step] = kept
        else:
            choices[step] = {"model": new.model, "why": new.why, "device": machine.device}
    return choices


def _fits(model: str | None, new: Choice, machine: Machine, config: dict) -> bool:
    """True when ``model``, chosen by an earlier run, would still be a right choice here."""
    if model == new.model:
        return True
    if machine.device != "cuda" or machine.free_gb is None:
        return False
    needs = dict(_table(new.step, config["source_language"])).get(model)
    return needs is not None and machine.free_gb >= needs


def _warnings(config: dict) -> list[str]:
    """The slow-on-CPU line, where an explicit large Whisper will run on the CPU."""
    settings = config["transcribe"]
    cpus = os.cpu_count() or 1
    if machine_for(settings["device"], config.get("gpus"), cpus).device != "cpu":
        return []
    line = slow_on_cpu_warning(settings["model"], cpus)
    return [line] if line and "transcribe" not in config.get("model_choice", {}) else []


def _write_if_changed(path, choices: dict) -> None:
    import json

    from autokr.core.record_files import write_text_atomic

    text = json.dumps(choices, indent=2, ensure_ascii=False) + "\n"
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    write_text_atomic(path, text)
