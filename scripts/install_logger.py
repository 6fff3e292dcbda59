"""Put autokr's logger plugin (logger/) where Snakemake finds plugins: `make setup` runs it.

It writes ``autokr-logger.pth`` into the virtualenv. Python runs that line at
start-up: it puts first on the path the ``logger/`` folder of the project
Snakemake runs in (its working folder), else of the project that set the
virtualenv up, so that one virtualenv can serve several copies of autokr.
"""

import sysconfig
from pathlib import Path

PLUGIN = "snakemake_logger_plugin_autokr"


def pth_line(project: Path) -> str:
    """The .pth line (Python runs a line that starts with ``import``)."""
    folders = (str(project / "logger"), "logger")  # the last one inserted comes first
    return (
        "import os, sys; "
        f"[sys.path.insert(0, os.path.abspath(p)) for p in {folders!r} "
        f"if os.path.isdir(os.path.join(p, {PLUGIN!r}))]\n"
    )


if __name__ == "__main__":
    project = Path(__file__).resolve().parent.parent
    target = Path(sysconfig.get_paths()["purelib"]) / "autokr-logger.pth"
    target.write_text(pth_line(project), encoding="utf-8")
    print(f"autokr: logger plugin: {target}")
