# Publishing: each video's subtitles copied beside it, named the way players
# look for them, and/or muxed into a copy of the video, when config `publish`
# asks. results/published.json lists every file autokr wrote there; the end of
# a run (report_batch) removes those whose video is gone.


# Light: file copies and an ffmpeg stream copy, where the videos are.
localrules:
    publish,


rule publish:
    input:
        video=video_path,
        subtitles=published_subtitles,
        # For the language Whisper heard, when the source is `auto`.
        qa="results/videos/{video}/qa.json",
    output:
        *MUXED,
        record="results/videos/{video}/publish.json",
    log:
        "results/logs/publish/{video}.log",
    conda:
        "../envs/publish.yaml"
    params:
        labels=PUBLISHED_LABELS,
        targets=TARGETS,
        kinds=config["publish"],
        manifest=PUBLISH_MANIFEST,
    script:
        "../scripts/publish.py"
