"""``make bench``: autokr against bare faster-whisper, and the two translation backends.

On one machine, in one run:
1. makes a Japanese speech video of --minutes (pyopenjtalk), then times bare
   sequential faster-whisper (same model, VAD, word timestamps) and the whole
   workflow with its defaults, and with transcribe.batch_size 1; prints the
   ratios and kana character error rates against the script;
2. times translation of the same sentences with the transformers and the
   CTranslate2 backend on an NLLB-architecture model of the real 600M shape
   (random weights: both generate to the same length bound, same beams);
3. reads each step's peak memory from the workflow's benchmark files.
Writes bench/results.md. Model-heavy work runs in fresh processes, as in use.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests"), str(ROOT / "bench")]

import corpus  # noqa: E402

import assets  # noqa: E402
import speech  # noqa: E402
from runs import configure, copy_project  # noqa: E402

PAUSE = 0.8  # seconds between sentences
PARAGRAPH = 2.5  # seconds after every fifth sentence
NLLB_600M = {
    "d_model": 1024,
    "encoder_layers": 12,
    "decoder_layers": 12,
    "encoder_attention_heads": 16,
    "decoder_attention_heads": 16,
    "encoder_ffn_dim": 4096,
    "decoder_ffn_dim": 4096,
    "vocab_size": 256206,
    "max_position_embeddings": 1024,
}


def build_video(minutes: float) -> tuple[Path, str]:
    """A speech video of ``minutes`` and the text it speaks (cached)."""

    def build(folder: Path) -> None:
        import numpy as np
        import pyopenjtalk

        chunks, spoken, length, n = [np.zeros(speech.SAMPLE_RATE // 2)], [], 0.5, 0
        while length < minutes * 60:
            text = corpus.SENTENCES[n % len(corpus.SENTENCES)]
            samples, _ = pyopenjtalk.tts(text)
            pause = PARAGRAPH if n % 5 == 4 else PAUSE
            chunks += [samples, np.zeros(int(pause * speech.SAMPLE_RATE))]
            length += len(samples) / speech.SAMPLE_RATE + pause
            spoken.append(text)
            n += 1
        speech.write_wav(folder / "speech.wav", np.concatenate(chunks) / 32768.0)
        speech.mux_video(folder / "speech.wav", folder / "speech.mp4")
        (folder / "speech.wav").unlink()
        (folder / "script.txt").write_text("".join(spoken), encoding="utf-8")

    folder = assets.cached("bench-video", [minutes, corpus.SENTENCES, PAUSE, PARAGRAPH], build)
    return folder / "speech.mp4", (folder / "script.txt").read_text(encoding="utf-8")


def timed(cmd: list[str], **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    """Wall-clock seconds of a command, and its result."""
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"bench: {cmd[:3]} failed:\n{result.stderr[-3000:]}")
    return seconds, result


def bare_whisper(video: Path, model: Path, threads: int) -> tuple[float, str]:
    """Bare sequential faster-whisper, started fresh as a user's own script would be."""
    code = (
        "import sys; from faster_whisper import WhisperModel\n"
        f"m = WhisperModel({str(model)!r}, device='cpu', compute_type='int8', "
        f"cpu_threads={threads})\n"
        f"segs, _ = m.transcribe({str(video)!r}, language='ja', vad_filter=True, "
        "word_timestamps=True)\n"
        "sys.stdout.write(''.join(s.text for s in segs))\n"
    )
    seconds, result = timed([sys.executable, "-c", code])
    return seconds, result.stdout


def workflow(video: Path, model: Path, nllb: Path, extra: dict) -> tuple[float, str, dict]:
    """The whole workflow with its defaults (and ``extra`` config) in a fresh folder."""
    with tempfile.TemporaryDirectory(prefix="autokr-bench-") as tmp:
        project = copy_project(Path(tmp))
        configure(project, model, nllb)
        config_path = project / "config" / "config.yaml"
        import yaml

        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        # Back to the shipped defaults but for the models and the device.
        shipped = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
        for step in ("transcribe", "translate"):
            models = {k: config[step][k] for k in ("model", "device")}
            config[step] = {**shipped[step], **models, **extra.get(step, {})}
        config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        (project / "videos").mkdir()
        shutil.copy(video, project / "videos" / "speech.mp4")
        seconds, _ = timed([str(project / ".venv" / "bin" / "snakemake")], cwd=project)
        results = project / "results"
        transcript = json.loads((results / "videos/speech/transcript.json").read_text("utf-8"))
        text = "".join(s["text"] for s in transcript["segments"])
        peaks = {}
        for tsv in sorted(results.glob("benchmarks/*/speech*.tsv")):
            with open(tsv, encoding="utf-8") as f:
                row = next(csv.DictReader(f, delimiter="\t"))
            peaks[tsv.parent.name] = (float(row["s"]), float(row["max_rss"]))
        return seconds, text, peaks


