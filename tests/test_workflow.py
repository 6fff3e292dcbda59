"""The whole workflow, run as a user runs it: `snakemake` (and `make run`) as subprocesses.

One project folder is shared by the tests of this module, which run in order:
the first run over good, silent, broken, hostile and duplicate inputs; a
nothing-changed run; new, replaced and edited inputs; runs killed in several
ways; an out-of-memory retry; two runs at once; a model change.
"""

import itertools
import json
import os
import random
import shutil
import signal
import unicodedata

import pytest
import yaml

from autokr.core.records import read_qa, read_transcript, read_translation
from autokr.text.layout import rules_for, text_width
from conftest import GROUPS, ROOT
from runs import (
    configure,
    copy_project,
    cues,
    files_outside_results,
    interrupt,
    korean_text,
    logged,
    make_run,
    release,
    rules_of,
    snakemake,
    start_held,
    started_jobs,
    subtitle,
    wait_for,
)
from speech import KOREAN, kana_cer

pytestmark = pytest.mark.workflow

PWNED = "it's $(touch PWNED) & co"
#: Good videos and the sentences spoken in them.
GOOD = {
    "日本語 の 動画": "three",
    "season 1/ep.01": "two",
    PWNED: "one",
    "late": "one",  # its audio starts 2 s after the video
    "tracks": "three",  # English music track first, the Japanese track second
    "a-link": "one",  # a symlink to zz-real.mkv, met first
}
BROKEN = {"broken", "noaudio", "truncated"}


