"""The whole workflow, run as a user runs it: `snakemake` (and `make run`) as subprocesses.

One project folder is shared by the tests of this module, which run in order:
first run, nothing-changed run, a new video, a killed run, a model change.
"""

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import srt
import yaml

from autokr.layout import rules_for, text_width
from autokr.records import read_qa, read_transcript, read_translation
from conftest import GROUPS, ROOT
from speech import KOREAN, kana_cer

pytestmark = pytest.mark.workflow

PROJECT_FILES = [
    "Snakefile",
    "rules",
    "scripts",
    "config",
    "profiles",
    "envs",
    "Makefile",
    "requirements.txt",
    "requirements-torch.txt",
]
PWNED = "it's $(touch PWNED) & co"
BROKEN = {"video=broken", "video=noaudio"}
GOOD = {"日本語 の 動画": "three", "season 1/ep.01": "two", PWNED: "one"}


def copy_project(dest: Path) -> Path:
    """A fresh checkout of autokr in ``dest``, sharing the test run's virtualenv."""
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)  # keeps mtimes, so make sees setup as done
    (dest / ".venv").symlink_to(Path(sys.prefix))
    return dest


@pytest.fixture(scope="module")
def project(tmp_path_factory, whisper_model, nllb_model, media):
    root = copy_project(tmp_path_factory.mktemp("autokr"))
    videos = root / "videos"
    (videos / "season 1").mkdir(parents=True)
    shutil.copy(media["three.mp4"], videos / "日本語 の 動画.mp4")
    shutil.copy(media["two.webm"], videos / "season 1" / "ep.01.webm")
    shutil.copy(media["one.mkv"], videos / f"{PWNED}.mkv")
    shutil.copy(media["silent.mp4"], videos / "silent.mp4")
    shutil.copy(media["music.mp4"], videos / "music.mp4")
    shutil.copy(media["noaudio.mp4"], videos / "noaudio.mp4")
    (videos / "broken.mp4").write_bytes(os.urandom(2048))
    shutil.copy(media["one.mkv"], videos / "dup.mkv")
    shutil.copy(media["one.mkv"], videos / "dup.mp4")
    shutil.copy(media["one.mkv"], videos / "braces {x}.mp4")
    config = yaml.safe_load((root / "config" / "config.yaml").read_text(encoding="utf-8"))
    config["transcribe"].update(model=str(whisper_model), beam_size=1, device="cpu", threads=2)
    config["translate"].update(model=str(nllb_model), device="cpu", batch_size=4, threads=2)
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return root


def snakemake(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(project / ".venv" / "bin" / "snakemake"), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )


def started_jobs(output: str) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job Snakemake started, from its log output."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", output):
        head = re.match(r"(?:local)?rule (\w+):\n", block)
        if head and head.group(1) != "all":
            wildcards = re.search(r"^    wildcards: (.*)$", block, re.MULTILINE)
            jobs.append((head.group(1), wildcards.group(1) if wildcards else ""))
    return jobs


def good_jobs(result: subprocess.CompletedProcess) -> list[tuple[str, str]]:
    """Started jobs, less those of the broken inputs (which every run retries)."""
    return [(r, w) for r, w in started_jobs(result.stderr) if w not in BROKEN]


def rules_of(jobs) -> Counter:
    return Counter(rule for rule, _ in jobs)


def cues(path: Path) -> list[srt.Subtitle]:
    return list(srt.parse(path.read_text(encoding="utf-8")))


def subtitle(project: Path, video: str, label: str) -> Path:
    return project / "results" / "subtitles" / f"{video}.{label}.srt"


@pytest.fixture(scope="module")
def first_run(project):
    return snakemake(project)


def test_first_run_subtitles_every_good_video(project, first_run, spoken):
    assert first_run.returncode != 0, "broken inputs must make the run fail"
    for video, group in GOOD.items():
        korean = cues(subtitle(project, video, "ko"))
        japanese = cues(subtitle(project, video, "ja"))
        for sentence in spoken[group]:
            # The right Korean lands under the sentence spoken at that time.
            under = [c for c in korean if overlaps(c, sentence)]
            assert (
                " ".join(" ".join(c.content.split("\n")) for c in under) == KOREAN[sentence.text]
            ), (video, sentence.text, under)
            assert any(overlaps(c, sentence) for c in japanese)
        assert all(any(overlaps(c, s) for s in spoken[group]) for c in korean)
        translation = read_translation(
            project / "results" / "videos" / video / "translation.ko.json"
        )
        assert all(c.text for c in translation.cues)
        assert translation.sentences == len(spoken[group])


