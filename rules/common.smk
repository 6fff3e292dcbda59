# Shared set-up and input functions; the rules themselves are in steps.smk.
# Every path under results/ is autokr.core.results_layout's (`results` in the
# rules): a pattern such as results.TRANSCRIPT, or results.log(rule, wildcards...).
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from autokr.batch.discovery import ScanRules
from autokr.batch.run_hooks import end_run, start_run
from autokr.batch.run_plan import RunPlan
from autokr.core import results_layout as results
from autokr.core.config import (
    audio_param,
    glossary_path,
    nllb_backend,
    output_settings,
    run_with,
    source_label,
    target_codes,
    validate_config,
)
from autokr.core.devices import ATTEMPTS
from autokr.core.errors import ConfigError
from autokr.models import choice as model_choice
from autokr.models.store import (
    converted_path,
    forget_gone,
    manifest_path,
    slug,
    weights_needed,
)
from autokr.publishing.take_back import pending_gone
from autokr.text.subtitles import subtitle_paths
from autokr.translation.glossary import Glossary, read_glossary
from autokr.translation.llm_backend import LLM_BACKENDS, check_server
from autokr.translation.prompt import PROMPT_VERSION

try:
    config.update(validate_config(config))
except ConfigError as exc:
    sys.exit(f"autokr: config: {exc}")

# translate.glossary: each target language's, read (and checked) once, before
# any job; a translate job reads its own again. Its terms, not its path,
# decide reruns (translate_settings).
try:
    GLOSSARIES = {
        code: (
            read_glossary(glossary_path(config, code))
            if glossary_path(config, code)
            else Glossary()
        )
        for code in target_codes(config)
    }
except ConfigError as exc:
    sys.exit(f"autokr: {exc}")

# model: auto becomes a model's name here, once per run: the main process
# chooses (the run's start records it); a cluster job reads the record.
MODEL_CHOICES = model_choice.resolve(config, decide=workflow.is_main_process)
for line in MODEL_CHOICES.lines:
    print(line, file=sys.stderr)

# ~ is the user's home, as in a shell.
MODELS = os.path.expanduser(config["models_dir"])
RUN_STARTED = time.time()
TARGETS = target_codes(config)
SOURCE_LABEL = source_label(config)
SUBTITLES = subtitle_paths(
    results.SUBTITLE_PREFIX,
    SOURCE_LABEL,
    TARGETS,
    config["subtitles"]["formats"],
    config["subtitles"]["bilingual"],
)
# Publishing (rules/publish.smk): what it lists. Its manifest, results.PUBLISHED,
# is a param, a string as every pattern is (Snakemake compares only plain values).
PUBLISHED_LABELS = [*TARGETS, SOURCE_LABEL]
# Names this run's removal job (rule unpublish), so each run that needs one has it.
UNPUBLISH_RUN = time.strftime("%Y%m%d-%H%M%S", time.localtime(RUN_STARTED))


wildcard_constraints:
    kind="whisper|nllb|llm",
    slug="[^/]+",
    lang="|".join(re.escape(code) for code in TARGETS),


def scan_rules():
    """What the scan leaves out: the project's own folders (a videos folder that holds
    the project), files the watch says are still being written, and names too long
    for the subtitle files made from them."""
    templates = [*SUBTITLES.files.values(), *SUBTITLES.bilingual.values()]
    suffixes = [Path(path).name.removeprefix("{video}") for path in templates]
    return ScanRules.for_project(Path.cwd(), config["models_dir"], suffixes)


# What this run works on: its videos and their text sources, each looked at once
# when first needed (never while the Snakefile is read). The input functions, and
# the run's start and end, all ask this one object.
PLAN = RunPlan(
    config,
    scan_rules(),
    TARGETS,
    main_process=workflow.is_main_process,
    dry_run=lambda: workflow.dryrun,
    started=RUN_STARTED,
)


def scan():
    """The run's videos (see autokr.batch.run_plan)."""
    return PLAN.scan()


def publish_targets(wildcards):
    """What the publish rule makes for every video, when config publish lists anything;
    and, while copies beside videos that are gone wait, the job that takes them back.

    Only reads: this runs while Snakemake plans, before it takes its lock, so
    nothing may be removed here (rule unpublish does it, in the run).
    """
    files = []
    if config["publish"]:
        files = [results.PUBLISH_RECORD.format(video=video) for video in scan().videos]
    if pending_gone(results.PUBLISHED):
        files.append(results.UNPUBLISH_RECORD.format(run=UNPUBLISH_RUN, what="gone"))
    return files


def muxed_path(wildcards):
    """Where the publish rule writes a video's muxed copy ("" when config publish has no mux)."""
    if "mux" not in config["publish"]:
        return ""
    return results.MUXED.format(video=wildcards.video)


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
    qa = [results.QA_REPORT]
    return [path.format(video=video) for video in scan().videos for path in files + qa]


def subtitle_files(video):
    """The subtitle files of one video."""
    paths = [*SUBTITLES.files.values(), *SUBTITLES.bilingual.values()]
    return [Path(path.format(video=video)) for path in paths]


def video_path(wildcards):
    """The input file of a video id."""
    return str(PLAN.video(wildcards.video))


def text_source(wildcards):
    """Where a video's transcript text comes from: its own subtitles, or speech."""
    return PLAN.text_source(wildcards.video)


