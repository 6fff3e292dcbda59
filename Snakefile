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


onstart:
    if not record_owner(Path.cwd()):
        sys.exit(
            "autokr: another autokr run is working in this folder (make run, make "
            "watch or make unpublish); run again once it has finished"
        )
    check_cluster_resources()
    record_run_videos()
    model_choice.record()


onsuccess:
    report_batch()
    write_report()


onerror:
    report_batch()
    write_report()
