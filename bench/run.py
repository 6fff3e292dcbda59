"""``make bench``: autokr against bare faster-whisper, and the two translation backends.

On one machine, in one run:
1. makes a Japanese speech video of --minutes (pyopenjtalk), then times bare
   sequential faster-whisper (same model, VAD, word timestamps) and the whole
   workflow with its defaults, and with transcribe.batch_size 1; prints the
   ratios and kana character error rates against the script;
2. runs the four real Common Voice recordings of the tests, joined with 0.8 s
   of silence, through bare sequential faster-whisper, bare batched
   faster-whisper (its defaults) and the workflow: kana CER of the whole file
   and of each sentence;
3. times translation of the same sentences with the transformers and the
   CTranslate2 backend on an NLLB-architecture model of the real 600M shape
   (random weights: both generate to the same length bound, same beams);
4. takes each step's peak memory from the step's own record (``qa.json``);
5. times extract_audio's ffmpeg command (channel choice, holes filled with
   silence, packets listed) against a plain ``-ac 1`` decode of a 5.1 track.
Writes bench/results.md. Model-heavy work runs in fresh processes, as in use.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "testkit"), str(ROOT / "bench")]

import corpus  # noqa: E402

import assets  # noqa: E402
import speech  # noqa: E402
from autokr.core.records import QA, Transcript, read_qa, read_transcript  # noqa: E402
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
#: Where each workflow run's logs and records are kept after the run, to read
#: what took the time (``<name>/logs/transcribe/<video>.log``).
KEPT_RUNS = assets.CACHE / "bench-runs"
#: A sentence whose kana CER is this high is counted as missing.
MISSING_CER = 0.5


@dataclass(frozen=True)
class Decoded:
    """What one transcription run produced: its seconds, text, and timed words."""

    seconds: float
    text: str
    words: tuple[tuple[float, float, str], ...]


@dataclass(frozen=True)
class WorkflowRun:
    """One ``snakemake`` run: its seconds and the records it wrote for the video."""

    seconds: float
    transcript: Transcript
    qa: QA

    @property
    def decoded(self) -> Decoded:
        """The transcript as a ``Decoded``, to score like a bare run."""
        words: list[tuple[float, float, str]] = []
        for seg in self.transcript.segments:
            # A segment without word timings counts as one word.
            words += [(w.start, w.end, w.word) for w in seg.words] or [
                (seg.start, seg.end, seg.text)
            ]
        text = "".join(s.text for s in self.transcript.segments)
        return Decoded(self.seconds, text, tuple(words))


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


def build_dialogue() -> tuple[Path, list[speech.Spoken]]:
    """The real recordings joined as the tests join them, as a video (cached), and where each is."""

    def build(folder: Path) -> None:
        spoken = speech.join_recordings(folder / "dialogue.wav")
        speech.mux_video(folder / "dialogue.wav", folder / "dialogue.mp4")
        (folder / "dialogue.wav").unlink()
        timings = [s.__dict__ for s in spoken]
        (folder / "spoken.json").write_text(json.dumps(timings, ensure_ascii=False), "utf-8")

    key = [speech.real_sentences(), speech.DIALOGUE_GAP, assets.source_hash("speech.py")]
    folder = assets.cached("bench-dialogue", key, build)
    timings = json.loads((folder / "spoken.json").read_text(encoding="utf-8"))
    return folder / "dialogue.mp4", [speech.Spoken(**s) for s in timings]


def timed(cmd: list[str], **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    """Wall-clock seconds of a command, and its result."""
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"bench: {cmd[:3]} failed:\n{result.stderr[-3000:]}")
    return seconds, result


def bare_whisper(video: Path, model: Path, threads: int, batched: bool = False) -> Decoded:
    """Bare faster-whisper, started fresh as a user's own script would be.

    Sequential: ``WhisperModel.transcribe`` with VAD on (its default beam 5).
    Batched: ``BatchedInferencePipeline`` with its defaults (VAD on, batch 8,
    beam 5). Both with word timestamps, to tell which sentence a word is in.
    """
    decoder = "BatchedInferencePipeline(m)" if batched else "m"
    code = (
        "import json, sys\n"
        "from faster_whisper import BatchedInferencePipeline, WhisperModel\n"
        f"m = WhisperModel({str(model)!r}, device='cpu', compute_type='int8', "
        f"cpu_threads={threads})\n"
        f"segs, _ = {decoder}.transcribe({str(video)!r}, language='ja', vad_filter=True, "
        "word_timestamps=True)\n"
        "json.dump([[s.text, [[w.start, w.end, w.word] for w in s.words or []]] "
        "for s in segs], sys.stdout, ensure_ascii=False)\n"
    )
    seconds, result = timed([sys.executable, "-c", code])
    segments = json.loads(result.stdout)
    words = tuple((start, end, word) for _, ws in segments for start, end, word in ws)
    return Decoded(seconds, "".join(text for text, _ in segments), words)


def workflow(video: Path, model: Path, nllb: Path, extra: dict, name: str) -> WorkflowRun:
    """The whole workflow with its defaults (and ``extra`` config) in a fresh folder.

    Its logs and records are kept under ``KEPT_RUNS / name``.
    """
    import yaml

    with tempfile.TemporaryDirectory(prefix="autokr-bench-") as tmp:
        project = copy_project(Path(tmp))
        configure(project, model, nllb)
        config_path = project / "config" / "config.yaml"
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        # Back to the shipped defaults but for the models and the device.
        shipped = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
        for step in ("transcribe", "translate"):
            models = {k: config[step][k] for k in ("model", "device")}
            config[step] = {**shipped[step], **models, **extra.get(step, {})}
        config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        (project / "videos").mkdir()
        shutil.copy(video, project / "videos" / video.name)
        seconds, _ = timed([str(project / ".venv" / "bin" / "snakemake")], cwd=project)
        results = project / "results"
        kept = KEPT_RUNS / name
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(results, kept, ignore=shutil.ignore_patterns("*.wav"))
    records = kept / "videos" / video.stem
    return WorkflowRun(
        seconds, read_transcript(records / "transcript.json"), read_qa(records / "qa.json")
    )


def dry_run(videos: int) -> float:
    """Seconds ``snakemake -n`` takes to plan ``videos`` videos (files never opened)."""
    with tempfile.TemporaryDirectory(prefix="autokr-bench-") as tmp:
        project = copy_project(Path(tmp))
        (project / "videos").mkdir()
        for i in range(videos):
            (project / "videos" / f"ep {i:04d}.mp4").touch()
        seconds, _ = timed([str(project / ".venv" / "bin" / "snakemake"), "-n"], cwd=project)
        return seconds


def sentence_cers(spoken: list[speech.Spoken], decoded: Decoded) -> list[float]:
    """Kana CER of each spoken sentence against the words heard nearest to it."""
    heard: list[list[str]] = [[] for _ in spoken]

    def distance(said: speech.Spoken, mid: float) -> float:
        return max(said.start - mid, mid - said.end, 0.0)

    for start, end, word in decoded.words:
        mid = (start + end) / 2
        nearest = min(range(len(spoken)), key=lambda i: distance(spoken[i], mid))
        heard[nearest].append(word)
    return [speech.kana_cer(s.text, "".join(w)) for s, w in zip(spoken, heard, strict=True)]


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
    from autokr.core.devices import Placement
    from autokr.translation import mt

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
    """CPU model, cores this process may use, memory and kernel."""
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
    """Versions of the libraries that the timings depend on."""
    names = ["faster-whisper", "ctranslate2", "transformers", "torch", "snakemake"]
    return (
        ", ".join(f"{n} {metadata.version(n)}" for n in names)
        + f", Python {platform.python_version()}"
    )


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def say(message: str) -> None:
    print(f"bench: {message}", flush=True)


@dataclass(frozen=True)
class Synthetic:
    """The long synthetic video: its script, bare sequential, and the workflow twice."""

    minutes: float
    script: str
    bare: Decoded
    flow: WorkflowRun
    seq: WorkflowRun


@dataclass(frozen=True)
class Real:
    """The joined real recordings: where each sentence is, and three decoders' results."""

    spoken: list[speech.Spoken]
    bare: Decoded
    batched: Decoded
    flow: WorkflowRun


