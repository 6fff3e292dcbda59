"""Step 4: lay out cues by each language's rules and write the subtitle files and QA report.

Under Snakemake: rule ``make_srt``, one job per video. By hand, with any
subtitles.* key, translate.sentences and source_language as options:
    python scripts/make_srt.py "out/ep01" --transcript transcript.json \
        --translation ko=translation.ko.json [--media media.json] [--formats "[srt, vtt]"]
writes out/ep01.ja.srt, out/ep01.ko.srt (and .vtt) and out/ep01.qa.json.
"""

import argparse
import dataclasses
import logging
import time
from pathlib import Path

from autokr.core import languages
from autokr.core.config import add_config_options, config_from_options, source_label
from autokr.core.errors import ConfigError
from autokr.core.memory import step_memory
from autokr.core.records import (
    QA,
    Media,
    Run,
    Transcript,
    Translation,
    read_media,
    read_transcript,
    read_translation,
    write_record,
    write_text_atomic,
)
from autokr.core.steps import run_step, snakemake_log
from autokr.text.layout import Layout, lay_out, rules_for
from autokr.text.sentences import SentenceOptions
from autokr.text.subtitles import (
    compose_bilingual,
    source_cues,
    subtitle_paths,
    target_cues,
    write_layout,
)
from autokr.text.text_source import describe

log = logging.getLogger("autokr.make_srt")

#: Frame rate for cue gaps when the input has no video stream, or only a still
#: picture: its frames are no shot changes to keep apart.
AUDIO_ONLY_FRAME_RATE = 24.0
#: Below this a video is a still picture or a slide show (1 fps is common for
#: podcasts and music), whose two frames would make a 2-second gap between cues.
STILL_PICTURE_FPS = 10.0


def make_subtitles(
    video: str,
    prefix: str,
    transcript_path: str,
    translations: dict[str, str],
    qa_path: str,
    media_path: str | None = None,
    source_label: str = "ja",
    formats: tuple[str, ...] = ("srt",),
    bilingual: bool = False,
    layout: dict[str, dict] | None = None,
    sentence_options: SentenceOptions | None = None,
) -> None:
    """Write every subtitle file of one video, and its QA report."""
    started = time.time()
    transcript = read_transcript(transcript_path)
    media = read_media(media_path) if media_path else None
    frame_rate = gap_frame_rate(media)
    overrides = layout or {}
    source_code = transcript.language if source_label == "orig" else source_label
    src_rules = rules_for(_rules_key(source_code), overrides.get(source_label))
    cues = source_cues(transcript, sentence_options)
    layouts = {source_label: lay_out(cues, src_rules, frame_rate, transcript.duration)}
    loaded = {label: read_translation(path) for label, path in translations.items()}
    for label, translation in loaded.items():
        rules = rules_for(_rules_key(label), overrides.get(label))
        cues = target_cues(translation)
        layouts[label] = lay_out(cues, rules, frame_rate, transcript.duration, src_rules)

    paths = subtitle_paths(prefix, source_label, list(translations), list(formats), bilingual)
    for (label, fmt), path in paths.files.items():
        write_layout(layouts[label], path, fmt)
    for label, path in paths.bilingual.items():
        write_text_atomic(path, compose_bilingual(layouts[label], src_rules))
    step = "transcribe" if transcript.source.kind == "speech" else "read_subtitles"
    runs = {step: transcript.run, **{f"translate.{k}": t.run for k, t in loaded.items()}}
    runs = {"extract_audio": media.run, **runs} if media else runs
    qa = qa_report(video, transcript, loaded, layouts, runs, started)
    settings = {"frame_rate": frame_rate, "formats": list(formats), "bilingual": bilingual}
    records = {
        step: transcript.settings,
        **{f"translate.{k}": t.settings for k, t in loaded.items()},
    }
    qa = dataclasses.replace(
        qa,
        settings=settings,
        models={step: str(s.get("model", "")) for step, s in records.items()},
        model_choice={
            step: s["model_choice"] for step, s in records.items() if s.get("model_choice")
        },
        audio_channels=media.audio_channels if media else "",
        audio_channels_note=media.audio_channels_note if media else "",
        audio_holes=media.audio_holes if media else (),
    )
    write_record(qa, qa_path)
    for label, lay in layouts.items():
        log.info("%s: %d cues, %d rule breaks left", label, len(lay.cues), len(lay.breaks))


