"""Build example/autokr-example.mp4: the real recordings of tests/data/speech on a still image.

    .venv/bin/python example/make_example.py

Four people read Japanese sentences one after another, 0.8 s apart (Common
Voice, CC0; see tests/data/speech/README.md). `make run` subtitles this video
on a fresh clone, before you have a videos folder of your own.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "scripts"))

from autokr.speech.media import ffmpeg_executable  # noqa: E402

RECORDINGS = [
    "cv_ja_38833628.flac",
    "cv_ja_38843402.flac",
    "cv_ja_38852485.flac",
    "cv_ja_38853932.flac",
]
GAP = 0.8  # seconds between two speakers


def main() -> None:
    """Join the recordings with short pauses and mux them onto a still frame."""
    import av

    files = [ROOT / "tests" / "data" / "speech" / name for name in RECORDINGS]
    seconds = GAP * (len(files) - 1)
    for path in files:
        with av.open(str(path)) as f:
            seconds += f.duration / av.time_base
    args = [ffmpeg_executable(), "-nostdin", "-v", "error", "-y"]
    for path in files:
        args += ["-i", str(path)]
    # The picture lasts as long as the speech (-shortest overshoots at 1 fps).
    args += ["-f", "lavfi", "-i", f"color=c=0x1f2a44:s=640x360:r=1:d={seconds:.3f}"]
    padded = "".join(
        f"[{i}:a]aresample=16000,apad=pad_dur={GAP}[a{i}];" for i in range(len(RECORDINGS) - 1)
    )
    last = len(RECORDINGS) - 1
    padded += f"[{last}:a]aresample=16000[a{last}];"
    joined = "".join(f"[a{i}]" for i in range(len(RECORDINGS)))
    args += ["-filter_complex", f"{padded}{joined}concat=n={len(RECORDINGS)}:v=0:a=1[audio]"]
    args += ["-map", f"{len(RECORDINGS)}:v", "-map", "[audio]"]
    args += ["-c:v", "libx264", "-tune", "stillimage", "-pix_fmt", "yuv420p"]
    args += ["-c:a", "aac", "-b:a", "64k", "-ac", "1", "-metadata:s:a:0", "language=jpn"]
    subprocess.run([*args, str(HERE / "autokr-example.mp4")], check=True)


if __name__ == "__main__":
    main()
