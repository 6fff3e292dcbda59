"""autokr: a folder of videos -> subtitles in another language.

extract_audio (ffmpeg) -> transcribe (faster-whisper) -> translate (NLLB-200) -> make_srt
"""

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/models.smk"
include: "rules/steps.smk"


rule all:
    default_target: True
    input:
        subtitle_targets,


onstart:
    record_owner(Path.cwd())
    check_cluster_resources()


onsuccess:
    report_batch()


onerror:
    report_batch()