def dry_run(videos: int) -> float:
    """Seconds ``snakemake -n`` takes to plan ``videos`` videos (files never opened)."""
    with tempfile.TemporaryDirectory(prefix="autokr-bench-") as tmp:
        project = copy_project(Path(tmp))
        (project / "videos").mkdir()
        for i in range(videos):
            (project / "videos" / f"ep {i:04d}.mp4").touch()
        seconds, _ = timed([str(project / ".venv" / "bin" / "snakemake"), "-n"], cwd=project)
        return seconds


def nllb_600m_shape() -> Path:
    """An NLLB-architecture checkpoint of the real 600M shape, random weights (cached)."""

    def build(folder: Path) -> None:
        import torch
        from transformers import AutoTokenizer, M2M100Config, M2M100ForConditionalGeneration

        tokenizer = AutoTokenizer.from_pretrained(str(assets.tiny_nllb_model()))
        tokenizer.save_pretrained(str(folder))
        config = M2M100Config(
            **NLLB_600M,
            scale_embedding=True,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.eos_token_id,
        )
        torch.manual_seed(0)
        M2M100ForConditionalGeneration(config).eval().save_pretrained(str(folder))

    return assets.cached("bench-nllb-600m", [NLLB_600M, 1], build)


def translate_speed(
    backend: str, model: Path, sentences: list[str], threads: int, beam: int, max_length: int
) -> dict:
    """Run one backend in a fresh process; its time, tokens and peak memory."""
    args = json.dumps([backend, str(model), sentences, threads, beam, max_length])
    _, result = timed([sys.executable, __file__, "--worker", args])
    return json.loads(result.stdout.strip().splitlines()[-1])


def worker(args: str) -> None:
    """In a fresh process: load one backend, translate, report time/tokens/peak memory."""
    from autokr import mt
    from autokr.devices import Placement

    backend, model, sentences, threads, beam, max_length = json.loads(args)
    options = mt.TranslateOptions(
        model=model, backend=backend, beam_size=beam, max_length=max_length
    )
    placement = Placement("cpu", mt.compute_type(backend, Placement("cpu", "int8")))
    loaded = time.perf_counter()
    translator = mt.load_translator(options, placement, threads)
    loaded = time.perf_counter() - loaded
    tokens = 0
    generate = translator.generate

    def counting(ids, *rest):
        nonlocal tokens
        out = generate(ids, *rest)
        tokens += sum(len(x) for x in out)
        return out

    translator.generate = counting
    start = time.perf_counter()
    translator.translate(sentences, "jpn_Jpan", "kor_Hang")
    seconds = time.perf_counter() - start
    peak_mb = peak_memory_mb()
    report = {"seconds": seconds, "tokens": tokens, "load_seconds": loaded, "peak_mb": peak_mb}
    print(json.dumps({**report, "compute_type": placement.compute_type}))


def peak_memory_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would count the parent's fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cores = len(os.sched_getaffinity(0))
    return f"{cpu}, {cores} cores, {mem:.0f} GiB, {platform.system()} {platform.release()}"


