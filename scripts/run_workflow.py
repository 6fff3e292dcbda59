"""What `make run` does: clear a stale lock, then run Snakemake, on the bundled example
when this is a fresh clone.

    python scripts/run_workflow.py [snakemake arguments ...]

A fresh clone is one whose config still names the default `videos` folder and
where no such folder exists, not even as a link: then the workflow subtitles
example/autokr-example.mp4 and says where the subtitles are and how to point
autokr at your own videos. Once `videos/` exists (or the config names another
folder) the example is never processed. A `videos` link to a drive that is not
mounted is no fresh clone: Snakemake then stops with one line, as plain
`snakemake` does.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from autokr.batch.launch import run_once


def main(argv: list[str] | None = None) -> int:
    """Run Snakemake as `make run` does; return its exit status."""
    return run_once(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
