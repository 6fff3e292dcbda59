# The report: `snakemake --report report.html` packs the batch page (the table
# of videos, the summary, the config) and each video's timeline plot, which the
# end of every run writes (autokr/reports/html_report.py says why no job makes them).
# Captions are in report/.

# Resolved here, where the workflow knows this file's folder: a caption given
# to report() inside an input function must already be a workflow path.
CAPTIONS = {
    name: workflow.current_basedir.join(f"../report/{name}.rst")
    for name in ("batch", "summary", "timeline")
}


def report_inputs(wildcards):
    """The report's files that exist, each marked for the report; rule all takes them.

    Only those that exist: a file marked for the report that is missing stops
    `--report`, and a video that failed has no plot. None is made by a job, so
    listing them asks a run for nothing.
    """
    marked = [
        (Path(results.REPORT_PAGE), "Batch", None, "batch"),
        (Path(results.SUMMARY), "Batch", None, "summary"),
    ]
    marked += [
        (
            results.result_path(results.TIMELINE, video=video),
            "Timelines",
            {"video": video},
            "timeline",
        )
        for video in scan().videos
    ]
    return [
        for_report(path, category, labels, CAPTIONS[caption])
        for path, category, labels, caption in marked
        if path.exists()
    ]


def for_report(path, category, labels, caption):
    """``path`` marked for the report, in ``category``, with its labels and caption."""
    return report(str(path), caption=caption, category=category, labels=labels)
