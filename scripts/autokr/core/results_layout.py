"""Where a run's files go: the layout of the results folder, each path written once.

Every path is here twice over, from the same text: as a Snakemake pattern, a
string relative to the project with wildcards (``{video}``, ``{lang}``...)
that the rules take as their inputs, outputs, logs and benchmarks; and, for
the Python side, as a ``Path`` (``result_path``, ``job_log``, ...) under a
results folder, the project's ``results/`` unless a caller (a test) gives its
own. The patterns are plain strings, never Paths: Snakemake records and
compares only the params that are plain values and drops any other, so a Path
among them would rerun every job once (its recorded string gone) and then
decide no rerun at all.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

#: The folder a run writes everything under, relative to the project (a run's
#: working directory).
RESULTS = "results"
RESULTS_DIR = Path(RESULTS)

#: Each video's folder: the records between its steps, its QA report and plot.
VIDEO_FOLDER = f"{RESULTS}/videos/{{video}}"
#: What extract_audio learnt of the input, and the 16 kHz WAV it made.
MEDIA = f"{VIDEO_FOLDER}/media.json"
AUDIO = f"{VIDEO_FOLDER}/audio.wav"
#: What transcribe (or read_subtitles) and translate make.
TRANSCRIPT = f"{VIDEO_FOLDER}/transcript.json"
TRANSLATION = f"{VIDEO_FOLDER}/translation.{{lang}}.json"
#: make_srt's report on the video, and the end of a run's timeline plot of it.
QA_REPORT = f"{VIDEO_FOLDER}/qa.json"
TIMELINE = f"{VIDEO_FOLDER}/timeline.png"
#: The input its current subtitles were made from (to tell a replaced one).
INPUT_RECORD = f"{VIDEO_FOLDER}/input.json"
#: What its publish job did.
PUBLISH_RECORD = f"{VIDEO_FOLDER}/publish.json"

#: A video's subtitle files, less their language and extension (``.ko.srt``).
SUBTITLES_FOLDER = f"{RESULTS}/subtitles"
SUBTITLE_PREFIX = f"{SUBTITLES_FOLDER}/{{video}}"
#: The muxed copies of the videos (config publish: mux).
MUXED_FOLDER = f"{RESULTS}/muxed"
MUXED = f"{MUXED_FOLDER}/{{video}}.mkv"
#: Every file autokr published and still owns.
PUBLISHED = f"{RESULTS}/published.json"
#: What each removal job (rule unpublish) took back.
UNPUBLISH_FOLDER = f"{RESULTS}/unpublish"
UNPUBLISH_RECORD = f"{UNPUBLISH_FOLDER}/{{run}}.{{what}}.json"

#: What ``model: auto`` resolved to, for the run's jobs.
MODEL_CHOICE = f"{RESULTS}/model_choice.json"
#: The morning report, and the batch page ``snakemake --report`` packs.
SUMMARY = f"{RESULTS}/summary.md"
REPORT_FOLDER = f"{RESULTS}/report"
REPORT_PAGE = f"{REPORT_FOLDER}/batch.html"
#: The progress display's files: the videos a run has work for, and each job's.
PROGRESS = f"{RESULTS}/progress"
PROGRESS_RUN = f"{PROGRESS}/run.json"
PROGRESS_JOB = f"{PROGRESS}/{{rule}}/{{job}}.json"

#: A job's log and benchmark, by rule; ``{job}`` is its wildcards' values joined by
#: dots (``ep.01.ko``).
LOG_FOLDER = f"{RESULTS}/logs/{{rule}}"
LOG = f"{LOG_FOLDER}/{{job}}.log"
BENCHMARK = f"{RESULTS}/benchmarks/{{rule}}/{{job}}.tsv"
#: The run's own logs (its start and end), one a run.
RUN_LOGS = LOG_FOLDER.format(rule="run")


def log(rule: str, *wildcards: str) -> str:
    """The pattern of a rule's log: ``log("translate", "video", "lang")`` is
    ``results/logs/translate/{video}.{lang}.log``."""
    return LOG.format(rule=rule, job=_job_pattern(wildcards))


def benchmark(rule: str, *wildcards: str) -> str:
    """The pattern of a rule's benchmark, as ``log`` (``results/benchmarks/...tsv``)."""
    return BENCHMARK.format(rule=rule, job=_job_pattern(wildcards))


def _job_pattern(wildcards: Sequence[str]) -> str:
    return ".".join(f"{{{name}}}" for name in wildcards)


def result_path(pattern: str, results: str | os.PathLike = RESULTS_DIR, **wildcards: str) -> Path:
    """``pattern`` (one of this module's) with its wildcards filled in, under ``results``.

    ``result_path(QA_REPORT, video="ep.01")`` is ``results/videos/ep.01/qa.json``; with
    ``results=tmp``, ``tmp/videos/ep.01/qa.json``.
    """
    return _under(results, RESULTS, pattern, wildcards)


def job_log(rule: str, values: Sequence[str], results: str | os.PathLike = RESULTS_DIR) -> Path:
    """The log of a job of ``rule`` with these wildcard values, under ``results``."""
    return result_path(LOG, results, rule=rule, job=".".join(values))


def progress_file(rule: str, values: Sequence[str], progress: str | os.PathLike = PROGRESS) -> Path:
    """The progress file of a job of ``rule`` with these wildcard values, under the
    progress folder ``progress``."""
    return _under(progress, PROGRESS, PROGRESS_JOB, {"rule": rule, "job": ".".join(values)})


def _under(base: str | os.PathLike, root: str, pattern: str, wildcards: dict) -> Path:
    """``pattern``, a path under ``root``, filled in and moved under ``base``."""
    if pattern == root:
        return Path(base)
    relative = pattern.removeprefix(f"{root}/")
    if relative == pattern:
        raise ValueError(f"{pattern}: not under {root}/")
    return Path(base, relative.format(**wildcards))
