# The four steps. Each runs as its own process, so a model's memory (GPU or
# host) goes back to the system when its job ends.


# On a cluster the light steps run where Snakemake runs; only the model steps
# are submitted to the scheduler.
localrules:
    extract_audio,
    read_subtitles,
    make_srt,


# A video whose own subtitles transcribe.source lets autokr read gets its
# transcript from them (no Whisper model, no GPU); read_subtitles' input
# functions turn every other video over to transcribe.
ruleorder: read_subtitles > transcribe


rule extract_audio:
    input:
        video=video_path,
    output:
        wav=audio_output(),
        media="results/videos/{video}/media.json",
    log:
        "results/logs/extract_audio/{video}.log",
    benchmark:
        "results/benchmarks/extract_audio/{video}.tsv"
    conda:
        "../envs/extract_audio.yaml"
    # The step reads audio_track and audio_channels from the config; the
    # param says when they changed (see autokr.core.config.audio_param).
    params:
        audio=audio_param(config),
        language=config["source_language"],
    script:
        "../scripts/extract_audio.py"


rule transcribe:
    input:
        audio="results/videos/{video}/audio.wav",
        # Not read: it makes a replaced video redo its transcript even after
        # the temporary audio is gone (Snakemake skips a missing temp file).
        video=video_path,
        # ancient: a model change reruns through the params; touching the
        # models folder reruns nothing.
        model=ancient(model_manifest("whisper")),
    output:
        transcript="results/videos/{video}/transcript.json",
    log:
        "results/logs/transcribe/{video}.log",
    benchmark:
        "results/benchmarks/transcribe/{video}.tsv"
    retries: ATTEMPTS - 1
    conda:
        "../envs/transcribe.yaml"
    threads: config["transcribe"]["threads"]
    resources:
        gpu=gpu_units("transcribe"),
        model_jobs=1,
        attempt=attempt_number,
    # Only settings that change the transcript are params (so they decide
    # reruns); the step reads the rest, such as the device, from the config.
    params:
        settings=changed_settings("transcribe"),
        language=config["source_language"],
    script:
        "../scripts/transcribe.py"


rule read_subtitles:
    input:
        video=video_path,
        subtitles=subtitles_to_read,
    output:
        transcript="results/videos/{video}/transcript.json",
    log:
        "results/logs/read_subtitles/{video}.log",
    benchmark:
        "results/benchmarks/read_subtitles/{video}.tsv"
    conda:
        "../envs/read_subtitles.yaml"
    params:
        language=config["source_language"],
        track=subtitle_track,
    script:
        "../scripts/read_subtitles.py"


rule translate:
    input:
        transcript="results/videos/{video}/transcript.json",
        # ancient, as for transcribe; one manifest whatever the device.
        model=ancient(translation_model()),
    output:
        translation="results/videos/{video}/translation.{lang}.json",
    log:
        "results/logs/translate/{video}.{lang}.log",
    benchmark:
        "results/benchmarks/translate/{video}.{lang}.tsv"
    retries: ATTEMPTS - 1
    conda:
        "../envs/translate.yaml"
    threads: config["translate"]["threads"]
    resources:
        gpu=gpu_units("translate"),
        model_jobs=1,
        attempt=attempt_number,
    params:
        settings=changed_settings("translate"),
        source=config["source_language"],
    script:
        "../scripts/translate.py"


rule make_srt:
    input:
        media="results/videos/{video}/media.json",
        transcript="results/videos/{video}/transcript.json",
        translations=translation_inputs,
    output:
        *SUBTITLES.files.values(),
        *SUBTITLES.bilingual.values(),
        qa="results/videos/{video}/qa.json",
    log:
        "results/logs/make_srt/{video}.log",
    benchmark:
        "results/benchmarks/make_srt/{video}.tsv"
    conda:
        "../envs/make_srt.yaml"
    params:
        prefix=subtitle_prefix,
        targets=TARGETS,
        source_label=SOURCE_LABEL,
        formats=config["subtitles"]["formats"],
        bilingual=config["subtitles"]["bilingual"],
        layout=config["subtitles"]["layout"],
        sentences=changed_settings("translate").get("sentences", {}),
    script:
        "../scripts/make_srt.py"
