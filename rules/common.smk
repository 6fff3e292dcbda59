# Shared set-up and input functions; the rules themselves are in steps.smk.
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from autokr.models import choice as model_choice
from autokr.batch import progress
from autokr.core.config import (
    audio_param,
    output_settings,
    run_with,
    source_label,
    target_codes,
    validate_config,
)
from autokr.core.devices import ATTEMPTS
from autokr.batch.discovery import Scan, ScanRules, scan_videos
from autokr.batch.existing_subtitles import skip_subtitled
from autokr.core.errors import ConfigError, RecordError
from autokr.core.languages import subtitle_tags
from autokr.publishing.copies import published_by_autokr
from autokr.batch.run_lock import record_owner
from autokr.models.store import (
    converted_path,
    forget_gone,
    manifest_path,
    slug,
    weights_needed,
)
from autokr.text.subtitles import subtitle_paths
from autokr.batch.summary import write_summary
from autokr.text.text_source import choose_text, describe
from autokr.publishing.take_back import pending_gone, report_publishing

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
# Publishing (rules/publish.smk): what it lists, and what it writes.
PUBLISH_MANIFEST = "results/published.json"
PUBLISHED_LABELS = [*TARGETS, SOURCE_LABEL]
# Names this run's removal job (rule unpublish), so each run that needs one has it.
UNPUBLISH_RUN = time.strftime("%Y%m%d-%H%M%S", time.localtime(RUN_STARTED))


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
            found = skip_existing(
                scan_videos(config["videos"], scan_rules(), Path.cwd())
            )
        except (ConfigError, RecordError) as exc:
            if not workflow.dryrun:
                sys.exit(f"autokr: {exc}")
            print(f"autokr: {exc}", file=sys.stderr)
            found = Scan({}, [])
        for skipped in found.skipped:
            print(f"autokr: {skipped.path}: skipped: {skipped.reason}", file=sys.stderr)
        _SCAN.append(found)
    return _SCAN[0]


def scan_rules():
    """What the scan leaves out: the project's own folders (a videos folder that holds
    the project), files the watch says are still being written, and names too long
    for the subtitle files made from them."""
    templates = [*SUBTITLES.files.values(), *SUBTITLES.bilingual.values()]
    suffixes = [Path(path).name.removeprefix("{video}") for path in templates]
    return ScanRules.for_project(Path.cwd(), config["models_dir"], suffixes)


def skip_existing(found):
    """With skip_existing, the scan less the videos that have subtitles in every target
    language already, beside them or inside them (never counting autokr's own)."""
    # In the main process only: a cluster job's own Snakemake needs no scan of
    # the library (and a video subtitled meanwhile must not fail its job).
    if not config["skip_existing"] or not workflow.is_main_process:
        return found
    wanted = {code: subtitle_tags(code) for code in TARGETS}
    return skip_subtitled(found, wanted, published_by_autokr(PUBLISH_MANIFEST))


def publish_targets(wildcards):
    """What the publish rule makes for every video, when config publish lists anything;
    and, while copies beside videos that are gone wait, the job that takes them back.

    Only reads: this runs while Snakemake plans, before it takes its lock, so
    nothing may be removed here (rule unpublish does it, in the run).
    """
    files = []
    if config["publish"]:
        files = [f"results/videos/{video}/publish.json" for video in scan().videos]
    if pending_gone(PUBLISH_MANIFEST):
        files.append(f"results/unpublish/{UNPUBLISH_RUN}.gone.json")
    return files


def muxed_path(wildcards):
    """Where the publish rule writes a video's muxed copy ("" when config publish has no mux)."""
    if "mux" not in config["publish"]:
        return ""
    return f"results/muxed/{wildcards.video}.mkv"


def published_subtitles(wildcards):
    """The subtitle file a video publishes for each language, SRT where there is one."""
    fmt = "srt" if "srt" in config["subtitles"]["formats"] else "vtt"
    return [
        SUBTITLES.files[(label, fmt)].format(video=wildcards.video)
        for label in PUBLISHED_LABELS
    ]


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


