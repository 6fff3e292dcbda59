"""What ``snakemake --report`` packs: a page on the batch and each video's timeline plot.

Written at the end of every run, beside ``results/summary.md`` and from the
same facts, by the Snakefile's ``onsuccess``/``onerror`` handlers: no job can
make them, because Snakemake runs no job after one that failed, and the table
must list the videos that failed. A report includes only files that exist, so
these are there for it to pick up whatever became of the run.
"""

from __future__ import annotations

import html
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from autokr.core.errors import AutokrError
from autokr.core.record_files import write_text_atomic
from autokr.core.records import QA, read_qa, read_transcript
from autokr.core.results_layout import (
    QA_REPORT,
    REPORT_PAGE,
    SUBTITLE_PREFIX,
    SUMMARY,
    TIMELINE,
    TRANSCRIPT,
    result_path,
)
from autokr.reports.failures import Failure, sort_out
from autokr.reports.qa_figures import qa_figures
from autokr.reports.timeline import draw_timeline, read_timeline
from autokr.text.subtitles import subtitle_paths


@dataclass(frozen=True)
class Row:
    """One video of the table: its QA report when it has current subtitles, else its failure."""

    video: str
    state: str  # done (by the last run), unchanged, or failed
    qa: QA | None = None
    failure: Failure | None = None


def batch_rows(
    results: Path, videos: dict[str, Path], targets: list[str], run_started: float
) -> list[Row]:
    """A row for every video of the scan, in its order: finished or failed, as the summary says."""
    done, failed = sort_out(results, videos, targets, run_started, {})
    rows = [Row(qa.video, state, qa=qa) for qa, state in done]
    rows += [Row(f.video, "failed", failure=f) for f in failed]
    order = {video: i for i, video in enumerate(videos)}
    return sorted(rows, key=lambda row: order.get(row.video, len(order)))


def update_timelines(
    results: Path, videos: list[str], subtitles: Callable[[str], dict[str, Path]]
) -> list[str]:
    """Draw the timeline of every video whose QA report is newer than its plot.

    A video without a QA report (it failed, or its outputs were removed) loses
    its plot, so the report never shows one for subtitles that are gone.
    ``subtitles`` gives a video's subtitle files by language. Returns a line
    for each plot that could not be drawn; the others are drawn all the same.
    """
    problems = []
    for video in videos:
        plot = result_path(TIMELINE, results, video=video)
        qa_path = result_path(QA_REPORT, results, video=video)
        if not qa_path.exists():
            plot.unlink(missing_ok=True)
            continue
        files = {label: p for label, p in subtitles(video).items() if p.exists()}
        newest = max(p.stat().st_mtime for p in [qa_path, *files.values()])
        if plot.exists() and plot.stat().st_mtime >= newest:
            continue
        try:
            qa = read_qa(qa_path)
            transcript = read_transcript(result_path(TRANSCRIPT, results, video=video))
            draw_timeline(read_timeline(qa, transcript, files), plot)
        except ImportError as exc:  # a venv set up before autokr drew plots
            return [*problems, f"autokr: timeline plots not drawn: {exc} (run make setup)"]
        except (AutokrError, OSError) as exc:
            plot.unlink(missing_ok=True)
            problems.append(f"autokr: {plot}: not drawn: {exc}")
    return problems


def subtitle_files(
    results: Path, video: str, source: str, targets: list[str], formats: list[str]
) -> dict[str, Path]:
    """A video's subtitle file for each language: the SRT, or the WebVTT where there is none."""
    prefix = str(result_path(SUBTITLE_PREFIX, results, video=video))
    paths = subtitle_paths(prefix, source, targets, formats, False)
    chosen: dict[str, Path] = {}
    for (label, _), path in sorted(paths.files.items(), key=lambda item: item[0][1] != "srt"):
        chosen.setdefault(label, Path(path))
    return chosen


def write_report_files(
    results: Path,
    videos: dict[str, Path],
    config: dict[str, Any],
    source: str,
    targets: list[str],
    run_started: float,
) -> list[str]:
    """Bring every timeline plot up to date and write the batch page; return what went wrong.

    ``config`` is the run's, defaults filled in; the page shows it.
    """
    formats = config["subtitles"]["formats"]
    problems = update_timelines(
        results, list(videos), lambda v: subtitle_files(results, v, source, targets, formats)
    )
    summary = result_path(SUMMARY, results)
    text = summary.read_text(encoding="utf-8") if summary.exists() else ""
    rows = batch_rows(results, videos, targets, run_started)
    settings = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
    write_text_atomic(
        result_path(REPORT_PAGE, results), render_page(rows, text, settings, run_started)
    )
    return problems


COLUMNS = [
    "video",
    "state",
    "length",
    "language",
    "cues",
    "dropped / collapsed / flagged lines",
    "speech without text",
    "rule breaks left",
    "retried translations",
    "tries",
    "step time",
    "peak memory",
]

STYLE = """
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #0f172a; }
table { border-collapse: collapse; }
th, td { border: 1px solid #cbd5e1; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f1f5f9; }
tr.failed td { background: #fef2f2; }
td.steps { white-space: pre; font-size: 12px; }
pre { background: #f8fafc; padding: 1em; overflow-x: auto; }
"""


def render_page(rows: list[Row], summary: str, config: str, run_started: float) -> str:
    """The batch page: the table of videos, the summary and the config (YAML).

    A page of its own, with no script and nothing to fetch.
    """
    states = Counter(row.state for row in rows)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run_started))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "\n".join(_row_html(row) for row in rows)
    counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    return (
        '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>autokr: the batch</title><style>{STYLE}</style></head>\n<body>\n"
        f"<h1>Videos</h1>\n<p>After the run of {when}: {len(rows)} videos ({counts}).</p>\n"
        f'<table id="videos">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n'
        "</table>\n<h2>Summary</h2>\n"
        f"<pre>{html.escape(summary or f'{SUMMARY}: not written yet')}</pre>\n"
        "<h2>Config</h2>\n<p>As the run read it, every key with its default filled in.</p>\n"
        f'<pre id="config">{html.escape(config)}</pre>\n</body>\n</html>\n'
    )


def _row_html(row: Row) -> str:
    """One table row: the QA figures of a finished video, or the failure of one that failed."""
    cells = [html.escape(row.video), row.state]
    if row.qa is not None:
        cells += [html.escape(cell) for cell in _qa_cells(row.qa)]
        tds = "".join(f"<td>{c}</td>" for c in cells[:-2])
        tds += "".join(f'<td class="steps">{c}</td>' for c in cells[-2:])
        return f'<tr class="{row.state}">{tds}</tr>'
    failure = row.failure
    assert failure is not None  # a row holds a QA report or a failure
    why = f"{failure.step}: {failure.cause}"
    why += f" (log: {failure.log})" if failure.log else ""
    why += f"; {failure.earlier}" if failure.earlier else ""
    tds = "".join(f"<td>{c}</td>" for c in cells)
    return f'<tr class="failed">{tds}<td colspan="{len(COLUMNS) - 2}">{html.escape(why)}</td></tr>'


def _qa_cells(qa: QA) -> list[str]:
    """The figures of a finished video, from its QA report, as the table shows them."""
    f = qa_figures(qa)
    return [
        f.length,
        f.language,
        f.cues,
        f.lines,
        f"{f.uncovered} in {f.uncovered_places} places (was {f.uncovered_before})",
        str(f.rule_breaks),
        str(f.retried),
        f"{f.tries}" + (f" ({', '.join(f.tried_again)})" if f.tried_again else ""),
        "\n".join(f.step_times),
        "\n".join(f.memory),
    ]
