# The four steps. Each runs as its own process, so a model's memory (GPU or
# host) goes back to the system when its job ends.


rule extract_audio:
    input:
        video=video_path,
    output:
        wav=audio_output(),
    log:
        "results/logs/extract_audio/{video}.log",
    conda:
        "../envs/extract_audio.yaml"
    script:
        "../scripts/extract_audio.py"


rule transcribe:
    input:
        audio="results/videos/{video}/audio.wav",
        # Not read: it makes a replaced video redo its transcript even after
        # the temporary audio is gone (Snakemake skips a missing temp file).
        video=video_path,
    output:
        transcript="results/videos/{video}/transcript.json",
    log:
        "results/logs/transcribe/{video}.log",
    benchmark:
        "results/benchmarks/transcribe/{video}.tsv"
    conda:
        "../envs/transcribe.yaml"
    threads: config["transcribe"]["threads"]
    resources:
        gpu=1,
    params:
        model=config["transcribe"]["model"],
        language=config["source_language"],
        beam_size=config["transcribe"]["beam_size"],
        vad=config["transcribe"]["vad"],
        condition_on_previous_text=config["transcribe"]["condition_on_previous_text"],
        device=config["transcribe"]["device"],
        compute_type=config["transcribe"]["compute_type"],
    script:
        "../scripts/transcribe.py"


rule translate:
    input:
        transcript="results/videos/{video}/transcript.json",
    output:
        translation="results/videos/{video}/translation.{lang}.json",
    log:
        "results/logs/translate/{video}.{lang}.log",
    benchmark:
        "results/benchmarks/translate/{video}.{lang}.tsv"
    conda:
        "../envs/translate.yaml"
    threads: config["translate"]["threads"]
    resources:
        gpu=1,
    params:
        model=config["translate"]["model"],
        source=config["source_language"],
        batch_size=config["translate"]["batch_size"],
        beam_size=config["translate"]["beam_size"],
        max_length=config["translate"]["max_length"],
        device=config["translate"]["device"],
    script:
        "../scripts/translate.py"


rule make_srt:
    input:
        unpack(srt_inputs),
    output:
        srt="results/subtitles/{video}.{label}.srt",
    log:
        "results/logs/make_srt/{video}.{label}.log",
    conda:
        "../envs/make_srt.yaml"
    script:
        "../scripts/make_srt.py"