def measure_synthetic(minutes: float, whisper: Path, nllb: Path, threads: int) -> Synthetic:
    """Bare sequential faster-whisper and the workflow (defaults, batch 1) on the long video."""
    video, script = build_video(minutes)
    say(f"{minutes:g}-minute video, {len(script)} characters spoken")
    bare = bare_whisper(video, whisper, threads)
    say(f"bare faster-whisper {bare.seconds:.1f} s")
    flow = workflow(video, whisper, nllb, {}, "speech-defaults")
    say(f"workflow (defaults) {flow.seconds:.1f} s, logs in {KEPT_RUNS / 'speech-defaults'}")
    seq = workflow(video, whisper, nllb, {"transcribe": {"batch_size": 1}}, "speech-batch-1")
    say(f"workflow (batch_size 1) {seq.seconds:.1f} s")
    return Synthetic(minutes, script, bare, flow, seq)


def measure_real(whisper: Path, nllb: Path, threads: int) -> Real:
    """Bare sequential, bare batched and the workflow on the joined real recordings."""
    video, spoken = build_dialogue()
    bare = bare_whisper(video, whisper, threads)
    batched = bare_whisper(video, whisper, threads, batched=True)
    flow = workflow(video, whisper, nllb, {}, "dialogue-defaults")
    say(
        f"real recordings: bare {bare.seconds:.1f} s, bare batched {batched.seconds:.1f} s, "
        f"workflow {flow.seconds:.1f} s"
    )
    return Real(spoken, bare, batched, flow)


