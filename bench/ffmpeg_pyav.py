"""A stand-in for the one ffmpeg command extract_audio runs, through PyAV, for ``bench/gpu.sh``.

The lent GPU machine has no ffmpeg binary and the imageio-ffmpeg wheel (68 MB)
does not fit what can be carried to it. PyAV holds the same libraries
(libavformat, libavcodec, libswresample): this decodes ``-i file:IN``'s audio
stream ``-map 0:a:N`` to 16 kHz mono 16-bit WAV at the last ``file:OUT``, which
is all ``autokr.media.extract_audio`` asks of ffmpeg (no ``adelay``: the bench's
clips start with their audio).
"""

from __future__ import annotations

import sys
import wave


def main(argv: list[str]) -> int:
    import av

    source = argv[argv.index("-i") + 1].removeprefix("file:")
    mapped = argv[argv.index("-map") + 1] if "-map" in argv else "0:a:0"
    track = int(mapped.rsplit(":", 1)[-1])
    out = [a for a in argv if a.startswith("file:")][-1].removeprefix("file:")
    if any("adelay" in a for a in argv):
        print("ffmpeg_pyav: adelay is not supported", file=sys.stderr)
        return 1
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    with av.open(source) as container, wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        stream = container.streams.audio[track]
        for frame in container.decode(stream):
            for chunk in resampler.resample(frame):
                wav.writeframes(chunk.to_ndarray().tobytes())
        for chunk in resampler.resample(None):
            wav.writeframes(chunk.to_ndarray().tobytes())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
