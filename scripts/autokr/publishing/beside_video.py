"""Subtitles copied beside their video, under the names players read.

``publish_next_to_video`` copies ``results/subtitles/ep.01.ko.srt`` to
``videos/ep.01.ko.srt``: ``NAME.TAG.srt``, with the tag Plex, Jellyfin, Kodi and
mpv read (``ko``, ``ja``, ``zh-Hant``), never over a file autokr did not write.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from autokr.core import languages
from autokr.publishing.manifest import (
    MANIFEST,
    Published,
    PublishError,
    manifest_files,
    published_entry,
)
from autokr.publishing.outcomes import Outcome
from autokr.publishing.own_files import (
    file_sha256,
    published_mode,
    same_video,
    unchanged_since_written,
)
from autokr.publishing.subtitle_choice import Subtitle
from autokr.publishing.take_back import take_back

log = logging.getLogger("autokr.publish")


def sidecar_path(video: Path, subtitle: Subtitle) -> Path:
    """Where a subtitle goes beside its video: ``ep.01.mkv`` -> ``ep.01.ko.srt``."""
    return video.with_name(
        f"{video.stem}.{languages.player_tag(subtitle.code)}{subtitle.path.suffix}"
    )


def publish_next_to_video(
    video_id: str, video: Path, subtitles: list[Subtitle], manifest: str | os.PathLike = MANIFEST
) -> list[Outcome]:
    """Copy each subtitle beside ``video``, never over a file autokr did not write.

    Copies this video had before that it publishes no more (a target language
    taken out of the config) are removed, if they are still what autokr wrote.
    """
    plan = {str(sidecar_path(video, s)): s for s in subtitles}
    with manifest_files(manifest) as files:
        outcomes = [_place(Path(dest), s, video_id, video, files) for dest, s in plan.items()]
        stale = [
            path
            for path, entry in files.items()
            if entry.video == video_id
            and entry.kind == "next_to_video"
            and path not in plan
            # Only this video's: another with the same id (publish.py by
            # hand on a copy elsewhere, ep.02 in another folder) keeps its own.
            and same_video(entry.input, video)
        ]
        planned = {os.path.realpath(dest) for dest in plan}
        for path in stale:
            if os.path.realpath(path) in planned:
                # The same file under an older spelling of its folder (a link, an
                # absolute path): recorded above under its real name, never removed.
                del files[path]
                continue
            outcomes.append(take_back(path, files, "its language is no longer published"))
    return outcomes


def _place(
    dest: Path, subtitle: Subtitle, video_id: str, video: Path, files: dict[str, Published]
) -> Outcome:
    """Copy one subtitle to ``dest`` unless a file autokr did not write is there."""
    data = subtitle.path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    action = "written"
    if dest.is_symlink() or (dest.exists() and not dest.is_file()):
        return _left_alone(dest, subtitle, files, "not a plain file")
    if dest.exists():
        try:
            # What autokr would write, whoever wrote it, is autokr's from now on.
            same = file_sha256(dest) == digest
            known = files.get(str(dest))
            ours = same or (known is not None and unchanged_since_written(dest, known))
        except OSError as exc:
            return _left_alone(dest, subtitle, files, f"cannot be read: {exc.strerror}")
        if not ours:
            return _left_alone(dest, subtitle, files, "not written by autokr")
        action = "unchanged" if same else "updated"
    if action != "unchanged" and not _write_beside(dest, data, replace=action == "updated"):
        return _left_alone(dest, subtitle, files, "appeared while autokr wrote it")
    files[str(dest)] = published_entry(
        video_id, "next_to_video", video, [subtitle.path], dest, digest
    )
    if action != "unchanged":
        log.info("%s: %s from %s", dest, action, subtitle.path)
    return Outcome(str(dest), action)


def _left_alone(dest: Path, subtitle: Subtitle, files: dict[str, Published], why: str) -> Outcome:
    """Leave a user's file where autokr would publish; it is the user's from now on."""
    files.pop(str(dest), None)
    log.warning("%s: left alone (%s); autokr's is %s", dest, why, subtitle.path)
    return Outcome(str(dest), "left alone", f"{why}; autokr's is {subtitle.path}")


def _write_beside(dest: Path, data: bytes, replace: bool) -> bool:
    """Write ``data`` to ``dest`` whole, through a hidden temporary file beside it.

    A new file is linked into place, which fails rather than overwrite a file
    that appeared meanwhile (False); ``replace`` replaces autokr's own.
    """
    try:
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
        os.fchmod(fd, published_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            if replace:
                os.replace(tmp, dest)
                return True
            try:
                os.link(tmp, dest)
            except FileExistsError:
                return False
            except OSError:  # a filesystem without hard links (some network shares)
                if dest.exists():
                    return False
                os.replace(tmp, dest)
            return True
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as exc:
        raise PublishError(f"{dest}: cannot write beside the video ({exc.strerror})") from None