@pytest.fixture(scope="module")
def project(tmp_path_factory, whisper_model, nllb_model, media):
    root = copy_project(tmp_path_factory.mktemp("autokr"))
    configure(root, whisper_model, nllb_model)
    videos = root / "videos"
    (videos / "season 1").mkdir(parents=True)
    copies = {
        "three.mp4": ["日本語 の 動画.mp4"],
        "two.webm": ["season 1/ep.01.webm"],
        "one.mkv": [f"{PWNED}.mkv", "dup.mkv", "dup.mp4", "braces {x}.mp4", "zz-real.mkv"],
        "late.mp4": ["late.mp4"],
        "tracks.mkv": ["tracks.mkv"],
        "silent.mp4": ["silent.mp4"],
        "music.mp4": ["music.mp4"],
        "noaudio.mp4": ["noaudio.mp4"],
    }
    for source, names in copies.items():
        for name in names:
            shutil.copy(media[source], videos / name)
    for form in ("NFC", "NFD"):
        shutil.copy(media["one.mkv"], videos / unicodedata.normalize(form, "ガイド.mkv"))
    shutil.copy(media["one.mkv"], videos / "new\nline.mkv")
    (videos / "a-link.mkv").symlink_to("zz-real.mkv")
    (videos / "season 1" / "loop").symlink_to("..")
    # Bytes no demuxer takes for a format (fixed: random ones now and then look like one).
    (videos / "broken.mp4").write_bytes(random.Random(0).randbytes(2048))
    data = media["one.mkv"].read_bytes()
    (videos / "truncated.mkv").write_bytes(data[: len(data) * 2 // 3])
    return root


@pytest.fixture(scope="module")
def first_run(project):
    before = files_outside_results(project)
    result = snakemake(project)
    result.files_before = before
    return result


def good_jobs(result) -> list[tuple[str, str]]:
    """Started jobs (or, in a dry run, jobs to start), less those of the broken inputs."""
    return [
        (rule, w)
        for rule, w in started_jobs(result.stderr + "\n" + result.stdout)
        if w.split(",")[0].removeprefix("video=") not in BROKEN
    ]


def overlaps(cue, sentence, shift=0.0) -> bool:
    start, end = sentence.start + shift, sentence.end + shift
    return cue.start.total_seconds() < end and cue.end.total_seconds() > start


def test_first_run_subtitles_every_good_video(project, first_run, spoken):
    assert first_run.returncode != 0, "broken inputs must make the run fail"
    for video, group in GOOD.items():
        shift = 2.0 if video == "late" else 0.0
        korean = cues(subtitle(project, video, "ko"))
        japanese = cues(subtitle(project, video, "ja"))
        for sentence in spoken[group]:
            # The right Korean lands under the sentence spoken at that time.
            under = [c for c in korean if overlaps(c, sentence, shift)]
            text = " ".join(c.content.replace("\n", " ") for c in under)
            assert text == KOREAN[sentence.text], (video, sentence, under)
            assert any(overlaps(c, sentence, shift) for c in japanese)
        assert all(any(overlaps(c, s, shift) for s in spoken[group]) for c in korean)
        translation = read_translation(
            project / "results" / "videos" / video / "translation.ko.json"
        )
        assert all(c.text for c in translation.cues)
        assert translation.sentences == len(spoken[group])


def test_audio_that_starts_late_stays_in_sync(project, first_run, spoken):
    [cue] = cues(subtitle(project, "late", "ko"))
    said = spoken["one"][0]
    assert cue.start.total_seconds() == pytest.approx(said.start + 2.0, abs=0.4)
    media = json.loads((project / "results/videos/late/media.json").read_text("utf-8"))
    assert media["audio_offset"] == pytest.approx(2.0, abs=0.05)


def test_the_track_in_the_source_language_is_transcribed(project, first_run):
    media = json.loads((project / "results/videos/tracks/media.json").read_text("utf-8"))
    assert (media["audio_track"], media["audio_language"], media["audio_streams"]) == (
        1,
        "jpn",
        2,
    )


def test_transcripts_read_as_well_as_plain_faster_whisper(project, first_run, whisper_model, media):
    from faster_whisper import WhisperModel

    model = WhisperModel(str(whisper_model), device="cpu", compute_type="int8", cpu_threads=2)
    for video, group in [("日本語 の 動画", "three"), ("season 1/ep.01", "two"), (PWNED, "one")]:
        transcript = read_transcript(project / "results" / "videos" / video / "transcript.json")
        audio = str(media[f"{group}.wav"])
        plain, _ = model.transcribe(audio, language="ja", beam_size=1, vad_filter=True)
        reference = "".join(GROUPS[group])
        ours = kana_cer(reference, "".join(s.text for s in transcript.segments))
        theirs = kana_cer(reference, "".join(s.text for s in plain))
        assert ours <= theirs + 0.01 and ours <= 0.15, (video, ours, theirs)


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
        assert qa.transcription == "batched (8)"
        assert qa.uncovered_after == 0.0, qa.uncovered  # no speech left without text
        assert qa.rule_breaks["ko"] == []
        assert qa.cues["ko"] == len(subs)


@pytest.mark.parametrize("video", ["silent", "music"])
def test_silent_or_music_video_gets_a_valid_empty_srt(project, first_run, video):
    assert subtitle(project, video, "ko").read_text(encoding="utf-8") == ""
    assert subtitle(project, video, "ja").read_text(encoding="utf-8") == ""


def test_bad_inputs_fail_alone_with_one_line_each(project, first_run):
    err = first_run.stderr
    assert "autokr: videos/broken.mp4: not a readable video or audio file" in err
    assert "autokr: videos/noaudio.mp4: no audio stream" in err
    assert "autokr: videos/truncated.mkv: file is cut short" in err
    assert err.count("autokr: videos/dup.mkv: skipped: same name as videos/dup.mp4") == 1
    assert "autokr: videos/braces {x}.mp4: skipped: name contains '{' and '}'" in err
    assert "autokr: videos/new\nline.mkv: skipped: name contains a newline" in err
    assert "autokr: videos/zz-real.mkv: skipped: same file as videos/a-link.mkv" in err
    assert "autokr: videos/season 1/loop: skipped: links to a folder already scanned" in err
    assert unicodedata.normalize("NFC", err).count("ガイド.mkv: skipped: same name as") == 2
    for name in ("broken", "noaudio", "truncated", "dup", "braces {x}", "zz-real", "ガイド"):
        assert not subtitle(project, name, "ko").exists()
    log = project / "results" / "logs" / "extract_audio" / "noaudio.log"
    assert "autokr: videos/noaudio.mp4: no audio stream" in log.read_text(encoding="utf-8")


def test_morning_report_names_every_input(project, first_run):
    summary = (project / "results" / "summary.md").read_text(encoding="utf-8")
    assert summary in first_run.stderr  # printed too
    assert (
        "19 inputs: 8 done, 0 unchanged, 8 skipped (5 duplicate, 1 link, 2 name), 3 failed."
        in summary
    )
    assert (
        "| videos/broken.mp4 | extract_audio | videos/broken.mp4: not a readable video or audio "
        "file (Invalid data found when processing input) "
        "| results/logs/extract_audio/broken.log |" in summary
    )
    assert "| videos/noaudio.mp4 | extract_audio | videos/noaudio.mp4: no audio stream |" in summary
    assert "| videos/dup.mkv | same name as videos/dup.mp4; rename one of them |" in summary
    for video in [*GOOD, "silent", "music"]:
        assert f"| {video} | done | " in summary


def test_no_name_reaches_a_shell(project, first_run):
    assert subtitle(project, PWNED, "ko").exists()
    assert not list(project.rglob("PWNED")) and not (ROOT / "PWNED").exists()


def test_nothing_is_written_outside_results(project, first_run):
    assert files_outside_results(project) == first_run.files_before


def test_audio_is_temporary_and_records_say_where_they_ran(project, first_run):
    folder = project / "results" / "videos" / "season 1" / "ep.01"
    assert not (folder / "audio.wav").exists()
    transcript = read_transcript(folder / "transcript.json")
    assert transcript.run.device == "cpu" and transcript.settings["device"] == "cpu"
    assert transcript.settings["batch_size"] == 8 and transcript.mode == "batched (8)"
    translation = read_translation(folder / "translation.ko.json")
    assert (translation.settings["backend"], translation.settings["compute_type"]) == (
        "ctranslate2",
        "auto",
    )
    assert translation.run.compute_type == "int8"  # what auto means on the CPU
    assert list(project.joinpath("results").rglob("*.tmp")) == []


def test_each_step_records_its_own_peak_memory(project, first_run, whisper_model, nllb_model):
    folder = project / "results" / "videos" / "season 1" / "ep.01"
    model_mb = (whisper_model / "model.bin").stat().st_size / 2**20
    transcript = read_transcript(folder / "transcript.json")
    # A step that loaded a model holds more than the model's file.
    assert transcript.run.peak_rss_mb > model_mb
    translation = read_translation(folder / "translation.ko.json")
    nllb_mb = sum(p.stat().st_size for p in nllb_model.glob("*.safetensors")) / 2**20
    # Python and CTranslate2 take some 50 MB beside the model (50.7 MB measured in
    # one run, more in others); the floor only proves the figure is a real peak.
    assert translation.run.peak_rss_mb > nllb_mb + 25
    media = json.loads((folder / "media.json").read_text(encoding="utf-8"))
    assert media["run"]["children_peak_rss_mb"] > 5  # ffmpeg, which did the work
    qa = read_qa(folder / "qa.json")
    assert set(qa.peak_memory_mb) == {"extract_audio", "transcribe", "translate.ko", "make_srt"}
    assert qa.peak_memory_mb["transcribe"] == transcript.run.peak_rss_mb
    assert qa.peak_memory_mb["make_srt"] < qa.peak_memory_mb["transcribe"]
    assert qa.gpu_peak_mb == {}  # nothing ran on CUDA


def test_second_run_starts_no_job_for_a_good_video(project, first_run):
    second = snakemake(project)
    jobs = started_jobs(second.stderr)
    assert {w.removeprefix("video=") for _, w in jobs} == BROKEN
    assert "autokr: videos/broken.mp4: not a readable video or audio file" in second.stderr
    assert "0 done, 8 unchanged" in (project / "results" / "summary.md").read_text("utf-8")


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
    good = good_jobs(snakemake(project))
    assert rules_of(good) == {"extract_audio": 1, "transcribe": 1, "translate": 1, "make_srt": 1}
    assert all("video=added" in w for _, w in good)


def test_edited_transcript_redoes_only_translate_and_make_srt(project, first_run):
    path = project / "results" / "videos" / "added" / "transcript.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["segments"][0]["text"] = "山に登りました。"  # a user fixing a misheard line
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    good = good_jobs(snakemake(project))
    assert rules_of(good) == {"translate": 1, "make_srt": 1}
    assert "山に登りました。" in subtitle(project, "added", "ja").read_text(encoding="utf-8")


def test_a_replaced_video_that_fails_is_reported_failed_not_unchanged(project, first_run, media):
    # 'added' is finished; a new file replaces it, and its transcription fails
    # (every try runs out of memory). Snakemake removes only the transcript.
    shutil.copy(media["three.mp4"], project / "videos" / "added.mkv")
    failing = snakemake(project, env={"AUTOKR_FAULT_OOM_ABOVE_BATCH": "1"})
    assert [w for r, w in good_jobs(failing) if r == "transcribe"] == ["video=added"] * 3
    summary = (project / "results" / "summary.md").read_text(encoding="utf-8")
    assert "| added | unchanged |" not in summary
    assert (
        "| videos/added.mkv | transcribe | results/videos/added/audio.wav: out of memory on cpu "
        "with batch_size 2 and int8 (attempt 3); a retry takes lighter settings "
        "| results/logs/transcribe/added.log | subtitles of the earlier input removed |"
    ) in summary
    # Nothing of the earlier input is left looking current.
    assert not subtitle(project, "added", "ko").exists()
    assert not subtitle(project, "added", "ja").exists()
    assert not (project / "results" / "videos" / "added" / "qa.json").exists()
    # Once it can be transcribed, the next run makes them again.
    good = good_jobs(snakemake(project))
    assert rules_of(good) == {"transcribe": 1, "translate": 1, "make_srt": 1}
    assert "| added | done |" in (project / "results" / "summary.md").read_text("utf-8")


@pytest.mark.parametrize(
    ("video", "step", "sig"),
    [
        ("killed", "transcribe", signal.SIGKILL),
        ("terminated", "translate", signal.SIGTERM),
        ("interrupted", "transcribe", signal.SIGINT),
    ],
)
def test_interrupted_run_is_finished_by_make_run(
    project, first_run, media, spoken, tmp_path, video, step, sig
):
    shutil.copy(media["three.mp4"], project / "videos" / f"{video}.mp4")
    folder = project / "results" / "videos" / video
    output = folder / ("translation.ko.json" if step == "translate" else "transcript.json")
    # The step waits, its model loaded, until the test has stopped the run:
    # no race against the machine's speed.
    gate, out = tmp_path / "hold", tmp_path / "snakemake.out"
    proc = start_held(project, f"{step}.model", gate, output=out)
    try:
        if sig == signal.SIGTERM:  # Snakemake lets the running job finish, starts no more
            proc.send_signal(sig)
            wait_for("Snakemake to stop starting jobs", logged(out, "Will exit after"), proc)
            release(gate)
            proc.wait(timeout=300)
            output = folder / "qa.json"
        else:
            interrupt(proc, sig)
    finally:
        release(gate)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert not output.exists()

    result = make_run(project)
    assert result.returncode != 0  # the broken inputs still fail
    if sig == signal.SIGKILL:
        assert "removed a stale lock" in result.stderr
    assert korean_text(project, video) == " ".join(KOREAN[s.text] for s in spoken["three"])
    # Only the interrupted video's jobs ran again.
    assert {w.split(",")[0] for _, w in good_jobs(result)} == {f"video={video}"}
    assert list(project.joinpath("results").rglob("*.tmp")) == []


def test_out_of_memory_is_retried_with_half_the_batch(project, first_run, media, spoken):
    shutil.copy(media["three.mp4"], project / "videos" / "oom.mp4")
    # Over the switch: transcribe's batches of 8 and 4, and translate's 4 (three
    # sentences in one batch); under it: the halved batches of 2.
    result = snakemake(project, env={"AUTOKR_FAULT_OOM_ABOVE_BATCH": "2"})
    jobs = good_jobs(result)
    assert [w for r, w in jobs if r == "transcribe"] == ["video=oom"] * 3
    assert [w for r, w in jobs if r == "translate"] == ["video=oom, lang=ko"] * 2
    for line in [
        "out of memory on cpu with batch_size 8 and int8 (attempt 1)",
        "out of memory on cpu with batch_size 4 and int8 (attempt 2)",
        "out of memory on cpu with batch_size 4 and int8 (attempt 1)",
    ]:
        assert line in result.stderr
    log = (project / "results/logs/transcribe/oom.log").read_text(encoding="utf-8")
    assert "try 3 of 3: model" in log and "batch 2" in log
    folder = project / "results" / "videos" / "oom"
    transcript = read_transcript(folder / "transcript.json")
    assert (transcript.run.attempt, transcript.run.batch_size) == (3, 2)
    assert transcript.settings["batch_size"] == 8 and transcript.mode == "batched (2)"
    translation = read_translation(folder / "translation.ko.json")
    assert (translation.run.attempt, translation.run.batch_size) == (2, 2)
    assert translation.settings["batch_size"] == 4  # as configured
    qa = read_qa(folder / "qa.json")
    assert qa.attempts == {"transcribe": 3, "translate.ko": 2}
    assert korean_text(project, "oom") == " ".join(KOREAN[s.text] for s in spoken["three"])
    # The retry's lighter settings are no params: the video is not redone later.
    assert good_jobs(snakemake(project)) == []


def test_a_new_setting_at_its_default_reruns_nothing(project, first_run):
    # What an update of autokr looks like: a new key whose default keeps
    # today's output, in a step section and in a nested one.
    path = project / "config" / "schema.yaml"
    original = path.read_text(encoding="utf-8")
    schema = yaml.safe_load(original)
    new = {"type": "boolean", "default": False, "description": "A key from a later autokr."}
    steps = schema["properties"]
    for section in (
        steps["transcribe"],
        steps["translate"],
        steps["translate"]["properties"]["sentences"],
    ):
        section["properties"]["new_setting"] = new
    path.write_text(yaml.safe_dump(schema, allow_unicode=True), encoding="utf-8")
    try:
        result = snakemake(project, "--dry-run")
        assert result.returncode == 0, result.stderr
        assert good_jobs(result) == []
    finally:
        path.write_text(original, encoding="utf-8")


def test_only_settings_that_change_the_output_rerun_a_step(project, first_run):
    videos = len(list(project.glob("results/videos/**/transcript.json")))
    speed = project / "speed.yaml"
    speed.write_text(
        "transcribe: {threads: 1, device: cpu, compute_type: int8}\n"
        "translate: {batch_size: 2, batch_tokens: 512, threads: 1, device: cpu, "
        "compute_type: int8}\n",
        encoding="utf-8",
    )
    assert good_jobs(snakemake(project, "--dry-run", "--configfile", str(speed))) == []
    beam = project / "beam.yaml"
    beam.write_text("translate: {beam_size: 2}\n", encoding="utf-8")
    rerun = snakemake(project, "--dry-run", "--configfile", str(beam))
    assert rules_of(good_jobs(rerun)) == {"translate": videos, "make_srt": videos}


def test_a_glossary_reruns_translation_only_and_a_bad_one_stops_before_any_job(project, first_run):
    videos = len(list(project.glob("results/videos/**/transcript.json")))
    names = project / "names.yaml"
    names.write_text("translate: {glossary: names.tsv}\n", encoding="utf-8")
    glossary = project / "names.tsv"
    glossary.write_text("# names\n東京\t도쿄\tthe capital\n", encoding="utf-8")
    rerun = snakemake(project, "--dry-run", "--configfile", str(names))
    assert rerun.returncode == 0, rerun.stderr
    assert rules_of(good_jobs(rerun)) == {"translate": videos, "make_srt": videos}
    glossary.write_text("東京\t도쿄\n大阪 오사카\n", encoding="utf-8")
    bad = snakemake(project, "--configfile", str(names))
    assert bad.returncode == 1
    lines = [line for line in bad.stderr.splitlines() if line.startswith("autokr:")]
    assert lines == ["autokr: names.tsv:2: no tab between the term and its target ('大阪 오사카')"]
    assert started_jobs(bad.stderr) == []


def test_a_second_run_at_once_refuses_and_harms_nothing(
    project, first_run, media, spoken, tmp_path
):
    shutil.copy(media["three.mp4"], project / "videos" / "busy.mp4")
    gate = tmp_path / "hold"
    proc = start_held(project, "transcribe.model", gate)
    try:
        second = make_run(project)
        assert second.returncode != 0
        assert "removed a stale lock" not in second.stderr
        assert "autokr: the folder is locked (held by a live run (process" in second.stderr
        assert "cannot be locked" in second.stderr + second.stdout
        # A run whose files Snakemake's lock does not cover (make unpublish's)
        # is refused by autokr before it starts a job: its end would judge
        # the first run's unfinished videos.
        other = snakemake(project, "results/unpublish/20990101-000000.next_to_video.json")
        assert other.returncode != 0
        assert "autokr: another autokr run is working in this folder" in other.stderr
        assert not (project / "results/unpublish/20990101-000000.next_to_video.json").exists()
    finally:
        release(gate)
        proc.wait(timeout=600)
    assert korean_text(project, "busy") == " ".join(KOREAN[s.text] for s in spoken["three"])


def test_model_change_reruns_translate_and_make_srt_only(project, first_run, nllb_model):
    other = project.parent / "nllb-copy"
    shutil.copytree(nllb_model, other)
    mine = project / "mine.yaml"
    mine.write_text(f"translate:\n  model: '{other}'\n", encoding="utf-8")
    result = snakemake(project, "--configfile", str(mine))
    videos = len(list(project.glob("results/videos/**/transcript.json")))
    # The new model is prepared once (the CPU's int8 conversion), then used by every video.
    assert rules_of(good_jobs(result)) == {
        "download_model": 1,
        "convert_model": 1,
        "translate": videos,
        "make_srt": videos,
    }
    translation = read_translation(
        project / "results" / "videos" / "日本語 の 動画" / "translation.ko.json"
    )
    # The partial file changed only the key it names; the rest stays as configured.
    assert translation.settings["model"] == str(other)
    assert translation.settings["batch_size"] == 4


def test_model_heavy_jobs_never_overlap(project, first_run):
    runs = [read_transcript(p).run for p in project.glob("results/videos/**/transcript.json")]
    runs += [read_translation(p).run for p in project.glob("results/videos/**/translation.*.json")]
    spans = sorted((run.started, run.finished) for run in runs)
    assert len(spans) >= 20
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end


def test_bad_config_stops_before_any_job(project, first_run):
    bad = project / "bad.yaml"
    bad.write_text("translate:\n  batch_size: x\n", encoding="utf-8")
    result = snakemake(project, "--configfile", str(bad))
    assert result.returncode == 1
    assert "autokr: config: translate.batch_size: 'x' is not of type 'integer'" in result.stderr
    assert started_jobs(result.stderr) == []


@pytest.mark.parametrize(
    ("folder", "cause"),
    [("nowhere", "videos folder not found"), ("empty", "no video or audio files found")],
)
def test_missing_or_empty_videos_folder_is_one_line(project, first_run, folder, cause):
    (project / "empty").mkdir(exist_ok=True)
    result = snakemake(project, "--config", f"videos={folder}")
    assert result.returncode == 1
    assert f"autokr: {folder}: {cause}" in result.stderr
    assert "Traceback" not in result.stderr


def test_lint_is_clean(project, first_run):
    result = snakemake(project, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr
