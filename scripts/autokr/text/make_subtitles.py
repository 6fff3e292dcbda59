"""One video's subtitles: lay out its cues by each language's rules, write the files and QA."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from autokr.core import languages
from autokr.core.errors import ConfigError
from autokr.core.record_files import write_record, write_text_atomic
from autokr.core.records import Media, Transcript, read_media, read_transcript, read_translation
from autokr.text.layout import Layout, Rules, lay_out, rules_for
from autokr.text.qa_report import video_qa
from autokr.text.sentences import SentenceOptions
from autokr.text.subtitles import (
    compose_bilingual,
    source_cues,
    subtitle_paths,
    target_cues,
    write_layout,
)

# The step's name in the log: make_srt runs this.
log = logging.getLogger("autokr.make_srt")

#: Frame rate for cue gaps when the input has no video stream, or only a still
#: picture: its frames are no shot changes to keep apart.
AUDIO_ONLY_FRAME_RATE = 24.0
#: Below this a video is a still picture or a slide show (1 fps is common for
#: podcasts and music), whose two frames would make a 2-second gap between cues.
STILL_PICTURE_FPS = 10.0


@dataclass(frozen=True)
class SubtitleOptions:
    """What ``make_subtitles`` writes, and by which rules (the subtitles.* keys).

    source_label: the source language's file label (``source_language``, or
        ``orig`` where it is detected).
    formats: the subtitle formats to write (srt, vtt).
    bilingual: also write a source-over-target SRT per target language.
    layout: per-language changes to the layout rules, keyed by label.
    sentences: translate.sentences, where the sentences the translations were
        made of end, to lay the source cues out along them.
    """

    source_label: str = "ja"
    formats: tuple[str, ...] = ("srt",)
    bilingual: bool = False
    layout: dict[str, dict] = field(default_factory=dict)
    sentences: SentenceOptions = field(default_factory=SentenceOptions)


def make_subtitles(
    video: str,
    prefix: str,
    transcript_path: str,
    translations: dict[str, str],
    qa_path: str,
    *,
    media_path: str | None = None,
    options: SubtitleOptions | None = None,
) -> None:
    """Write every subtitle file of one video, and its QA report.

    ``translations`` maps each target label to its translation record; the
    files are ``{prefix}.{label}.{format}`` (see ``subtitle_paths``).
    """
    started = time.time()
    options = options or SubtitleOptions()
    transcript = read_transcript(transcript_path)
    media = read_media(media_path) if media_path else None
    frame_rate = gap_frame_rate(media)
    src_rules = source_rules(transcript, options)
    cues = source_cues(transcript, options.sentences)
    layouts = {options.source_label: lay_out(cues, src_rules, frame_rate, transcript.duration)}
    loaded = {label: read_translation(path) for label, path in translations.items()}
    for label, translation in loaded.items():
        # A target's cues keep to its own rules and to the source's, whose cues
        # they translate.
        rules = rules_for(rules_key(label), options.layout.get(label))
        cues = target_cues(translation)
        layouts[label] = lay_out(cues, rules, frame_rate, transcript.duration, src_rules)

    write_subtitle_files(prefix, layouts, list(translations), src_rules, options)
    settings = {
        "frame_rate": frame_rate,
        "formats": list(options.formats),
        "bilingual": options.bilingual,
    }
    write_record(video_qa(video, transcript, loaded, media, layouts, settings, started), qa_path)
    for label, lay in layouts.items():
        log.info("%s: %d cues, %d rule breaks left", label, len(lay.cues), len(lay.breaks))


def source_rules(transcript: Transcript, options: SubtitleOptions) -> Rules:
    """The layout rules of the source language: the detected one's under ``orig``."""
    label = options.source_label
    code = transcript.language if label == "orig" else label
    return rules_for(rules_key(code), options.layout.get(label))


def write_subtitle_files(
    prefix: str,
    layouts: dict[str, Layout],
    targets: list[str],
    src_rules: Rules,
    options: SubtitleOptions,
) -> None:
    """Write the layouts of the source and ``targets`` in every format, and the
    bilingual files, at ``{prefix}.{label}.{format}`` (see ``subtitle_paths``)."""
    formats = list(options.formats)
    paths = subtitle_paths(prefix, options.source_label, targets, formats, options.bilingual)
    for (label, fmt), path in paths.files.items():
        write_layout(layouts[label], path, fmt)
    for label, path in paths.bilingual.items():
        write_text_atomic(path, compose_bilingual(layouts[label], src_rules))


def gap_frame_rate(media: Media | None) -> float:
    """The frame rate that sets the gap between cues: the video's, unless it has none."""
    rate = (media.frame_rate if media else None) or AUDIO_ONLY_FRAME_RATE
    return AUDIO_ONLY_FRAME_RATE if rate < STILL_PICTURE_FPS else rate


def rules_key(label: str) -> str:
    """The layout table key of a language label: its Whisper code where it has one."""
    try:
        return languages.language(label).whisper or label
    except ConfigError:
        return label
