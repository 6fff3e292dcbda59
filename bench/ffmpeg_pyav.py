"""A stand-in for the one ffmpeg command extract_audio runs, through PyAV, for ``bench/gpu.sh``.

The lent GPU machine has no ffmpeg binary and the imageio-ffmpeg wheel (68 MB)
does not fit what can be carried to it. PyAV holds the same libraries
(libavformat, libavcodec, libswresample): this decodes ``-i file:IN``'s audio
stream ``-map 0:a:N`` to 16 kHz mono 16-bit WAV at the ``file:`` after
``-f wav``, and lists its packets at the ``file:`` after ``-f framecrc``, which
is all ``autokr.speech.media.extract_audio`` asks of ffmpeg for a mono track that
starts with the file (the bench's clips): no channel choice, no silence for
holes.
"""

from __future__ import annotations

import sys
import wave


def output(argv: list[str], fmt: str) -> str | None:
    """The ``file:`` path written in format ``fmt`` (``-f fmt file:PATH``), or None."""
    for i, arg in enumerate(argv[:-2]):
        if arg == "-f" and argv[i + 1] == fmt and argv[i + 2].startswith("file:"):
            return argv[i + 2].removeprefix("file:")
    return None


def main(argv: list[str]) -> int:
    import av

    source = argv[argv.index("-i") + 1].removeprefix("file:")
    mapped = argv[argv.index("-map") + 1] if "-map" in argv else "0:a:0"
    track = int(mapped.rsplit(":", 1)[-1])
    out, packets = output(argv, "wav"), output(argv, "framecrc")
    if out is None or any("pan=" in a for a in argv):
        print("ffmpeg_pyav: only extract_audio's command for a mono track", file=sys.stderr)
        return 1
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    listing = []
    with av.open(source) as container, wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        stream = container.streams.audio[track]
        listing.append(f"#tb 0: {stream.time_base.numerator}/{stream.time_base.denominator}")
        for packet in container.demux(stream):
            if packet.pts is not None:
                listing.append(
                    f"0, {packet.dts}, {packet.pts}, {packet.duration}, {packet.size}, 0x0"
                )
            for frame in packet.decode():
                for chunk in resampler.resample(frame):
                    wav.writeframes(chunk.to_ndarray().tobytes())
        for chunk in resampler.resample(None):
            wav.writeframes(chunk.to_ndarray().tobytes())
    if packets:
        with open(packets, "w", encoding="utf-8") as f:
            f.write("\n".join(listing) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
