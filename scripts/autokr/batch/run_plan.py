"""What one run works on, each looked at once and only when first needed: the videos
(the scan of the videos folder) and where each video's text comes from.

The Snakefile makes one ``RunPlan`` while it is read and hands it to its input
functions and to the run's start and end (``batch.run_hooks``): the one place a
run's state lives between them. Everything here only reads.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autokr.batch.discovery import Scan, ScanRules, scan_videos
from autokr.batch.existing_subtitles import skip_subtitled
from autokr.core.errors import ConfigError, RecordError
from autokr.core.languages import subtitle_tags
from autokr.core.records import TextSource
from autokr.publishing.manifest import MANIFEST, published_by_autokr
from autokr.text.text_source import choose_text, describe


@dataclass
class RunPlan:
    """One run's videos and their text sources, for the Snakefile.

    ``rules``: what the scan leaves out; ``main_process``: Snakemake's own
    process (not a cluster job parsing the workflow on its node), the one that
    says what it skips and passes over; ``dry_run``: asked when the videos are
    first needed (Snakemake knows it only once the Snakefile is read), and in a
    dry run a missing videos folder is said, not fatal.
    """

    config: dict[str, Any]
    rules: ScanRules
    targets: list[str]
    main_process: bool
    dry_run: Callable[[], bool]
    started: float
    _scan: Scan | None = field(default=None, init=False)
    _sources: dict[str, TextSource] = field(default_factory=dict, init=False)
    _published: Callable[[Path], bool] | None = field(default=None, init=False)

    @property
    def scanned(self) -> bool:
        """True once the run needed its videos (not ``make models``, say)."""
        return self._scan is not None

    def scan(self) -> Scan:
        """The videos folder, scanned once, when the run first needs it.

        Not while the Snakefile is read, so --lint, --unlock and --list-rules
        work without the folder (an unmounted drive, a fresh clone). A run
        stops with one line when it is missing or empty; a dry run says so and
        plans nothing.
        """
        if self._scan is None:
            try:
                found = self._less_subtitled(
                    scan_videos(self.config["videos"], self.rules, Path.cwd())
                )
            except (ConfigError, RecordError) as exc:
                if not self.dry_run():
                    sys.exit(f"autokr: {exc}")
                print(f"autokr: {exc}", file=sys.stderr)
                found = Scan({}, [])
            for skipped in found.skipped:
                print(f"autokr: {skipped.path}: skipped: {skipped.reason}", file=sys.stderr)
            self._scan = found
        return self._scan

    def video(self, video: str) -> Path:
        """The input file of a video id (ValueError, in one line, for one the scan lacks)."""
        try:
            return self.scan().videos[video]
        except KeyError:
            raise ValueError(
                f"autokr: no input for video {video!r} in {self.config['videos']}"
            ) from None

    def _less_subtitled(self, found: Scan) -> Scan:
        """With skip_existing, the scan less the videos that have subtitles in every target
        language already, beside them or inside them (never counting autokr's own)."""
        # In the main process only: a cluster job's own Snakemake needs no scan
        # of the library (and a video subtitled meanwhile must not fail its job).
        if not self.config["skip_existing"] or not self.main_process:
            return found
        wanted = {code: subtitle_tags(code) for code in self.targets}
        return skip_subtitled(found, wanted, self.published())

    def published(self) -> Callable[[Path], bool]:
        """The check that a file is one autokr published (the manifest, read once)."""
        if self._published is None:
            self._published = published_by_autokr(MANIFEST)
        return self._published

    def text_source(self, video: str) -> TextSource:
        """Where a video's transcript text comes from under transcribe.source: its own
        subtitles, or speech. Looked at once per run; the main process says, one line
        each, which subtitles it passed over and why."""
        if video not in self._sources:
            found = choose_text(
                self.video(video),
                self.config["source_language"],
                self.config["transcribe"]["source"],
                self.published(),
            )
            then = "transcribing its speech" if found.kind == "speech" else describe(found)
            for line in found.skipped if self.main_process else ():
                print(f"autokr: {line}; passed over ({then})", file=sys.stderr)
            self._sources[video] = found
        return self._sources[video]
