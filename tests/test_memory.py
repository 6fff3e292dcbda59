"""A step's own peak memory: its process, its children, not its parent's."""

import subprocess
import sys

from autokr.core import memory
from conftest import ROOT

REPORT = (
    f"import sys; sys.path.insert(0, {str(ROOT / 'scripts')!r}); "
    "from autokr.core.memory import own_peak_mb; print(own_peak_mb())"
)


def test_a_step_started_by_a_big_parent_reports_its_own_peak():
    # Snakemake is the parent of every step. getrusage carries the parent's
    # peak over fork and exec; VmHWM starts afresh at exec.
    parent = (
        "import subprocess, sys; big = bytearray(400 * 2**20); "
        f"print(subprocess.run([sys.executable, '-c', {REPORT!r}], "
        "capture_output=True, text=True).stdout)"
    )
    out = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True)
    child = float(out.stdout.strip())
    assert 5 < child < 150, child


def test_a_child_is_measured_while_it_runs():
    before = memory.children_peak_mb()
    grow = "x = bytearray(300 * 2**20); import time; time.sleep(0.3)"
    done = memory.run_child([sys.executable, "-c", grow])
    assert done.returncode == 0
    assert memory.children_peak_mb() >= max(before, 300)
    assert memory.own_peak_mb() > 10  # this test process, read from the kernel