#: read_subtitles' input for a video whose text comes from speech: a file that no
#: rule makes, so Snakemake has transcribe make the transcript instead (ruleorder).
NO_SUBTITLES = f"{results.VIDEO_FOLDER}/no subtitles to read"


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
    return results.AUDIO if config["keep_audio"] else temp(results.AUDIO)


def changed_settings(step):
    """A step's output-shaping settings that differ from their defaults: its params."""
    return output_settings(config, step)


def translate_settings(wildcards):
    """translate's settings param for one target language: its glossary there as the
    SHA-256 of the terms, so a change of a term reruns translation and moving the
    file or editing a comment does not (and a glossary of no terms is none)."""
    settings = output_settings(config, "translate")
    settings.pop("glossary", None)
    if config["translate"]["backend"] in LLM_BACKENDS:  # what the model is asked
        settings["prompt_version"] = PROMPT_VERSION
    glossary = GLOSSARIES[wildcards.lang]
    return {**settings, "glossary": glossary.digest} if glossary.terms else settings


def kind_model(kind):
    """The configured model of ``kind``: whisper, nllb or llm (translate's instruction model)."""
    if kind == "llm":
        return config["translate"]["llm"]["model"]
    return config["transcribe" if kind == "whisper" else "translate"]["model"]


def model_manifest(kind):
    """The manifest download_model writes for the configured model of ``kind``."""
    return manifest_path(MODELS, kind, kind_model(kind))


def translation_model():
    """What a translate job loads: the CTranslate2 conversions of the NLLB model (one
    manifest, whatever the device), or the checkpoint for the transformers backend.
    Beside an instruction model, NLLB is CTranslate2's (the fallback)."""
    settings = config["translate"]
    if nllb_backend(settings) == "ctranslate2":
        return converted_path(MODELS, settings["model"])
    return model_manifest("nllb")


def instruction_model():
    """backend llm: the instruction model's manifest, which translate jobs load too."""
    return [model_manifest("llm")] if config["translate"]["backend"] == "llm" else []


def conversions_needed():
    """The weight types convert_model stores: those the configured device may load."""
    settings = config["translate"]
    return weights_needed(
        nllb_backend(settings), settings["device"], settings["compute_type"]
    )


def model_manifests():
    """Every manifest the model jobs take as input (what `make models` prepares)."""
    return [model_manifest("whisper"), translation_model(), *instruction_model()]


# A manifest whose model folder was deleted goes, so the model is fetched (or
# converted) again; in the main process only, before the job graph is built.
# The one write while the Snakefile is read, and on purpose: Snakemake plans by
# which files exist, so only a manifest gone by then has its model fetched in
# this run. It removes nothing but autokr's record of a folder already gone.
if workflow.is_main_process:
    for line in forget_gone([*model_manifests(), model_manifest("nllb")]):
        print(f"autokr: {line}", file=sys.stderr)


def configured_model(wildcards):
    """The configured model of a download_model job's kind (the folder must be its own)."""
    model = kind_model(wildcards.kind)
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
    if step == "translate" and config["translate"]["backend"] == "openai":
        return 0  # the server's card does the work
    return 0 if config[step]["device"] == "cpu" else 1


def translate_resources():
    """model_jobs and llm_server units of a translate job: one talking to a server
    loads no model of its own, and takes an llm_server unit (translate.llm.jobs)."""
    if config["translate"]["backend"] == "openai":
        return {"model_jobs": 0, "llm_server": 1}
    return {"model_jobs": 1, "llm_server": 0}


# translate.llm.jobs caps the jobs that talk to the server at once, unless
# --resources llm_server=N says otherwise.
if "llm_server" not in workflow.global_resources:
    workflow.global_resources["llm_server"] = config["translate"]["llm"]["jobs"]


def server_problem():
    """backend openai: why the server cannot be used (one line), or None; asked once
    at the run's start, and only when translate jobs are to run."""
    if config["translate"]["backend"] != "openai":
        return None
    jobs = workflow.dag.needrun_jobs() if workflow.dag else []
    if not any(job.rule.name == "translate" for job in jobs):
        return None
    return check_server(config["translate"]["llm"])


def attempt_number(wildcards, attempt):
    """Snakemake's try count, handed to a step as a resource so that it is no param."""
    return attempt


def translation_inputs(wildcards):
    """The translations make_srt lays out, one per target language, in config order."""
    return [
        results.TRANSLATION.format(video=wildcards.video, lang=code) for code in TARGETS
    ]


def subtitle_prefix(wildcards):
    """Path and name of a video's subtitle files, without the language and extension."""
    return results.SUBTITLE_PREFIX.format(video=wildcards.video)


def videos_with_work():
    """The videos this run has jobs for (for the progress display)."""
    jobs = workflow.dag.needrun_jobs() if workflow.dag else []
    return sorted({job.wildcards_dict.get("video") for job in jobs} - {None})


def cluster_caps():
    """The one-machine resources profiles/default gives a run that is on a cluster.

    Snakemake loads profiles/default (--resources gpu=1 model_jobs=1) beside
    --profile profiles/slurm; on a cluster those caps hold for the whole
    cluster. Known only once the executor is set, so asked at the run's start.
    """
    if not workflow.non_local_exec:
        return []
    return [name for name in ("gpu", "model_jobs") if name in workflow.global_resources]
