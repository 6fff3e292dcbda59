"""Take back published files, in a run that holds Snakemake's lock; say what, one line each.

Under Snakemake only: rule ``unpublish``, whose output names what to take back,
``results/unpublish/{run}.{what}.json``:

- ``gone``: the copies beside videos that are gone (every run asks for it while
  there are any);
- ``next_to_video``, ``mux`` or ``all``: a kind of published file, or every
  kind: ``make unpublish KIND=mux``.

Only files still byte for byte what autokr wrote go; muxed copies whose video is
gone stay. Not by hand: a removal outside a run that holds the lock could race a
run that is publishing.
"""

import sys
from pathlib import Path

from autokr.core.records import write_record
from autokr.core.steps import run_step, snakemake_log
from autokr.publishing.copies import KINDS, Outcome
from autokr.publishing.take_back import (
    UnpublishRecord,
    outcome_line,
    unpublish_gone,
    unpublish_kinds,
)


def unpublish(
    what: str, record: str, listed: list[str], manifest: str, results: str = "results"
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


# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    snakemake = globals()["snakemake"]
    run_step(
        "unpublish",
        snakemake.wildcards.what,
        snakemake_log(snakemake),
        lambda: unpublish(
            snakemake.wildcards.what,
            snakemake.output.record,
            list(snakemake.params.listed),
            snakemake.params.manifest,
        ),
    )
elif __name__ == "__main__":
    sys.exit(
        "autokr: unpublish runs inside a run, which holds the lock: "
        "make unpublish KIND=next_to_video (or mux, or all)"
    )
