# The four steps. Each runs as its own process, so a model's memory (GPU or
# host) goes back to the system when its job ends.
#
# What a step runs with is its params, and only its params. The plain values
# among them (strings, numbers, lists, dicts) decide reruns: Snakemake compares
# them with the last run's. `run_with` holds the config the job runs with, as a
# record, which Snakemake never compares: a setting that only it holds (the
# device, threads, batch sizes) changes how a job runs, never what it makes, and
# reruns nothing.


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
        media=results.MEDIA,
    log:
        results.log("extract_audio", "video"),
    benchmark:
        results.benchmark("extract_audio", "video")
    conda:
        "../envs/extract_audio.yaml"
    # `audio` is audio_track and audio_channels as the param they have always
    # been (see autokr.core.config.audio_param), so an update reruns nothing.
    params:
        audio=audio_param(config),
        language=config["source_language"],
        run_with=run_with(config, "audio_track", "audio_channels"),
    script:
        "../scripts/extract_audio.py"


rule transcribe:
    input:
        audio=results.AUDIO,
        # It makes a replaced video redo its transcript even after the
        # temporary audio is gone (Snakemake skips a missing temp file); the
        # step reads only its own subtitles passed over, for the record.
        video=video_path,
        # ancient: a model change reruns through the params; touching the
        # models folder reruns nothing.
        model=ancient(model_manifest("whisper")),
    output:
        transcript=results.TRANSCRIPT,
    log:
        results.log("transcribe", "video"),
    benchmark:
        results.benchmark("transcribe", "video")
    retries: ATTEMPTS - 1
    conda:
        "../envs/transcribe.yaml"
    threads: config["transcribe"]["threads"]
    resources:
        gpu=gpu_units("transcribe"),
        model_jobs=1,
        attempt=attempt_number,
    # The plain params decide reruns: `settings` holds the transcript-shaping
    # settings not at their defaults (core.config.output_settings: never how a
    # job runs, RUN_ONLY, nor what picks the rule, RULE_CHOICE). `run_with`
    # holds all the job runs with, and decides nothing.
    params:
        settings=changed_settings("transcribe"),
        language=config["source_language"],
        run_with=run_with(
            config, "transcribe", "source_language", "gpus", "model_choice"
        ),
    script:
        "../scripts/transcribe.py"


rule read_subtitles:
    input:
        video=video_path,
        subtitles=subtitles_to_read,
    output:
        transcript=results.TRANSCRIPT,
    log:
        results.log("read_subtitles", "video"),
    benchmark:
        results.benchmark("read_subtitles", "video")
    conda:
        "../envs/read_subtitles.yaml"
    params:
        language=config["source_language"],
        track=subtitle_track,
        run_with=run_with(config, "transcribe"),
    script:
        "../scripts/read_subtitles.py"


rule translate:
    input:
        transcript=results.TRANSCRIPT,
        # ancient, as for transcribe; one manifest whatever the device.
        model=ancient(translation_model()),
        llm=ancient(instruction_model()),
    output:
        translation=results.TRANSLATION,
    log:
        results.log("translate", "video", "lang"),
    benchmark:
        results.benchmark("translate", "video", "lang")
    retries: ATTEMPTS - 1
    conda:
        "../envs/translate.yaml"
    threads: config["translate"]["threads"]
    resources:
        **translate_resources(),
        gpu=gpu_units("translate"),
        attempt=attempt_number,
    # As for transcribe: `settings` (output_settings; the glossary as the
    # SHA-256 of its terms) decides reruns, `run_with` holds all the job runs with.
    params:
        settings=translate_settings,
        source=config["source_language"],
        run_with=run_with(
            config, "translate", "source_language", "gpus", "model_choice"
        ),
    script:
        "../scripts/translate.py"


rule make_srt:
    input:
        media=results.MEDIA,
        transcript=results.TRANSCRIPT,
        translations=translation_inputs,
    output:
        *SUBTITLES.files.values(),
        *SUBTITLES.bilingual.values(),
        qa=results.QA_REPORT,
    log:
        results.log("make_srt", "video"),
    benchmark:
        results.benchmark("make_srt", "video")
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
        # translate.sentences, whole: where the sentences the translations
        # were made of end, to lay the cues out along them.
        run_with=run_with(config, "translate"),
    script:
        "../scripts/make_srt.py"
