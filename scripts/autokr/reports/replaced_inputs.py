"""What a video's subtitles were made from, and what becomes of them when it is replaced.

The end of a run records the input of each video whose subtitles are current
(``record_input``). A later run in which the video fails tells a replaced
input (other bytes) from one only touched (a new time) by it, and removes the
outputs of a replaced one (``remove_outdated``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from autokr.core.errors import RecordError
from autokr.core.record_files import read_record, write_record
from autokr.core.records import InputFile
from autokr.core.results_layout import INPUT_RECORD, QA_REPORT, TRANSLATION, result_path

#: What ``remove_outdated`` says.
KEPT = "subtitles from an earlier run kept (same input)"
REMOVED = "subtitles of the earlier input removed"
#: Bytes read from each end of an input to tell its content (``input_fingerprint``).
_END = 1 << 20


def remove_outdated(
    results: Path, video: str, source: Path, targets: list[str], subtitles: list[Path]
) -> str:
    """Remove a failed video's QA report, translations and subtitles when they belong to an
    earlier input; say what became of them.

    Subtitles of a file since replaced would look current beside the new one
    (and a player would show them with it), so they go; the next run that
    succeeds makes them again. When the input holds what it held when they were
    made (it may have been touched: a new time is no new content), they still
    fit it and are kept.
    """
    qa = result_path(QA_REPORT, results, video=video)
    record = result_path(INPUT_RECORD, results, video=video)
    if not qa.exists():
        return ""
    if not input_replaced(record, source, qa):
        return KEPT
    translations = [result_path(TRANSLATION, results, video=video, lang=t) for t in targets]
    for path in [qa, *translations, *subtitles]:
        path.unlink(missing_ok=True)
    record.unlink(missing_ok=True)
    return REMOVED


def input_replaced(record: Path, source: Path, qa: Path) -> bool:
    """Whether ``source`` holds other content than the input recorded in ``record``.

    Where an earlier autokr recorded none, an input newer than the QA report
    ``qa`` counts as replaced, as it did then.
    """
    try:
        if record.exists():
            try:
                return not same_input(source, read_record(InputFile, record))
            except RecordError:
                pass  # damaged: as if none were recorded
        return source.stat().st_mtime > qa.stat().st_mtime
    except OSError:  # the input is gone
        return True


def input_fingerprint(source: Path) -> InputFile:
    """What tells an input's content cheaply: its size and the SHA-256 of its first and
    last MiB (a different video never shares both), with its time to skip even that."""
    stat = source.stat()
    digest = hashlib.sha256()
    with open(source, "rb") as f:
        digest.update(f.read(_END))
        if stat.st_size > 2 * _END:
            f.seek(-_END, 2)
        digest.update(f.read(_END))
    return InputFile(str(source), stat.st_size, stat.st_mtime_ns, digest.hexdigest())


def same_input(source: Path, recorded: InputFile) -> bool:
    """True when ``source`` holds the content ``recorded`` (OSError when unreadable)."""
    stat = source.stat()
    if stat.st_size != recorded.size:
        return False
    if stat.st_mtime_ns == recorded.mtime_ns:
        return True
    return input_fingerprint(source).ends_sha256 == recorded.ends_sha256


def record_input(results: Path, video: str, source: Path, run_started: float) -> None:
    """Record the input of a video whose subtitles are current: when this run made them,
    or when none is recorded and the input is older than them (an earlier autokr's)."""
    record = result_path(INPUT_RECORD, results, video=video)
    qa = result_path(QA_REPORT, results, video=video)
    try:
        made = qa.stat().st_mtime
        if made < run_started and (record.exists() or source.stat().st_mtime > made):
            return
        write_record(input_fingerprint(source), record)
    except OSError:  # no QA report, or the input went meanwhile: nothing to record
        return
