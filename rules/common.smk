# Shared set-up and input functions; the rules themselves are in steps.smk.
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from autokr.config import source_label, target_codes, validate_config
from autokr.discovery import scan_videos
from autokr.errors import ConfigError

try:
    config.update(validate_config(config))
except ConfigError as exc:
    sys.exit(f"autokr: config: {exc}")

try:
    SCAN = scan_videos(config["videos"])
except ConfigError as exc:
    sys.exit(f"autokr: {exc}")
for skipped in SCAN.skipped:
    print(f"autokr: {skipped.path}: skipped: {skipped.reason}", file=sys.stderr)

VIDEOS = SCAN.videos
TARGETS = target_codes(config)
SOURCE_LABEL = source_label(config)
LABELS = [SOURCE_LABEL, *TARGETS]


wildcard_constraints:
    video=".+",
    lang="|".join(re.escape(code) for code in TARGETS),
    label="|".join(re.escape(label) for label in LABELS),


def subtitle_targets():
    """Every subtitle file the run should produce."""
    return [
        f"results/subtitles/{video}.{label}.srt" for video in VIDEOS for label in LABELS
    ]


def video_path(wildcards):
    """The input file of a video id."""
    try:
        return str(VIDEOS[wildcards.video])
    except KeyError:
        raise ValueError(
            f"autokr: no input for video {wildcards.video!r} in {config['videos']}"
        ) from None


def audio_output():
    """The extracted WAV: deleted once transcribed unless keep_audio is set."""
    wav = "results/videos/{video}/audio.wav"
    return wav if config["keep_audio"] else temp(wav)


def srt_inputs(wildcards):
    """make_srt reads the transcript for the source language, else that language's translation."""
    if wildcards.label == SOURCE_LABEL:
        return {"transcript": f"results/videos/{wildcards.video}/transcript.json"}
    return {
        "translation": f"results/videos/{wildcards.video}/translation.{wildcards.label}.json"
    }