_TEXT_SOURCES = {}
_PUBLISHED = []


def text_source(wildcards):
    """Where a video's transcript text comes from under transcribe.source: its own
    subtitles, or speech. Looked at once per run; the main process says, one line
    each, which subtitles it passed over and why."""
    video = wildcards.video
    if video not in _TEXT_SOURCES:
        if not _PUBLISHED:
            _PUBLISHED.append(published_by_autokr(PUBLISH_MANIFEST))
        found = choose_text(
            Path(video_path(wildcards)),
            config["source_language"],
            config["transcribe"]["source"],
            _PUBLISHED[0],
        )
        then = "transcribing its speech" if found.kind == "speech" else describe(found)
        for line in found.skipped if workflow.is_main_process else ():
            print(f"autokr: {line}; passed over ({then})", file=sys.stderr)
        _TEXT_SOURCES[video] = found
    return _TEXT_SOURCES[video]


#: read_subtitles' input for a video whose text comes from speech: a file that no
#: rule makes, so Snakemake has transcribe make the transcript instead (ruleorder).
NO_SUBTITLES = "results/videos/{video}/no subtitles to read"


def subtitles_to_read(wildcards):
    """The subtitle file beside the video that read_subtitles reads ([] for a track inside it).

    As an input, the file's changes rerun the transcript and what follows. Under
    transcribe.source: subtitles, read_subtitles runs even with nothing to read,
    and fails with the reason.
    """
    found = text_source(wildcards)
    if found.kind == "file":
        return found.path
    if found.kind == "track" or config["transcribe"]["source"] == "subtitles":
        return []
    return NO_SUBTITLES.format(video=wildcards.video)


def subtitle_track(wildcards):
    """The subtitle track inside the video that read_subtitles reads, or None."""
    return text_source(wildcards).track


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


# A manifest whose model folder was deleted goes, so the model is fetched (or
# converted) again; in the main process only, before the job graph is built.
if workflow.is_main_process:
    for line in forget_gone([*model_manifests(), model_manifest("nllb")]):
        print(f"autokr: {line}", file=sys.stderr)


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


def record_run_videos():
    """Tell the progress display which videos this run has work for (autokr.batch.progress)."""
    jobs = workflow.dag.needrun_jobs() if workflow.dag else []
    videos = {job.wildcards_dict.get("video") for job in jobs}
    progress.write_run(sorted(video for video in videos if video))


def check_cluster_resources():
    """Stop a cluster run that profiles/default caps to one model job at a time.

    Snakemake loads profiles/default (--resources gpu=1 model_jobs=1) beside
    --profile profiles/slurm; on a cluster those caps hold for the whole
    cluster. Known only once the executor is set, so it is checked at onstart.
    """
    # At onstart, not while the Snakefile is read: only then is the executor
    # known. The lock is taken by then; exiting here releases it.
    capped = [
        name for name in ("gpu", "model_jobs") if name in workflow.global_resources
    ]
    if workflow.non_local_exec and capped:
        sys.exit(
            f"autokr: --resources {' '.join(capped)} would cap the whole cluster to "
            "one model job at a time; add --workflow-profile none (profiles/default "
            "sets them for one machine; see docs/cluster.md)"
        )


def report_batch():
    """Write and print results/summary.md: what finished, what was skipped, what failed.

    Not for a run that never needed the videos (`make models`, say).
    """
    if not _SCAN:
        return
    found = scan()
    replaced = []
    text = write_summary(
        Path("results"),
        found.videos,
        TARGETS,
        found.skipped,
        RUN_STARTED,
        subtitles=subtitle_files,
        outdated=replaced,
    )
    # The end of a run holds the lock: copies beside videos that are gone, and
    # beside those whose subtitles went with their replaced file, are taken back.
    text = report_publishing(Path("results"), text, found.videos, RUN_STARTED, replaced)
    print(text, file=sys.stderr)