def test_transcripts_read_as_well_as_plain_faster_whisper(project, first_run, whisper_model, media):
    from faster_whisper import WhisperModel

    model = WhisperModel(str(whisper_model), device="cpu", compute_type="int8", cpu_threads=2)
    for video, group in GOOD.items():
        transcript = read_transcript(project / "results" / "videos" / video / "transcript.json")
        audio = str(media[f"{group}.wav"])
        plain, _ = model.transcribe(audio, language="ja", beam_size=1, vad_filter=True)
        reference = "".join(GROUPS[group])
        ours = kana_cer(reference, "".join(s.text for s in transcript.segments))
        theirs = kana_cer(reference, "".join(s.text for s in plain))
        assert ours <= theirs + 0.01 and ours <= 0.15, (video, ours, theirs)


def overlaps(cue: srt.Subtitle, sentence) -> bool:
    return cue.start.total_seconds() < sentence.end and cue.end.total_seconds() > sentence.start


def test_korean_cues_keep_the_layout_rules(project, first_run):
    gap = 2 / 24  # the test videos run at 24 frames a second
    for video in GOOD:
        subs = cues(subtitle(project, video, "ko"))
        assert subs
        for sub in subs:
            lines = sub.content.split("\n")
            assert len(lines) <= 2
            assert all(text_width(line, rules_for("ko")) <= 16 for line in lines), lines
            assert 5 / 6 - 1e-3 <= (sub.end - sub.start).total_seconds() <= 7
        for a, b in itertools.pairwise(subs):
            assert (b.start - a.end).total_seconds() >= gap - 1e-3
        qa = read_qa(project / "results" / "videos" / video / "qa.json")
        assert qa.rule_breaks["ko"] == []
        assert qa.cues["ko"] == len(subs)


def test_summary_names_every_video(project, first_run):
    summary = (project / "results" / "summary.md").read_text(encoding="utf-8")
    assert summary in first_run.stderr  # printed too
    assert "5 done, 3 skipped, 2 failed, of 10 inputs." in summary
    assert "| broken | extract_audio | videos/broken.mp4: not a readable" in summary
    assert "| noaudio | extract_audio | videos/noaudio.mp4: no audio stream |" in summary
    assert "| videos/dup.mkv | same name as videos/dup.mp4; rename one of them |" in summary
    for video in [*GOOD, "silent", "music"]:
        assert f"| {video} | " in summary


@pytest.mark.parametrize("video", ["silent", "music"])
def test_silent_or_music_video_gets_a_valid_empty_srt(project, first_run, video):
    assert subtitle(project, video, "ko").read_text(encoding="utf-8") == ""
    assert subtitle(project, video, "ja").read_text(encoding="utf-8") == ""


def test_bad_inputs_fail_alone_with_one_line_each(project, first_run):
    err = first_run.stderr
    assert "autokr: videos/broken.mp4: not a readable video or audio file" in err
    assert "autokr: videos/noaudio.mp4: no audio stream" in err
    assert err.count("autokr: videos/dup.mkv: skipped: same name as videos/dup.mp4") == 1
    assert "autokr: videos/dup.mp4: skipped: same name as videos/dup.mkv" in err
    assert "autokr: videos/braces {x}.mp4: skipped: name contains '{' and '}'" in err
    for name in ("broken", "noaudio", "dup", "braces {x}"):
        assert not subtitle(project, name, "ko").exists()
    log = project / "results" / "logs" / "extract_audio" / "noaudio.log"
    assert "autokr: videos/noaudio.mp4: no audio stream" in log.read_text(encoding="utf-8")


def test_no_name_reaches_a_shell(project, first_run):
    assert subtitle(project, PWNED, "ko").exists()
    assert not list(project.rglob("PWNED")) and not (ROOT / "PWNED").exists()


def test_audio_is_temporary_and_records_say_where_they_ran(project, first_run):
    folder = project / "results" / "videos" / "season 1" / "ep.01"
    assert not (folder / "audio.wav").exists()
    transcript = read_transcript(folder / "transcript.json")
    assert transcript.run.device == "cpu" and transcript.settings["device"] == "cpu"
    assert list(project.joinpath("results").rglob("*.tmp")) == []


def test_second_run_starts_no_job_for_a_good_video(project, first_run):
    second = snakemake(project)
    jobs = started_jobs(second.stderr)
    assert jobs, second.stderr
    assert {w for _, w in jobs} == BROKEN
    assert "autokr: videos/broken.mp4: not a readable video or audio file" in second.stderr