def gap_frame_rate(media: Media | None) -> float:
    """The frame rate that sets the gap between cues: the video's, unless it has none."""
    rate = (media.frame_rate if media else None) or AUDIO_ONLY_FRAME_RATE
    return AUDIO_ONLY_FRAME_RATE if rate < STILL_PICTURE_FPS else rate


def qa_report(
    video: str,
    transcript: Transcript,
    translations: dict[str, Translation],
    layouts: dict[str, Layout],
    runs: dict[str, Run],
    started: float,
) -> QA:
    """A video's QA report: what each step found, did, took and left to fix."""
    own = step_memory()
    peaks = {step: max(run.peak_rss_mb, run.children_peak_rss_mb) for step, run in runs.items()}
    return QA(
        video=video,
        duration=transcript.duration,
        language=transcript.language,
        language_probability=transcript.language_probability,
        cues={label: len(lay.cues) for label, lay in layouts.items()},
        decisions=transcript.decisions,
        retries={label: t.retries for label, t in translations.items()},
        rule_breaks={
            label: [
                {**dataclasses.asdict(b), "cue": b.cue + 1, "at": round(lay.cues[b.cue].start, 3)}
                for b in lay.breaks
            ]
            for label, lay in layouts.items()
        },
        seconds={
            **{step: round(run.seconds, 3) for step, run in runs.items()},
            "make_srt": round(time.time() - started, 3),
        },
        # Tries a step took: above 1 when it ran out of memory and was retried lighter.
        attempts={s: r.attempt for s, r in runs.items() if s != "extract_audio"},
        peak_memory_mb={**peaks, "make_srt": max(own["peak_rss_mb"], own["children_peak_rss_mb"])},
        gpu_peak_mb={s: r.gpu_peak_mb for s, r in runs.items() if r.gpu_peak_mb is not None},
        # Batched pieces that failed a guard and were decoded again, and speech
        # that no word covered.
        transcription=transcript.mode,
        redecoded=transcript.redecoded,
        redecoded_seconds=transcript.redecoded_seconds,
        uncovered_before=transcript.uncovered_before,
        uncovered_after=transcript.uncovered_after,
        uncovered=transcript.uncovered,
        # Speech, or the video's own subtitles, and those passed over and why.
        text_source=describe(transcript.source),
        text_skipped=transcript.source.skipped,
    )


def _rules_key(label: str) -> str:
    """The layout table key of a language label: its Whisper code where it has one."""
    try:
        return languages.language(label).whisper or label
    except ConfigError:
        return label


#: The config keys this step reads; each is an option when it runs by hand.
KEYS = ["source_language", "subtitles", "translate.sentences"]


def main(argv: list[str] | None = None) -> None:
    """The command line: the records to lay out, and the step's config keys as options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix", help="path and name of the outputs, without extensions")
    parser.add_argument("--transcript", required=True)
    parser.add_argument(
        "--translation", action="append", default=[], metavar="LANG=FILE", help="repeatable"
    )
    parser.add_argument("--media", help="media.json from extract_audio (for the frame rate)")
    add_config_options(parser, KEYS)
    parser.add_argument("--log", help="also write the log to this file")
    args = parser.parse_args(argv)
    translations = dict(item.split("=", 1) for item in args.translation)
    Path(args.prefix).parent.mkdir(parents=True, exist_ok=True)

    def work() -> None:
        config = config_from_options(args, KEYS)
        subtitles = config["subtitles"]
        make_subtitles(
            Path(args.prefix).name,
            args.prefix,
            args.transcript,
            translations,
            f"{args.prefix}.qa.json",
            args.media,
            source_label(config),
            tuple(subtitles["formats"]),
            subtitles["bilingual"],
            subtitles["layout"],
            SentenceOptions(**config["translate"]["sentences"]),
        )

    run_step("make_srt", args.prefix, args.log, work)


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    snakemake = globals()["snakemake"]
    p = snakemake.params
    run_step(
        "make_srt",
        snakemake.wildcards.video,
        snakemake_log(snakemake),
        lambda: make_subtitles(
            snakemake.wildcards.video,
            p.prefix,
            snakemake.input.transcript,
            dict(zip(p.targets, snakemake.input.translations, strict=True)),
            snakemake.output.qa,
            snakemake.input.media,
            p.source_label,
            tuple(p.formats),
            p.bilingual,
            p.layout,
            SentenceOptions(**p.run_with.config["translate"]["sentences"]),
        ),
    )
elif __name__ == "__main__":
    main()
