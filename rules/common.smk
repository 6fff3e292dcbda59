# Shared set-up and input functions; the rules themselves are in steps.smk.
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from autokr import model_choice
from autokr.config import output_settings, source_label, target_codes, validate_config
from autokr.devices import ATTEMPTS
from autokr.discovery import Scan, scan_videos
from autokr.errors import ConfigError
from autokr.run_lock import record_owner
from autokr.model_store import converted_path, manifest_path, slug, weights_needed
from autokr.subtitles import subtitle_paths
from autokr.summary import write_summary

try:
    config.update(validate_config(config))
except ConfigError as exc:
    sys.exit(f"autokr: config: {exc}")

# model: auto becomes a model's name here, once per run: the main process
# chooses and records it; a cluster job reads the record.
for line in model_choice.resolve(config, decide=workflow.is_main_process):
    print(line, file=sys.stderr)

# ~ is the user's home, as in a shell.
MODELS = os.path.expanduser(config["models_dir"])
RUN_STARTED = time.time()
TARGETS = target_codes(config)
SOURCE_LABEL = source_label(config)
SUBTITLES = subtitle_paths(
    "results/subtitles/{video}",
    SOURCE_LABEL,
    TARGETS,
    config["subtitles"]["formats"],
    config["subtitles"]["bilingual"],
)


wildcard_constraints:
    kind="whisper|nllb",
    slug="[^/]+",
    lang="|".join(re.escape(code) for code in TARGETS),


_SCAN = []


def scan():
    """The videos folder, scanned once, when a run first needs it.

    Not while the Snakefile is read, so --lint, --unlock and --list-rules work
    without the folder (an unmounted drive, a fresh clone). A run stops with
    one line when it is missing or empty; a dry run says so and plans nothing.
    """
    if not _SCAN:
        try:
            found = scan_videos(config["videos"])
        except ConfigError as exc:
            if not workflow.dryrun:
                sys.exit(f"autokr: {exc}")
            print(f"autokr: {exc}", file=sys.stderr)
            found = Scan({}, [])
        for skipped in found.skipped:
            print(f"autokr: {skipped.path}: skipped: {skipped.reason}", file=sys.stderr)
        _SCAN.append(found)
    return _SCAN[0]


def subtitle_targets(wildcards):
    """Every subtitle file and QA report the run should produce."""
    files = [*SUBTITLES.files.values(), *SUBTITLES.bilingual.values()]
    qa = ["results/videos/{video}/qa.json"]
    return [path.format(video=video) for video in scan().videos for path in files + qa]


def subtitle_files(video):
    """The subtitle files of one video."""
    paths = [*SUBTITLES.files.values(), *SUBTITLES.bilingual.values()]
    return [Path(path.format(video=video)) for path in paths]


def video_path(wildcards):
    """The input file of a video id."""
    try:
        return str(scan().videos[wildcards.video])
    except KeyError:
        raise ValueError(
            f"autokr: no input for video {wildcards.video!r} in {config['videos']}"
        ) from None


def audio_output():
    """The extracted WAV: deleted once transcribed unless keep_audio is set."""
    wav = "results/videos/{video}/audio.wav"
    return wav if config["keep_audio"] else temp(wav)


def changed_settings(step):
    """A step's output-shaping settings that differ from their defaults: its params."""
    return output_settings(config, step)


def model_manifest(kind):
    """The manifest download_model writes for the configured model of ``kind``."""
    step = "transcribe" if kind == "whisper" else "translate"
    return manifest_path(MODELS, kind, config[step]["model"])


def translation_model():
    """What a translate job loads: the CTranslate2 conversions of the model (one
    manifest, whatever the device), or the checkpoint for the transformers backend."""
    settings = config["translate"]
    if settings["backend"] == "ctranslate2":
        return converted_path(MODELS, settings["model"])
    return model_manifest("nllb")


def conversions_needed():
    """The weight types convert_model stores: those the configured device may load."""
    settings = config["translate"]
    return weights_needed(
        settings["backend"], settings["device"], settings["compute_type"]
    )


def model_manifests():
    """Every manifest the model jobs take as input (what `make models` prepares)."""
    return [model_manifest("whisper"), translation_model()]


def configured_model(wildcards):
    """The configured model of a download_model job's kind (the folder must be its own)."""
    model = config["transcribe" if wildcards.kind == "whisper" else "translate"][
        "model"
    ]
    if slug(model) != wildcards.slug:
        raise ConfigError(
            f"{MODELS}/{wildcards.kind}/{wildcards.slug}: not the configured "
            f"{wildcards.kind} model ({model}); autokr fetches only the configured one"
        )
    return model


def gpu_units(step):
    """GPUs a job of ``step`` asks for: none when configured for the CPU.

    On a cluster the scheduler gets this as the job's GPU request; on one
    machine `--resources gpu=N` lets N such jobs run at once, one card each.
    """
    return 0 if config[step]["device"] == "cpu" else 1


def attempt_number(wildcards, attempt):
    """Snakemake's try count, handed to a step as a resource so that it is no param."""
    return attempt


def translation_inputs(wildcards):
    """The translations make_srt lays out, one per target language, in config order."""
    return [
        f"results/videos/{wildcards.video}/translation.{code}.json" for code in TARGETS
    ]


def subtitle_prefix(wildcards):
    """Path and name of a video's subtitle files, without the language and extension."""
    return f"results/subtitles/{wildcards.video}"


def check_cluster_resources():
    """Stop a cluster run that profiles/default caps to one model job at a time.

    Snakemake loads profiles/default (--resources gpu=1 model_jobs=1) beside
    --profile profiles/slurm; on a cluster those caps hold for the whole
    cluster. Known only once the executor is set, so it is checked at onstart.
    """
    capped = [
        name for name in ("gpu", "model_jobs") if name in workflow.global_resources
    ]
    if workflow.non_local_exec and capped:
        sys.exit(
            f"autokr: --resources {' '.join(capped)} would cap the whole cluster to "
            "one model job at a time; add --workflow-profile none (profiles/default "
            "sets them for one machine; see the README, Running on a cluster)"
        )


def report_batch():
    """Write and print results/summary.md: what finished, what was skipped, what failed.

    Not for a run that never needed the videos (`make models`, say).
    """
    if not _SCAN:
        return
    found = scan()
    text = write_summary(
        Path("results"),
        found.videos,
        TARGETS,
        found.skipped,
        RUN_STARTED,
        subtitles=subtitle_files,
    )
    print(text, file=sys.stderr)