def measure_translation(sentences: list[str], threads: int, beam: int, max_length: int) -> dict:
    """Both backends on the 600M-shaped model, each in a fresh process."""
    from autokr.translation import mt

    big = nllb_600m_shape()
    # Converted once, outside the timed runs and in its own process, as the cache does.
    convert = (
        f"from autokr.translation import conversion; conversion.ctranslate2_model({str(big)!r})"
    )
    timed([sys.executable, "-c", convert], env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")})
    speed = {b: translate_speed(b, big, sentences, threads, beam, max_length) for b in mt.BACKENDS}
    for b, r in speed.items():
        say(f"{b} {r['tokens']} tokens in {r['seconds']:.1f} s, peak {r['peak_mb']:.0f} MB")
    return speed


def header_lines(command: str, started: datetime, syn: Synthetic, threads: int) -> list[str]:
    """Title, date, command, machine, versions and input."""
    return [
        "# autokr benchmark",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC",
        f"- command: `{command}`",
        f"- machine: {machine()}",
        f"- versions: {versions()}",
        f"- input: a {syn.minutes:g}-minute Japanese speech video made with pyopenjtalk "
        f"({len(syn.script)} characters), and four real recordings (Common Voice, CC0) "
        f"joined; Whisper base int8 on the CPU, {threads} threads",
        "",
    ]


def transcript_facts(run: WorkflowRun) -> str:
    """The workflow transcript's mode, what it decoded again, and what speech it left."""
    t = run.transcript
    return (
        f"transcription {t.mode}; {t.redecoded} batched pieces decoded again; speech no word "
        f"covered: {t.uncovered_before:.2f} s before decoding it again, "
        f"{t.uncovered_after:.2f} s after; {t.redecoded_seconds:.2f} s of audio decoded again"
    )


def synthetic_lines(syn: Synthetic) -> list[str]:
    """The long video's table: wall time, ratio to bare, kana CER; and the checks."""
    rows = [
        ("bare sequential faster-whisper", syn.bare),
        ("workflow, defaults (batch 8)", syn.flow.decoded),
        ("workflow, transcribe.batch_size 1", syn.seq.decoded),
    ]
    cer = [speech.kana_cer(syn.script, d.text) for _, d in rows]
    ratio = [d.seconds / syn.bare.seconds for _, d in rows]
    return [
        f"## Transcription: the workflow against bare faster-whisper ({syn.minutes:g} minutes)",
        "",
        "Bare: a fresh Python process running sequential faster-whisper on the video file (same",
        "model, VAD on, word timestamps, its default beam 5). Workflow: `snakemake` in a fresh",
        "folder with the shipped config except the models (Whisper base, the tests' tiny NLLB",
        "model, so translation costs next to nothing) - every step, process start and file.",
        "",
        "| run | wall time | vs bare | kana CER |",
        "| --- | --- | --- | --- |",
        *[
            f"| {name} | {d.seconds:.1f} s | {r:.2f} | {c:.3f} |"
            for (name, d), r, c in zip(rows, ratio, cer, strict=True)
        ],
        "",
        f"- defaults at most 0.6x bare: {ratio[1]:.2f}x, {verdict(ratio[1] <= 0.6)}; kana CER "
        f"within 0.005: {cer[1] - cer[0]:+.3f}, {verdict(cer[1] <= cer[0] + 0.005)}",
        f"- batch_size 1 at most 1.05x bare: {ratio[2]:.2f}x, {verdict(ratio[2] <= 1.05)}",
        f"- workflow, defaults: {transcript_facts(syn.flow)}",
        f"- workflow, batch_size 1: {transcript_facts(syn.seq)}",
        "",
    ]


def real_lines(real: Real) -> list[str]:
    """The joined real recordings: CER of the whole file and of each sentence, per decoder."""
    reference = "".join(s.text for s in real.spoken)
    rows = [
        ("bare sequential faster-whisper", real.bare),
        ("bare BatchedInferencePipeline, its defaults (batch 8)", real.batched),
        ("workflow, defaults", real.flow.decoded),
    ]
    per = {name: sentence_cers(real.spoken, d) for name, d in rows}
    whole = {name: speech.kana_cer(reference, d.text) for name, d in rows}
    numbers = range(1, len(real.spoken) + 1)
    missing = {
        name: [str(i) for i, c in zip(numbers, cers, strict=True) if c >= MISSING_CER]
        for name, cers in per.items()
    }
    bare, flow = whole[rows[0][0]], whole[rows[2][0]]
    return [
        "## Real voices: four Common Voice recordings joined",
        "",
        f"The tests' `join_recordings`: four speakers one after another, {speech.DIALOGUE_GAP} s "
        f"of silence between, {real.spoken[-1].end:.1f} s in all, as an mp4. Bare runs as above",
        "(both with word timestamps, which tell which sentence each word was heard in); the",
        "workflow with the shipped defaults. Per-sentence CER scores the words heard nearest",
        f"each recording; {MISSING_CER} or more counts as missing. Seconds include process start",
        f"and model load, which outweigh {real.spoken[-1].end:.0f} s of speech: the speed target",
        "is the long video's.",
        "",
        "| run | seconds | kana CER | " + " | ".join(f"{i}" for i in numbers) + " | missing |",
        "| --- | --- | --- | " + " | ".join("---" for _ in numbers) + " | --- |",
        *[
            f"| {name} | {d.seconds:.1f} | {whole[name]:.3f} | "
            + " | ".join(f"{c:.2f}" for c in per[name])
            + f" | {', '.join(missing[name]) or 'none'} |"
            for name, d in rows
        ],
        "",
        *[
            f"{i}. {s.start:.1f}-{s.end:.1f} s: {s.text}"
            for i, s in zip(numbers, real.spoken, strict=True)
        ],
        "",
        f"- workflow kana CER within 0.005 of bare sequential: {flow - bare:+.3f}, "
        f"{verdict(flow <= bare + 0.005)}",
        f"- workflow: {transcript_facts(real.flow)}",
        "",
    ]


def translation_lines(speed: dict, sentences: int, beam: int, max_length: int) -> list[str]:
    """The two backends' table and checks."""
    ct2, hf = speed["ctranslate2"], speed["transformers"]
    ct2_tps, hf_tps = ct2["tokens"] / ct2["seconds"], hf["tokens"] / hf["seconds"]
    return [
        "## Translation: CTranslate2 against transformers",
        "",
        f"An NLLB-architecture model of the real 600M shape ({NLLB_600M['d_model']} wide, "
        f"{NLLB_600M['encoder_layers']}+{NLLB_600M['decoder_layers']} layers, "
        f"{NLLB_600M['vocab_size']} tokens), random weights, {sentences} sentences, beam "
        f"{beam}, at most {max_length} tokens each, both through autokr's own",
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
        f"{verdict(ct2_tps >= 3 * hf_tps)}",
        f"- at most half the peak memory: {ct2['peak_mb'] / hf['peak_mb']:.2f}, "
        f"{verdict(ct2['peak_mb'] <= hf['peak_mb'] / 2)}",
        "",
    ]


def measure_extraction(minutes: float, runs: int = 3) -> dict[str, float]:
    """Median seconds of a plain decode and of extract_audio's command, on a 5.1 AAC track."""
    from autokr.speech.media import Takes, decode_args, ffmpeg_executable, probe

    folder = Path(tempfile.mkdtemp(prefix="autokr-bench-extract-"))
    video = folder / "film.mkv"
    noise = f"anoisesrc=d={minutes * 60:g}:c=pink:r=48000:a=0.2"
    layout = "pan=5.1|FL=c0|FR=c0|FC=c0|LFE=c0|BL=c0|BR=c0"
    timed([ffmpeg_executable(), "-v", "error", "-f", "lavfi", "-i", noise, "-af", layout,
           "-c:a", "aac", "-b:a", "384k", str(video)])  # fmt: skip
    track = probe(video).audio[0]
    wav = folder / "a.wav"
    plain = [ffmpeg_executable(), "-nostdin", "-v", "error", "-y", "-i", f"file:{video}"]
    plain += ["-map", "0:a:0", "-ac", "1", "-ar", "16000", "-f", "wav", f"file:{wav}"]
    parts = Takes(wav, folder / "b.wav", folder / "packets")
    commands = {
        "plain ffmpeg -ac 1 -ar 16000": plain,
        "extract_audio, downmix": decode_args(video, parts, track, "downmix", False),
        "extract_audio, auto (centre, all mixed beside it)": decode_args(
            video, parts, track, "center", True
        ),
    }
    seconds = {name: sorted(timed(cmd)[0] for _ in range(runs)) for name, cmd in commands.items()}
    shutil.rmtree(folder)
    return {name: times[len(times) // 2] for name, times in seconds.items()}


def extraction_lines(extraction: dict[str, float], minutes: float) -> list[str]:
    plain = extraction["plain ffmpeg -ac 1 -ar 16000"]
    return [
        f"## Audio extraction ({minutes:g} minutes of 5.1 AAC, median of 3)",
        "",
        "extract_audio's one ffmpeg command keeps the WAV on the track's own timestamps",
        "(`aresample=async=1:first_pts=0`: holes filled with silence, overlaps trimmed),",
        "lists the track's packets to find the holes (`-c copy -f framecrc`), and takes",
        "the centre channel of surround sound (`pan`), with all channels mixed beside it for",
        "the stretches where the centre is silent.",
        "",
        "| command | seconds | vs plain |",
        "| --- | --- | --- |",
        *[f"| {name} | {s:.2f} | {s / plain:.2f} |" for name, s in extraction.items()],
        "",
    ]


def startup_lines(plan_s: float) -> list[str]:
    return [
        "## Start-up",
        "",
        f"`snakemake -n` over 1,000 videos (4,001 jobs planned, no model loaded): {plan_s:.1f} s.",
        "",
    ]


def memory_lines(syn: Synthetic) -> list[str]:
    """Each step's seconds and peak memory, as the step measured them itself."""
    qa = syn.flow.qa

    def gpu(step: str) -> str:
        return f"{qa.gpu_peak_mb[step]:.0f} MB" if step in qa.gpu_peak_mb else "-"

    return [
        f"## Peak memory of each step (workflow, defaults, {syn.minutes:g}-minute video)",
        "",
        "Each step measures its own peak and records it; the figures are `peak_memory_mb` and",
        "`gpu_peak_mb` of `results/videos/{video}/qa.json`. Host memory is the kernel's peak",
        "resident size of the step's own process (`VmHWM`, which, unlike `ru_maxrss`, does",
        "not carry Snakemake's peak across `exec`), taken at the step's end, or of its largest",
        "child (ffmpeg, sampled while it runs), whichever is larger; GPU memory is sampled with",
        "NVML where a step ran on CUDA (none here). Snakemake's `benchmark:` files sample",
        "memory now and then and miss short steps, so they are not used.",
        "",
        "| step | seconds | peak memory | GPU peak |",
        "| --- | --- | --- | --- |",
        *[
            f"| {step} | {qa.seconds.get(step, 0.0):.1f} | {mb:.0f} MB | {gpu(step)} |"
            for step, mb in qa.peak_memory_mb.items()
        ],
        "",
    ]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the speech video")
    parser.add_argument("--sentences", type=int, default=16, help="sentences to translate")
    parser.add_argument("--beam", type=int, default=4, help="beams for both backends")
    parser.add_argument("--max-length", type=int, default=64, help="token bound for both")
    parser.add_argument(
        "--extract-minutes", type=float, default=30.0, help="length of the 5.1 track"
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.md"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(args.worker)
        return
    threads = len(os.sched_getaffinity(0))
    started = datetime.now(UTC)
    command = f"make bench ARGS='{' '.join(sys.argv[1:])}'" if sys.argv[1:] else "make bench"
    whisper, nllb = assets.whisper_base(), assets.tiny_nllb_model()
    syn = measure_synthetic(args.minutes, whisper, nllb, threads)
    real = measure_real(whisper, nllb, threads)
    plan_s = dry_run(1000)
    say(f"dry run over 1000 videos {plan_s:.1f} s")
    sentences = (corpus.SENTENCES * 2)[: args.sentences]
    speed = measure_translation(sentences, threads, args.beam, args.max_length)
    extraction = measure_extraction(args.extract_minutes)
    say(f"audio extraction {extraction}")
    lines = [
        *header_lines(command, started, syn, threads),
        *synthetic_lines(syn),
        *real_lines(real),
        *translation_lines(speed, len(sentences), args.beam, args.max_length),
        *extraction_lines(extraction, args.extract_minutes),
        *startup_lines(plan_s),
        *memory_lines(syn),
    ]
    out = Path(args.out)
    out.write_text("\n".join([*lines, *kept_by_hand(out)]), encoding="utf-8")
    print("\n".join(lines))


#: The heading of the section of bench/results.md that a run keeps as it is.
KEPT_HEADING = "## Figures quoted from earlier runs"


def kept_by_hand(results: Path) -> list[str]:
    """The figures of earlier runs that the docs and the code cite, kept from ``results``."""
    text = results.read_text(encoding="utf-8") if results.exists() else ""
    at = text.find(KEPT_HEADING)
    return ["", *text[at:].rstrip("\n").split("\n"), ""] if at >= 0 else []


if __name__ == "__main__":
    main()
