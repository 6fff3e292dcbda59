"""The exceptions a user may see.

Each one is an expected failure of one video or of the configuration; step
scripts print it as one line (``autokr: <file>: <cause>``) with no traceback.
Anything else that escapes is a bug and keeps its traceback.
"""


class AutokrError(Exception):
    """Base class for failures that are the input's or the user's, not autokr's."""


class ConfigError(AutokrError):
    """The configuration names something that cannot work."""


class MediaError(AutokrError):
    """A video or audio file cannot be read: missing, empty, corrupt, no audio."""


class ModelError(AutokrError):
    """A model cannot be found or loaded."""


class OutOfMemory(AutokrError):
    """The device ran out of memory; Snakemake retries the job with lighter settings."""


class SubtitleError(AutokrError):
    """A subtitle file or track meant as a video's text cannot be read: not text, no cues."""


class RecordError(AutokrError):
    """An intermediate JSON file is missing, malformed or of another version."""
