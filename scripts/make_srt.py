"""Step 4: lay out cues by each language's rules and write the subtitle files and QA report.

Under Snakemake: rule ``make_srt``, one job per video. By hand:
    python scripts/make_srt.py "out/ep01" --transcript transcript.json \
        --translation ko=translation.ko.json [--media media.json] [--formats srt vtt]
writes out/ep01.ja.srt, out/ep01.ko.srt (and .vtt) and out/ep01.qa.json.
"""

import argparse
import dataclasses
import logging
import time
from pathlib import Path

from autokr import languages
from autokr.config import step_settings
from autokr.errors import ConfigError
from autokr.layout import Layout, lay_out, rules_for
from autokr.memory import step_memory
from autokr.records import (
    QA,
    read_media,
    read_transcript,
    read_translation,
    write_record,
    write_text_atomic,
)
from autokr.sentences import SentenceOptions
from autokr.steps import run_step, snakemake_log
from autokr.subtitles import (
    compose_bilingual,
    source_cues,
    subtitle_paths,
    target_cues,
    write_layout,
)

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
    frame_rate = (media.frame_rate if media else None) or AUDIO_ONLY_FRAME_RATE
    if frame_rate < STILL_PICTURE_FPS:
        frame_rate = AUDIO_ONLY_FRAME_RATE
    overrides = layout or {}
    source_code = transcript.language if source_label == "orig" else source_label
    src_rules = rules_for(_rules_key(source_code), overrides.get(source_label))
    paths = subtitle_paths(prefix, source_label, list(translations), list(formats), bilingual)

    layouts: dict[str, Layout] = {
        source_label: lay_out(
            source_cues(transcript, sentence_options), src_rules, frame_rate, transcript.duration
        )
    }
    loaded = {label: read_translation(path) for label, path in translations.items()}
    for label, translation in loaded.items():
        rules = rules_for(_rules_key(label), overrides.get(label))
        cues = target_cues(translation)
        layouts[label] = lay_out(cues, rules, frame_rate, transcript.duration, src_rules)

    for (label, fmt), path in paths.files.items():
        write_layout(layouts[label], path, fmt)
    for label, path in paths.bilingual.items():
        write_text_atomic(path, compose_bilingual(layouts[label], src_rules))

    seconds = {"transcribe": round(transcript.run.seconds, 3)}
    if media:
        seconds = {"extract_audio": round(media.run.seconds, 3), **seconds}
    seconds |= {f"translate.{label}": round(t.run.seconds, 3) for label, t in loaded.items()}
    seconds["make_srt"] = round(time.time() - started, 3)
    runs = {"transcribe": transcript.run, **{f"translate.{k}": t.run for k, t in loaded.items()}}
    if media:
        runs = {"extract_audio": media.run, **runs}
    own = step_memory()
    peaks = {step: max(run.peak_rss_mb, run.children_peak_rss_mb) for step, run in runs.items()}
    peaks["make_srt"] = max(own["peak_rss_mb"], own["children_peak_rss_mb"])
    qa = QA(
        video=video,
        duration=transcript.duration,
        language=transcript.language,
        language_probability=transcript.language_probability,
        cues={label: len(lay.cues) for label, lay in layouts.items()},
        decisions=transcript.decisions,
        retries={label: t.retries for label, t in loaded.items()},
        rule_breaks={
            label: [
                {**dataclasses.asdict(b), "cue": b.cue + 1, "at": round(lay.cues[b.cue].start, 3)}
                for b in lay.breaks
            ]
            for label, lay in layouts.items()
        },
        seconds=seconds,
        settings={"frame_rate": frame_rate, "formats": list(formats), "bilingual": bilingual},
        # Tries a step took: above 1 when it ran out of memory and was retried lighter.
        attempts={
            "transcribe": transcript.run.attempt,
            **{f"translate.{label}": t.run.attempt for label, t in loaded.items()},
        },
        # Batched pieces that failed a decoder guard and were decoded again,
        # and speech that no word covered.
        peak_memory_mb=peaks,
        gpu_peak_mb={s: r.gpu_peak_mb for s, r in runs.items() if r.gpu_peak_mb is not None},
        transcription=transcript.mode,
        redecoded=transcript.redecoded,
        redecoded_seconds=transcript.redecoded_seconds,
        uncovered_before=transcript.uncovered_before,
        uncovered_after=transcript.uncovered_after,
        uncovered=transcript.uncovered,
    )
    write_record(qa, qa_path)
    for label, lay in layouts.items():
        log.info("%s: %d cues, %d rule breaks left", label, len(lay.cues), len(lay.breaks))


def _rules_key(label: str) -> str:
    """The layout table key of a language label: its Whisper code where it has one."""
    try:
        return languages.language(label).whisper or label
    except ConfigError:
        return label


def main(argv: list[str] | None = None) -> None:
    """The command line: parse the arguments, run the step."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix", help="path and name of the outputs, without extensions")
    parser.add_argument("--transcript", required=True)
    parser.add_argument(
        "--translation", action="append", default=[], metavar="LANG=FILE", help="repeatable"
    )
    parser.add_argument("--media", help="media.json from extract_audio (for the frame rate)")
    parser.add_argument("--source", default="ja", help="label of the source subtitle file")
    parser.add_argument("--formats", nargs="+", default=["srt"], choices=("srt", "vtt"))
    parser.add_argument("--bilingual", action="store_true")
    parser.add_argument("--log", help="also write the log to this file")
    args = parser.parse_args(argv)
    translations = dict(item.split("=", 1) for item in args.translation)
    Path(args.prefix).parent.mkdir(parents=True, exist_ok=True)
    run_step(
        "make_srt",
        args.prefix,
        args.log,
        lambda: make_subtitles(
            Path(args.prefix).name,
            args.prefix,
            args.transcript,
            translations,
            f"{args.prefix}.qa.json",
            args.media,
            args.source,
            tuple(args.formats),
            args.bilingual,
        ),
    )


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
            SentenceOptions(**step_settings(snakemake.config, "translate")["sentences"]),
        ),
    )
elif __name__ == "__main__":
    main()