def test_new_video_adds_only_its_own_jobs(project, first_run, media):
    before = subtitle(project, "silent", "ko").stat().st_mtime_ns
    shutil.copy(media["one.mkv"], project / "videos" / "added.mkv")
    result = snakemake(project)
    good = good_jobs(result)
    assert rules_of(good) == {"extract_audio": 1, "transcribe": 1, "translate": 1, "make_srt": 1}
    assert all("video=added" in w for _, w in good)
    assert subtitle(project, "silent", "ko").stat().st_mtime_ns == before


def test_replaced_video_is_redone(project, first_run, media):
    # A new download under the same name: other bytes, newer than its transcript.
    shutil.copy(media["two.webm"], project / "videos" / "added.mkv")
    result = snakemake(project)
    good = good_jobs(result)
    assert rules_of(good) == {"extract_audio": 1, "transcribe": 1, "translate": 1, "make_srt": 1}
    assert all("video=added" in w for _, w in good)


def test_edited_transcript_redoes_only_translate_and_make_srt(project, first_run):
    path = project / "results" / "videos" / "added" / "transcript.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["segments"][0]["text"] = "山に登りました。"  # a user fixing a misheard line
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = snakemake(project)
    good = good_jobs(result)
    assert rules_of(good) == {"translate": 1, "make_srt": 1}
    assert "山に登りました。" in subtitle(project, "added", "ja").read_text(encoding="utf-8")


def test_killed_run_is_finished_by_make_run(project, first_run, media, spoken):
    shutil.copy(media["three.mp4"], project / "videos" / "later.mp4")
    log = project / "results" / "logs" / "transcribe" / "later.log"
    proc = subprocess.Popen(
        [str(project / ".venv" / "bin" / "snakemake")],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while not (log.exists() and " model " in log.read_text(encoding="utf-8")):
        assert proc.poll() is None and time.time() < deadline, "transcribe never started"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group, as a power cut would
    proc.wait()
    transcript = project / "results" / "videos" / "later" / "transcript.json"
    assert not transcript.exists(), "the kill came too late to interrupt transcribe"
    assert list((project / ".snakemake" / "locks").glob("*.lock")), "expected a stale lock"

    result = subprocess.run(
        ["make", "run"], cwd=project, capture_output=True, text=True, timeout=600
    )
    assert "removed a stale lock" in result.stderr
    assert result.returncode != 0  # the broken inputs still fail
    korean = " ".join(c.content.replace("\n", " ") for c in cues(subtitle(project, "later", "ko")))
    assert korean == " ".join(KOREAN[s.text] for s in spoken["three"])
    assert read_transcript(transcript).segments


def test_model_change_reruns_translate_and_make_srt_only(project, first_run, nllb_model):
    other = project.parent / "nllb-copy"
    shutil.copytree(nllb_model, other)
    mine = project / "mine.yaml"
    mine.write_text(yaml.safe_dump({"translate": {"model": str(other)}}), encoding="utf-8")
    result = snakemake(project, "--configfile", str(mine))
    good = good_jobs(result)
    videos = len(list(project.glob("results/videos/**/transcript.json")))
    assert rules_of(good) == {"translate": videos, "make_srt": videos}
    translation = read_translation(
        project / "results" / "videos" / "日本語 の 動画" / "translation.ko.json"
    )
    # The partial file changed only the key it names; the rest stays as configured.
    assert translation.settings["model"] == str(other)
    assert translation.settings["batch_size"] == 4


def test_model_heavy_jobs_never_overlap(project, first_run):
    spans = []
    for path in project.glob("results/videos/**/transcript.json"):
        spans.append(read_transcript(path).run)
    for path in project.glob("results/videos/**/translation.*.json"):
        spans.append(read_translation(path).run)
    spans = [(run.started, run.finished) for run in spans]
    spans.sort()
    assert len(spans) >= 8
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end


def test_bad_config_stops_before_any_job(project, first_run):
    bad = project / "bad.yaml"
    bad.write_text("translate:\n  batch_size: x\n", encoding="utf-8")
    result = snakemake(project, "--configfile", str(bad))
    assert result.returncode == 1
    assert "autokr: config: translate.batch_size: 'x' is not of type 'integer'" in result.stderr
    assert started_jobs(result.stderr) == []


def test_missing_videos_folder_is_one_line(project, first_run):
    result = snakemake(project, "--config", "videos=nowhere")
    assert result.returncode == 1
    assert "autokr: nowhere: videos folder not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_lint_is_clean(project, first_run):
    result = snakemake(project, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr
