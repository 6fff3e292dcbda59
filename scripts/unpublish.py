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

from autokr.core.steps import run_rule
from autokr.publishing.jobs import unpublish_files

# Snakemake runs a script as __main__ too, with `snakemake` already defined.
if "snakemake" in globals():
    snakemake = globals()["snakemake"]
    what = snakemake.wildcards.what
    run_rule(
        snakemake,
        lambda: unpublish_files(
            what=what,
            record=snakemake.output.record,
            listed=list(snakemake.params.listed),
            manifest=snakemake.params.manifest,
        ),
        label=what,
    )
elif __name__ == "__main__":
    sys.exit(
        "autokr: unpublish runs inside a run, which holds the lock: "
        "make unpublish KIND=next_to_video (or mux, or all)"
    )
