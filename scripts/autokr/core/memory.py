"""A step's peak memory, measured by the step itself.

Snakemake's ``benchmark:`` samples a job from outside at intervals and misses
short steps; ``getrusage``'s ``ru_maxrss`` carries over the parent's peak
across ``fork`` and ``exec``, so every step started by Snakemake would report
at least Snakemake's own size. So a step reads its own high-water mark
(``VmHWM``, which starts afresh at ``exec``), samples its children's while they
run, and samples the GPU with NVML.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

_children_peak_mb = 0.0


def own_peak_mb() -> float:
    """This process's peak resident memory in MB since it started."""
    return _high_water_mb(Path("/proc/self/status"))


def children_peak_mb() -> float:
    """The largest peak of the children run through ``run_child``, in MB."""
    return _children_peak_mb


def run_child(args: list[str], every: float = 0.02) -> subprocess.CompletedProcess:
    """Run ``args`` to the end with output captured, sampling its peak memory meanwhile."""
    global _children_peak_mb
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    status = Path(f"/proc/{process.pid}/status")
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(every):
            peak[0] = max(peak[0], _high_water_mb(status))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = process.communicate()
    finally:
        done.set()
        sampler.join()
    _children_peak_mb = max(_children_peak_mb, peak[0])
    return subprocess.CompletedProcess(args, process.returncode, out, err)


def _high_water_mb(status: Path) -> float:
    """``VmHWM`` of a ``/proc/PID/status`` file in MB; 0 when gone (or not Linux)."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        pass
    return 0.0


def step_memory(gpu: GpuMemorySampler | None = None) -> dict[str, float | None]:
    """A step's peak memory so far, as the fields of its record's ``Run``."""
    return {
        "peak_rss_mb": own_peak_mb(),
        "children_peak_rss_mb": children_peak_mb(),
        "gpu_peak_mb": gpu.peak_mb if gpu else None,
    }


class GpuMemorySampler:
    """The most GPU memory this process held, sampled with NVML ten times a second.

    CTranslate2 reports no peak of its own. Used as a context manager around a
    step's model work; on the CPU, or without NVML, ``peak_mb`` stays None.
    """

    def __init__(self, device: str, every: float = 0.1):
        self.device, self.every, self.peak_mb = device, every, None
        self._stop = None

    def __enter__(self) -> GpuMemorySampler:
        if self.device != "cuda":
            return self
        try:
            import pynvml

            pynvml.nvmlInit()
        except Exception:  # no NVML library or driver: nothing to sample
            return self
        import threading

        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(pynvml,), daemon=True)
        self._thread.start()
        return self

    def _sample(self, pynvml) -> None:
        pid = os.getpid()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        idle = sum(pynvml.nvmlDeviceGetMemoryInfo(h).used for h in handles)
        while True:
            mine = [
                p.usedGpuMemory or 0
                for h in handles
                for p in pynvml.nvmlDeviceGetComputeRunningProcesses(h)
                if p.pid == pid
            ]
            # In a container NVML may list host process ids: then what the
            # cards hold above their use when the step started is ours.
            used = (
                sum(mine)
                if mine
                else sum(pynvml.nvmlDeviceGetMemoryInfo(h).used for h in handles) - idle
            )
            self.peak_mb = max(self.peak_mb or 0.0, round(max(used, 0) / 2**20, 1))
            if self._stop.wait(self.every):
                return

    def __exit__(self, *exc) -> None:
        if self._stop is not None:
            self._stop.set()
            self._thread.join()
