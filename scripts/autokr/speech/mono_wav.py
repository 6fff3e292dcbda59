"""16 kHz mono 16-bit WAV files as extract_audio finishes them: a lead-in, and a fallback.

ffmpeg writes one WAV per take (the centre channel; all channels mixed); this
writes the final WAV from them, a minute at a time, whatever the file's length.
"""

from __future__ import annotations

import contextlib
import wave
from pathlib import Path

#: Seconds over which a take is judged silent or not.
WINDOW = 0.5
#: A take must be silent this long (while the fallback is not) to be replaced
#: there: a pause between lines is no reason, a centre channel that a stereo
#: stretch or an upmix leaves empty is.
MIN_SILENCE = 5.0
#: Peak level (of full scale) under which a window counts as silent (-60 dBFS).
SILENT_PEAK = 0.001
_CHUNK_WINDOWS = 120  # windows read at a time: a minute


def seconds(path: Path) -> float:
    """A WAV's length in seconds."""
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def assemble(out: Path, main: Path, fallback: Path | None = None, lead_in: float = 0.0) -> float:
    """Write ``out`` from ``main``: ``lead_in`` seconds of silence first, and, where
    ``fallback`` is given, every stretch of at least ``MIN_SILENCE`` in which
    ``main`` is silent but ``fallback`` is not taken from ``fallback``.
    Returns the seconds so taken.
    """
    import numpy as np

    replace = _silent_stretches(main, fallback) if fallback else np.zeros(0, dtype=bool)
    with contextlib.ExitStack() as files:
        src = files.enter_context(wave.open(str(main)))
        other = files.enter_context(wave.open(str(fallback))) if fallback else None
        dst = files.enter_context(wave.open(str(out), "wb"))
        rate = src.getframerate()
        window = round(WINDOW * rate)
        dst.setnchannels(1)
        dst.setsampwidth(2)
        dst.setframerate(rate)
        dst.writeframes(np.zeros(round(lead_in * rate), dtype="<i2").tobytes())
        first = 0  # the first window of this chunk
        while frames := src.readframes(window * _CHUNK_WINDOWS):
            ours = np.frombuffer(frames, dtype="<i2").copy()
            theirs = np.frombuffer(other.readframes(len(ours)), dtype="<i2") if other else ours
            for w in np.flatnonzero(replace[first : first + _CHUNK_WINDOWS]):
                span = slice(w * window, min((w + 1) * window, len(theirs)))
                ours[span] = theirs[span]
            dst.writeframes(ours.tobytes())
            first += _CHUNK_WINDOWS
    return float(replace.sum()) * WINDOW


def _silent_stretches(main: Path, fallback: Path):
    """For each window of ``main``: whether it lies in a stretch to take from ``fallback``."""
    import numpy as np

    ours, theirs = _window_peaks(main), _window_peaks(fallback)
    size = min(len(ours), len(theirs))
    floor = SILENT_PEAK * 32768
    wanted = np.zeros(len(ours), dtype=bool)
    wanted[:size] = (ours[:size] < floor) & (theirs[:size] >= floor)
    # Keep only runs of at least MIN_SILENCE.
    edges = np.flatnonzero(np.diff(np.concatenate(([0], wanted.astype(np.int8), [0]))))
    keep = np.zeros_like(wanted)
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if (end - start) * WINDOW >= MIN_SILENCE:
            keep[start:end] = True
    return keep


def _window_peaks(path: Path):
    """The peak of each ``WINDOW`` of a 16-bit mono WAV."""
    import numpy as np

    peaks = []
    with wave.open(str(path)) as w:
        window = round(WINDOW * w.getframerate())
        while frames := w.readframes(window * _CHUNK_WINDOWS):
            samples = np.abs(np.frombuffer(frames, dtype="<i2").astype(np.int32))
            padded = np.pad(samples, (0, -len(samples) % window))
            peaks.append(padded.reshape(-1, window).max(axis=1))
    return np.concatenate(peaks) if peaks else np.zeros(0, dtype=np.int32)
