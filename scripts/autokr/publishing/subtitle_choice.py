"""Which of a video's subtitle files it publishes, and the names players show for them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from autokr.core import languages

log = logging.getLogger("autokr.publish")


@dataclass(frozen=True)
class Subtitle:
    """One subtitle file to publish: its language code, file, and whether it is a translation."""

    code: str
    path: Path
    translated: bool

    @property
    def title(self) -> str:
        """The track title players show: the language and what autokr made."""
        made = "translation" if self.translated else "transcript"
        return f"{languages.language_name(self.code)} (autokr {made})"


def subtitles_to_publish(
    files: list[tuple[str, str]], targets: list[str], detected: str | None
) -> list[Subtitle]:
    """The subtitles of a video worth publishing, target languages first.

    ``files`` pairs each subtitle file's label (``ko``, ``ja``, ``orig``) with
    its path; ``orig`` (source_language: auto) stands for ``detected``, the
    language Whisper heard. An empty file (a video without speech) is left out,
    and so is a second file whose language would take the same name.
    """
    chosen: dict[str, Subtitle] = {}
    for label, path in sorted(files, key=lambda item: item[0] not in targets):
        code = detected if label == "orig" else label
        if not code:
            log.warning("%s: left out: the language Whisper heard is not known", path)
            continue
        if Path(path).stat().st_size == 0:
            log.info("%s: left out: no cues", path)
            continue
        tag = languages.player_tag(code)
        if tag in chosen:
            log.warning("%s: left out: %s is published from %s", path, tag, chosen[tag].path)
            continue
        chosen[tag] = Subtitle(code, Path(path), label in targets)
    return list(chosen.values())
