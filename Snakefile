"""autokr: a folder of videos -> subtitles in another language.

extract_audio (ffmpeg) -> transcribe (faster-whisper) -> translate (NLLB-200) -> make_srt
"""

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/models.smk"
include: "rules/steps.smk"
include: "rules/report.smk"
include: "rules/publish.smk"


report: "report/workflow.rst"


rule all:
    default_target: True
    input:
        subtitle_targets,
        report_inputs,
        publish_targets,


# A run's start and end: one call each into autokr.batch.run_hooks, which logs
# what it does to results/logs/run/.
onstart:
    start_run(
        Path.cwd(),
        PLAN,
        videos_with_work(),
        MODEL_CHOICES,
        cluster_caps(),
        server_problem,
    )


onsuccess:
    end_run(PLAN, config, SOURCE_LABEL, subtitle_files)


onerror:
    end_run(PLAN, config, SOURCE_LABEL, subtitle_files)
