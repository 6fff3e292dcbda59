"""A one-hour video: killed during extraction, finished by `make run`, memory measured."""

import shutil
import signal

import pytest

from autokr.core.records import read_qa, read_transcript
from conftest import HOUR_SENTENCES
from runs import configure, copy_project, interrupt, korean_text, make_run, start_held
from speech import PAIRS

pytestmark = pytest.mark.workflow

#: Whisper base on the CPU must keep every step of a one-hour file under this.
PEAK_MEMORY_MB = 2048


@pytest.fixture(scope="module")
def hour_project(tmp_path_factory, whisper_model, nllb_model, hour_video):
    root = copy_project(tmp_path_factory.mktemp("hour"))
    configure(root, whisper_model, nllb_model)
    (root / "videos").mkdir()
    shutil.copy(hour_video, root / "videos" / "hour.mp4")

    # ffmpeg has written the audio under its temporary name; the step is held
    # before the rename, and the power goes out.
    gate = root / "hold"
    proc = start_held(root, "extract_audio.written", gate)
    tmp = root / "results" / "videos" / "hour" / "audio.wav.tmp"
    interrupt(proc, signal.SIGKILL)
    assert not (root / "results" / "videos" / "hour" / "media.json").exists()
    assert tmp.exists()  # left half-written by the kill; the next run must not trust it

    finished = make_run(root)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "removed a stale lock" in finished.stderr
    return root


def test_killed_extraction_is_redone_whole(hour_project):
    folder = hour_project / "results" / "videos" / "hour"
    assert not (folder / "audio.wav.tmp").exists()
    transcript = read_transcript(folder / "transcript.json")
    assert transcript.duration == pytest.approx(3600, abs=1)
    # Batched decoding glues the three far-apart chunks into one window; the
    # transcript splits them again at the long silences.
    assert [round(s.start / 60) for s in transcript.segments] == list(HOUR_SENTENCES)
    assert all(s.end - s.start < 10 for s in transcript.segments)
    korean = [PAIRS[i][1] for i in HOUR_SENTENCES.values()]
    assert korean_text(hour_project, "hour") == " ".join(korean)


def test_every_step_of_an_hour_stays_under_2_gb(hour_project):
    # Each step's own peak, from the kernel (Snakemake's benchmark samples miss
    # short steps).
    peaks = read_qa(hour_project / "results" / "videos" / "hour" / "qa.json").peak_memory_mb
    assert set(peaks) == {"extract_audio", "transcribe", "translate.ko", "make_srt"}
    assert all(0 < mb < PEAK_MEMORY_MB for mb in peaks.values()), peaks
