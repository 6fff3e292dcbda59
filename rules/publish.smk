# Publishing: each video's subtitles copied beside it, named the way players
# look for them, and/or muxed into a copy of the video, when config `publish`
# asks. results/published.json lists every file autokr wrote there. Removing
# them (autokr/publishing/take_back.py) happens only in a run, which holds the
# lock: the `unpublish` job, and the end of a run (autokr/batch/run_hooks.py);
# never in an input function, which runs before the lock is taken.


# Light: file copies and an ffmpeg stream copy, where the videos are.
localrules:
    publish,
    unpublish,


# The muxed copy is no output: Snakemake would delete it before the job runs
# again, even when someone has changed it since (autokr/publishing/mux.py replaces
# only its own, unchanged).
rule publish:
    input:
        video=video_path,
        subtitles=published_subtitles,
        # For the language Whisper heard, when the source is `auto`.
        qa=results.QA_REPORT,
    output:
        record=results.PUBLISH_RECORD,
    log:
        results.log("publish", "video"),
    conda:
        "../envs/publish.yaml"
    params:
        labels=PUBLISHED_LABELS,
        targets=TARGETS,
        kinds=config["publish"],
        muxed=muxed_path,
        manifest=results.PUBLISHED,
    script:
        "../scripts/publish.py"


# Taking published files back, {what}: `gone` (copies beside videos that are
# gone: every run asks for it while there are any, see publish_targets), or a
# kind, or `all` (`make unpublish KIND=...`). {run} names the run, so each
# removal is a new job and its record stays for the summary.
rule unpublish:
    output:
        record=results.UNPUBLISH_RECORD,
    log:
        results.log("unpublish", "run", "what"),
    wildcard_constraints:
        run="[0-9-]+",
        what="gone|next_to_video|mux|all",
    conda:
        "../envs/publish.yaml"
    params:
        listed=config["publish"],
        manifest=results.PUBLISHED,
    script:
        "../scripts/unpublish.py"