def versions() -> str:
    names = ["faster-whisper", "ctranslate2", "transformers", "torch", "snakemake"]
    return (
        ", ".join(f"{n} {metadata.version(n)}" for n in names)
        + f", Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the speech video")
    parser.add_argument("--sentences", type=int, default=16, help="sentences to translate")
    parser.add_argument("--beam", type=int, default=4, help="beams for both backends")
    parser.add_argument("--max-length", type=int, default=64, help="token bound for both")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.md"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    threads = len(os.sched_getaffinity(0))
    started = datetime.now(UTC)
    command = f"make bench ARGS='{' '.join(sys.argv[1:])}'" if sys.argv[1:] else "make bench"
    whisper, nllb = assets.whisper_base(), assets.tiny_nllb_model()
    video, script = build_video(args.minutes)
    print(f"bench: {args.minutes:g}-minute video, {len(script)} characters spoken", flush=True)

    bare_s, bare_text = bare_whisper(video, whisper, threads)
    print(f"bench: bare faster-whisper {bare_s:.1f} s", flush=True)
    flow_s, flow_text, peaks = workflow(video, whisper, nllb, {})
    print(f"bench: workflow (defaults) {flow_s:.1f} s", flush=True)
    seq_s, seq_text, _ = workflow(video, whisper, nllb, {"transcribe": {"batch_size": 1}})
    print(f"bench: workflow (batch_size 1) {seq_s:.1f} s", flush=True)
    cer = {
        name: speech.kana_cer(script, text)
        for name, text in [("bare", bare_text), ("flow", flow_text), ("seq", seq_text)]
    }

    plan_s = dry_run(1000)
    print(f"bench: dry run over 1000 videos {plan_s:.1f} s", flush=True)

    big = nllb_600m_shape()
    sentences = (corpus.SENTENCES * 2)[: args.sentences]
    from autokr import mt

    # Converted once, outside the timed runs and in its own process, as the cache does.
    convert = f"from autokr import mt; mt.ctranslate2_model({str(big)!r}, 'int8')"
    timed([sys.executable, "-c", convert], env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")})
    speed = {
        b: translate_speed(b, big, sentences, threads, args.beam, args.max_length)
        for b in mt.BACKENDS
    }
    for b, r in speed.items():
        print(
            f"bench: {b} {r['tokens']} tokens in {r['seconds']:.1f} s, peak {r['peak_mb']:.0f} MB",
            flush=True,
        )
    ct2, hf = speed["ctranslate2"], speed["transformers"]
    ct2_tps, hf_tps = ct2["tokens"] / ct2["seconds"], hf["tokens"] / hf["seconds"]

    ratio, seq_ratio = flow_s / bare_s, seq_s / bare_s
    check = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    lines = [
        "# autokr benchmark",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC",
        f"- command: `{command}`",
        f"- machine: {machine()}",
        f"- versions: {versions()}",
        f"- input: a {args.minutes:g}-minute Japanese speech video made with pyopenjtalk "
        f"({len(script)} characters), Whisper base int8 on the CPU, {threads} threads",
        "",
        "## Transcription: the workflow against bare faster-whisper",
        "",
        "Bare: a fresh Python process running sequential faster-whisper on the video file (same",
        "model, VAD on, word timestamps, its default beam 5). Workflow: `snakemake` in a fresh",
        "folder with the shipped config except the models (Whisper base, the tests' tiny NLLB",
        "model, so translation costs next to nothing) - every step, process start and file.",
        "",
        "| run | wall time | vs bare | kana CER |",
        "| --- | --- | --- | --- |",
        f"| bare sequential faster-whisper | {bare_s:.1f} s | 1.00 | {cer['bare']:.3f} |",
        f"| workflow, defaults (batch 8) | {flow_s:.1f} s | {ratio:.2f} | {cer['flow']:.3f} |",
        f"| workflow, transcribe.batch_size 1 | {seq_s:.1f} s | {seq_ratio:.2f} "
        f"| {cer['seq']:.3f} |",
        "",
        f"- defaults at most 0.6x bare: {ratio:.2f}x, {check(ratio <= 0.6)}; kana CER within "
        f"0.005: {cer['flow'] - cer['bare']:+.3f}, {check(cer['flow'] <= cer['bare'] + 0.005)}",
        f"- batch_size 1 at most 1.05x bare: {seq_ratio:.2f}x, {check(seq_ratio <= 1.05)}",
        "",
        "## Translation: CTranslate2 against transformers",
        "",
        f"An NLLB-architecture model of the real 600M shape ({NLLB_600M['d_model']} wide, "
        f"{NLLB_600M['encoder_layers']}+{NLLB_600M['decoder_layers']} layers, "
        f"{NLLB_600M['vocab_size']} tokens), random weights, {len(sentences)} sentences, beam "
        f"{args.beam}, at most {args.max_length} tokens each, both through autokr's own",
        "translators in fresh processes; load time not counted, peak memory is the process's.",
        "",
        "| backend | compute type | tokens | seconds | tokens/s | peak memory |",
        "| --- | --- | --- | --- | --- | --- |",
        *[
            f"| {b} | {r['compute_type']} | {r['tokens']} | {r['seconds']:.1f} | "
            f"{r['tokens'] / r['seconds']:.1f} | {r['peak_mb']:.0f} MB |"
            for b, r in speed.items()
        ],
        "",
        f"- CTranslate2 at least 3x the tokens/s: {ct2_tps / hf_tps:.1f}x, "
        f"{check(ct2_tps >= 3 * hf_tps)}",
        f"- at most half the peak memory: {ct2['peak_mb'] / hf['peak_mb']:.2f}, "
        f"{check(ct2['peak_mb'] <= hf['peak_mb'] / 2)}",
        "",
        "## Start-up",
        "",
        f"`snakemake -n` over 1,000 videos (4,001 jobs planned, no model loaded): {plan_s:.1f} s.",
        "",
        "## Peak memory of each step (workflow, defaults)",
        "",
        "From Snakemake's `benchmark:` files in `results/benchmarks/`.",
        "",
        "| step | seconds | peak memory (max RSS) |",
        "| --- | --- | --- |",
        *[f"| {step} | {s:.1f} | {mb:.0f} MB |" for step, (s, mb) in peaks.items()],
        "",
    ]
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
