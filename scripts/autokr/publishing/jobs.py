"""What a ``publish`` job and an ``unpublish`` job do: one function each.

``scripts/publish.py`` and ``scripts/unpublish.py`` read their inputs and
settings (from Snakemake, or the command line) and call these.
"""

from __future__ import annotations

import sys
from pathlib import Path

from autokr.core.record_files import write_record
from autokr.core.results_layout import PUBLISHED, RESULTS
from autokr.publishing.beside_video import publish_next_to_video
from autokr.publishing.mux import check_mux_target, mux
from autokr.publishing.outcomes import Outcome, PublishRecord, UnpublishRecord, outcome_line
from autokr.publishing.subtitle_choice import subtitles_to_publish
from autokr.publishing.take_back import unpublish_gone, unpublish_kinds

#: What config ``publish`` may list.
KINDS = ("next_to_video", "mux")


def publish_video(
    video_id: str,
    video: str,
    files: list[tuple[str, str]],
    targets: list[str],
    kinds: list[str],
    record: str | None = None,
    detected: str | None = None,
    muxed: str | None = None,
    manifest: str = PUBLISHED,
) -> list[Outcome]:
    """Publish one video's subtitles as ``kinds`` asks; write what became of each file to
    ``record``.

    ``files`` pairs each subtitle file's label with its path; ``detected`` is
    the language Whisper heard, for the ``orig`` label of source_language: auto.
    """
    if "mux" in kinds and muxed:
        check_mux_target(Path(muxed), Path(video))
    subtitles = subtitles_to_publish(files, targets, detected)
    outcomes: list[Outcome] = []
    # The copies first: they are quick, and recorded even if muxing then fails.
    if "next_to_video" in kinds:
        outcomes += publish_next_to_video(video_id, Path(video), subtitles, manifest)
    if "mux" in kinds and muxed:
        outcomes.append(mux(video_id, Path(video), subtitles, Path(muxed), manifest))
    if record:
        write_record(PublishRecord(video_id, tuple(outcomes), {"publish": list(kinds)}), record)
    return outcomes


def unpublish_files(
    what: str, record: str, listed: list[str], manifest: str, results: str = RESULTS
) -> list[Outcome]:
    """Take back ``what`` (``gone``, a kind, or ``all``), print a line for each file and
    write them to ``record``; ``listed`` is what config ``publish`` lists."""
    if what == "gone":
        outcomes = unpublish_gone(Path(results), manifest)
    else:
        kinds = list(KINDS) if what == "all" else [what]
        why = f"make unpublish KIND={what}"
        outcomes = unpublish_kinds(Path(results), kinds, why, manifest)
    for outcome in outcomes:
        if outcome.action != "gone":
            print(outcome_line(outcome), file=sys.stderr)
    if what != "gone":
        removed = sum(1 for o in outcomes if o.action == "removed")
        print(
            f"autokr: make unpublish KIND={what}: {removed} files removed, "
            f"{sum(1 for o in outcomes if o.action in ('kept', 'not removed'))} kept",
            file=sys.stderr,
        )
        for kind in (k for k in kinds if k in listed):
            print(
                f"autokr: config publish still lists {kind}: the next run publishes it "
                "again (take it out of config/config.yaml to keep it off)",
                file=sys.stderr,
            )
    write_record(UnpublishRecord(what, tuple(outcomes)), record)
    return outcomes
