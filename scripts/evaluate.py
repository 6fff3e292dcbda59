"""Score autokr's subtitles against reference subtitles you have: chrF and cue timing.

For each reference file in REFERENCE_DIR (subfolders too), ``{video}.{lang}.srt``
or ``.vtt`` (or ``{video}.srt``, taken to be in --lang), it finds the video's
subtitles under the results folder, prints a table (chrF, timing recall and
precision, median start difference, cue counts) and the total, writes it to
--out and adds one row to ``results/evaluations.tsv``, so that runs with other
models can be compared. ``make evaluate REFERENCE=folder`` runs it; see
docs/choosing.md.
    python scripts/evaluate.py REFERENCE_DIR [--results results] [--lang ko] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from autokr.core import results_layout as layout
from autokr.core.errors import AutokrError
from autokr.core.record_files import write_text_atomic
from autokr.reports import evaluation


def main(argv: list[str] | None = None) -> int:
    """The command line; 0 when every reference file could be read, else 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference_dir", help="folder of reference subtitles ({video}.ko.srt)")
    parser.add_argument("--results", default=layout.RESULTS, help="the results folder")
    parser.add_argument("--lang", default="ko", help="the language of the references")
    parser.add_argument("--out", help="the Markdown table (default: RESULTS/evaluation.md)")
    args = parser.parse_args(argv)
    out = Path(args.out or layout.result_path(evaluation.EVALUATION, args.results))
    history = layout.result_path(evaluation.EVALUATIONS, args.results)
    try:
        result = evaluation.evaluate_folder(args.reference_dir, args.results, args.lang)
    except AutokrError as exc:
        print(f"autokr: {exc}", file=sys.stderr)
        return 1
    for line in result.errors:
        print(f"autokr: {line}", file=sys.stderr)
    if not result.scores:
        print(
            f"autokr: {args.reference_dir}: no reference matches a video with {args.lang} "
            f"subtitles under {args.results}",
            file=sys.stderr,
        )
        for note in result.unmatched:
            print(f"  {note}", file=sys.stderr)
        return 1
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    page = evaluation.evaluation_markdown(result, when)
    write_text_atomic(out, page)
    evaluation.append_history(result, history, when)
    print(page, end="")
    print(f"\nwritten: {out}; this run added to {history}")
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
