"""Audio as recordings and rips have it: holes, late and early starts, surround, bilingual.

The media are built from the real recordings (see broadcast.py); the checks
are what a viewer notices: speech heard where the video plays it, and the
dialogue of a surround track transcribed as cleanly as the dry voices.
"""

from __future__ import annotations

import json
import re
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

import broadcast
from autokr.core.devices import Placement
from autokr.core.errors import MediaError
from autokr.core.records import read_qa
from autokr.speech import asr
from autokr.speech.media import choose_channels, extract_audio, probe
from runs import configure, copy_project, cues, rules_of, snakemake, started_jobs, subtitle
from speech import kana_cer

CPU = Placement("cpu", "int8")


@pytest.fixture(scope="module")
def files():
    return broadcast.build_all()


@pytest.fixture(scope="module")
def said(files):
    return broadcast.spoken(files)


@pytest.fixture(scope="module")
def model(whisper_model):
    return asr.load_model(str(whisper_model), CPU, cpu_threads=2)


def samples(path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16) / 32768.0


def lag(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Seconds by which ``ours`` plays the same sound later than ``theirs`` (10 ms steps)."""

    def envelope(x: np.ndarray) -> np.ndarray:
        frames = np.abs(x[: len(x) // 160 * 160]).reshape(-1, 160).mean(axis=1)
        return frames - frames.mean()

    a, b = envelope(ours), envelope(theirs)
    scores = np.correlate(a, b, mode="full")
    return (int(np.argmax(scores)) - (len(b) - 1)) / 100


def first_words(transcript, said) -> list[float]:
    """For each sentence, when the first word the transcript heard in it starts."""
    words = [w for seg in transcript.segments for w in seg.words]
    return [
        min((w.start for w in words if s.start - 0.5 <= w.start < s.end), default=-1) for s in said
    ]


@pytest.mark.parametrize("name", ["hole.mkv", "hole.ts"])
def test_a_hole_is_recorded_and_filled_so_later_speech_keeps_its_time(files, said, tmp_path, name):
    done = extract_audio(files / name, tmp_path / "a.wav")
    clean = extract_audio(files / name.replace("hole", "clean"), tmp_path / "clean.wav")
    start, end = broadcast.HOLES[name]
    [(found_start, found_end)] = done.holes
    assert found_start == pytest.approx(start, abs=0.1)
    assert found_end - found_start == pytest.approx(end - start, abs=0.1)
    assert clean.holes == ()
    # Every sample where the video plays it: the speech after the hole is
    # exactly where the file without the hole has it.
    ours, theirs = samples(tmp_path / "a.wav"), samples(tmp_path / "clean.wav")
    assert len(ours) == pytest.approx(len(theirs), abs=16000 * 0.05)
    after = slice(int(end * 16000) + 1600, len(theirs) - 1600)
    assert np.corrcoef(ours[after], theirs[after])[0, 1] > 0.99
    assert np.abs(ours[int(start * 16000) + 800 : int(end * 16000) - 800]).max() == 0


@pytest.mark.parametrize("name", ["hole.mkv", "hole.ts"])
def test_transcribed_speech_after_a_hole_is_timed_as_without_it(files, said, model, tmp_path, name):
    options = asr.TranscribeOptions(model="base", language="ja", beam_size=1)
    timings = {}
    for version in (name, name.replace("hole", "clean")):
        extract_audio(files / version, tmp_path / f"{version}.wav")
        transcript = asr.transcribe(model, tmp_path / f"{version}.wav", options, CPU)
        timings[version] = first_words(transcript, said["gapped"])
    hole_end = broadcast.HOLES[name][1]
    after = [i for i, s in enumerate(said["gapped"]) if s.start > hole_end]
    assert after, "the test file should have speech after its hole"
    for i in after:
        ours, theirs = timings[name][i], timings[name.replace("hole", "clean")][i]
        assert ours >= 0 and abs(ours - theirs) <= 0.3, (said["gapped"][i].text, ours, theirs)


@pytest.mark.parametrize(("name", "shift"), [("late.mp4", broadcast.LATE), ("early.mp4", 0.0)])
def test_audio_that_starts_late_or_early_stays_on_the_video_clock(
    files, said, tmp_path, name, shift
):
    # Late audio is preceded by silence; audio that starts before the video
    # starts the clock, as players play it.
    done = extract_audio(files / name, tmp_path / "a.wav")
    extract_audio(files / "clean.mkv", tmp_path / "clean.wav")
    assert done.holes == ()
    ours, theirs = samples(tmp_path / "a.wav"), samples(tmp_path / "clean.wav")
    assert lag(ours, theirs) == pytest.approx(shift, abs=0.02)
    assert len(ours) / 16000 == pytest.approx(len(theirs) / 16000 + shift, abs=0.1)


@pytest.fixture(scope="module")
def cer(model, files, said, tmp_path_factory):
    """Kana CER of the dialogue heard through ``audio_channels`` from a file."""
    folder = tmp_path_factory.mktemp("channels")
    reference = "".join(s.text for s in said["dialogue"])
    options = asr.TranscribeOptions(model="base", language="ja")

    def measure(name: str, channels: str) -> tuple[float, str]:
        wav = folder / f"{name}.{channels}.wav"
        done = extract_audio(files / name, wav, channels=channels)
        heard = "".join(s.text for s in asr.transcribe(model, wav, options, CPU).segments)
        return kana_cer(reference, heard), done.heard

    return measure


def test_dialogue_comes_from_the_centre_of_surround_as_clean_as_dry_voices(cer, model, media, said):
    # The dry recordings, joined the same way (conftest's dialogue.wav).
    options = asr.TranscribeOptions(model="base", language="ja")
    dry = asr.transcribe(model, media["dialogue.wav"], options, CPU)
    reference = "".join(s.text for s in said["dialogue"])
    dry_cer = kana_cer(reference, "".join(s.text for s in dry.segments))
    for name, layout in [("surround51.mkv", "5.1"), ("surround71.mkv", "7.1")]:
        ours, how = cer(name, "auto")
        assert how == f"center of {layout}"
        assert ours <= dry_cer + 0.02, (name, ours, dry_cer)
    mixed, how = cer("surround51.mkv", "downmix")
    assert how == "downmix of 5.1"
    assert mixed > dry_cer + 0.1, "the music and noise should bury the voices in a plain downmix"


def test_a_silent_centre_falls_back_to_all_channels_and_says_so(files, media, tmp_path):
    done = extract_audio(files / "silentcentre.mkv", tmp_path / "a.wav")
    assert done.heard == "center of 5.1"
    assert re.fullmatch(
        r"the centre channel is silent for 3\d\.\d s of 3\d\.\d s: all channels mixed there",
        done.note,
    )
    ours, dry = samples(tmp_path / "a.wav"), samples(media["dialogue.wav"])
    size = min(len(ours), len(dry))
    assert np.corrcoef(ours[:size], dry[:size])[0, 1] > 0.9
    # Asked for by name, the centre is what the user gets.
    assert (
        extract_audio(files / "silentcentre.mkv", tmp_path / "b.wav", channels="center").note == ""
    )


def test_a_spliced_recording_from_surround_to_stereo_keeps_every_voice(files, said, tmp_path):
    # ffmpeg rebuilds its filters where the layout changes: the stereo part
    # must neither move (a second lead-in) nor go silent (no centre channel).
    done = extract_audio(files / "spliced.ts", tmp_path / "a.wav")
    assert done.heard == "center of 5.1"
    assert "all channels mixed there" in done.note and "clock jumps 1 time(s)" in done.note
    ours = samples(tmp_path / "a.wav")
    total = said["dialogue"][-1].end
    assert len(ours) / 16000 == pytest.approx(total, abs=0.2)
    for s in said["dialogue"]:
        heard = ours[int(s.start * 16000) + 1600 : int(s.end * 16000) - 1600]
        assert np.abs(heard).max() > 0.05, f"{s.text} is silent at {s.start} s"


def test_each_side_of_a_bilingual_track_is_heard_alone(files, said, model, tmp_path):
    options = asr.TranscribeOptions(model="base", language="ja")
    talk = said["dialogue"]
    half = len(talk) // 2
    for side, spoken in [("left", talk[:half]), ("right", talk[half:])]:
        done = extract_audio(files / "bilingual.ts", tmp_path / f"{side}.wav", channels=side)
        assert done.heard == f"{side} of stereo"
        heard = "".join(
            s.text for s in asr.transcribe(model, tmp_path / f"{side}.wav", options, CPU).segments
        )
        assert kana_cer("".join(s.text for s in spoken), heard) <= 0.15, (side, heard)
    # auto mixes a plain stereo track (there is no centre channel to prefer).
    assert choose_channels(probe(files / "bilingual.ts").audio[0], "auto", files) == "downmix"


def test_a_missing_channel_is_one_line_naming_the_file(files, tmp_path):
    video = files / "bilingual.ts"
    with pytest.raises(MediaError) as caught:
        extract_audio(video, tmp_path / "a.wav", channels="center")
    assert str(caught.value) == (
        f"{video}: audio_channels is center, but audio track 0 (stereo) has no center channel"
    )
    assert not (tmp_path / "a.wav").exists()
    # A mono track is heard as it is, whatever is asked.
    assert extract_audio(files / "clean.mkv", tmp_path / "b.wav", channels="left").heard == "mono"


@pytest.fixture(scope="module")
def library(tmp_path_factory, whisper_model, nllb_model, files) -> Path:
    """A project whose videos are a clean file, the same with a drop-out, and a 5.1 rip."""
    root = copy_project(tmp_path_factory.mktemp("recordings"))
    configure(root, whisper_model, nllb_model)
    (root / "videos").mkdir()
    for name, as_name in [("clean.ts", "clean.ts"), ("hole.ts", "dropout.ts")]:
        shutil.copy(files / name, root / "videos" / as_name)
    shutil.copy(files / "surround51.mkv", root / "videos" / "film.mkv")
    done = snakemake(root)
    assert done.returncode == 0, done.stderr[-3000:]
    return root


@pytest.mark.workflow
def test_a_recording_with_a_drop_out_is_subtitled_on_its_own_clock(library, said):
    start, end = broadcast.HOLES["hole.ts"]
    media = json.loads((library / "results/videos/dropout/media.json").read_text("utf-8"))
    [hole] = media["audio_holes"]
    assert hole["start"] == pytest.approx(start, abs=0.1)
    assert hole["end"] == pytest.approx(end, abs=0.1)
    # The Japanese cues after the hole start where the file without it has them.
    ours = [c.start.total_seconds() for c in cues(subtitle(library, "dropout", "ja"))]
    theirs = [c.start.total_seconds() for c in cues(subtitle(library, "clean", "ja"))]
    after = [t for t in theirs if t > end]
    assert after and [t for t in ours if t > end - 1] == pytest.approx(after, abs=0.3)
    qa = read_qa(library / "results/videos/dropout/qa.json")
    assert [(h.start, h.end) for h in qa.audio_holes] == [(hole["start"], hole["end"])]
    summary = (library / "results/summary.md").read_text("utf-8")
    assert "3 done" in summary and "0 failed" in summary
    hole_text = f"{hole['end'] - hole['start']:.1f} s at {hole['start']:.2f} s"
    assert f"| dropout | - | {hole_text} |" in summary.splitlines()


@pytest.mark.workflow
def test_a_surround_rip_is_heard_from_its_centre_and_says_so(library):
    media = json.loads((library / "results/videos/film/media.json").read_text("utf-8"))
    assert media["audio_channels"] == "center of 5.1"
    assert read_qa(library / "results/videos/film/qa.json").audio_channels == "center of 5.1"
    summary = (library / "results/summary.md").read_text("utf-8")
    assert "| film | center of 5.1 | - |" in summary
    assert len(cues(subtitle(library, "film", "ja"))) >= 4


def recorded_params(project: Path, output: str) -> list[str]:
    """The params Snakemake recorded for the job that wrote ``output``."""
    for record in (project / ".snakemake" / "metadata").iterdir():
        data = json.loads(record.read_text(encoding="utf-8"))
        if data.get("rule") == "extract_audio" and output in data.get("output", [output]):
            return data["params"]
    raise AssertionError(f"no metadata for {output}")


@pytest.mark.workflow
def test_audio_channels_reruns_only_when_it_changes_from_its_default(library):
    # The params of extract_audio at the defaults are those an earlier autokr
    # recorded (audio_track, source_language): an update reruns no video.
    assert recorded_params(library, "results/videos/film/media.json") == ["'auto'", "'ja'"]
    # At its default the key reruns nothing (what an update of autokr does);
    # a change redoes every video from its audio on.
    same = snakemake(library, "--dry-run", "--config", "audio_channels=auto")
    assert same.returncode == 0 and started_jobs(same.stdout + same.stderr) == []
    other = snakemake(library, "--dry-run", "--config", "audio_channels=downmix")
    assert rules_of(started_jobs(other.stdout + other.stderr))["extract_audio"] == 3
