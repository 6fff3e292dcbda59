import os
import unicodedata

import pytest

from autokr.batch.discovery import scan_videos
from autokr.core.errors import ConfigError


def touch(folder, name):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_scan_is_recursive_sorted_and_case_blind(tmp_path):
    for name in ["b.MKV", "a.mp4", "season 1/ep.01.webm", "music/song.FLAC", "日本 語.mp4"]:
        touch(tmp_path, name)
    scan = scan_videos(tmp_path)
    assert list(scan.videos) == sorted(scan.videos)
    assert set(scan.videos) == {"a", "b", "season 1/ep.01", "music/song", "日本 語"}
    assert scan.videos["season 1/ep.01"] == tmp_path / "season 1" / "ep.01.webm"
    assert scan.skipped == []


def test_other_and_hidden_files_are_ignored(tmp_path):
    for name in ["notes.txt", ".hidden.mp4", ".cache/x.mp4", "cover.jpg", "a.mp4"]:
        touch(tmp_path, name)
    assert list(scan_videos(tmp_path).videos) == ["a"]


def test_names_snakemake_cannot_carry_are_skipped_by_name(tmp_path):
    touch(tmp_path, "ok.mp4")
    touch(tmp_path, "a{b}.mp4")
    touch(tmp_path, "ep <i>.mp4")  # Snakemake 9 reads <i> as a path variable
    scan = scan_videos(tmp_path)
    assert list(scan.videos) == ["ok"]
    assert sorted((s.path.name, s.reason) for s in scan.skipped) == [
        ("a{b}.mp4", "name contains '{' and '}'"),
        ("ep <i>.mp4", "name contains '<' and '>'"),
    ]


def test_two_inputs_with_one_id_are_both_skipped(tmp_path):
    for name in ["a.mp4", "a.mkv", "b.mp4"]:
        touch(tmp_path, name)
    scan = scan_videos(tmp_path)
    assert list(scan.videos) == ["b"]
    assert sorted(s.path.name for s in scan.skipped) == ["a.mkv", "a.mp4"]
    assert all("same name as" in s.reason for s in scan.skipped)


def test_shell_metacharacters_are_just_names(tmp_path):
    touch(tmp_path, "it's $(touch PWNED) & co.mp4")
    assert list(scan_videos(tmp_path).videos) == ["it's $(touch PWNED) & co"]


def test_missing_or_empty_folder_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="videos folder not found"):
        scan_videos(tmp_path / "nope")
    with pytest.raises(ConfigError, match="no video or audio files found"):
        scan_videos(tmp_path)


def test_ids_keep_the_name_as_written(tmp_path):
    name = unicodedata.normalize("NFD", "ガ.mp4")
    touch(tmp_path, name)
    [vid] = scan_videos(tmp_path).videos
    assert vid == os.path.splitext(name)[0]


def test_names_that_differ_only_in_unicode_normalisation_are_both_skipped(tmp_path):
    touch(tmp_path, unicodedata.normalize("NFC", "ガイド.mp4"))
    touch(tmp_path, unicodedata.normalize("NFD", "ガイド.mp4"))
    touch(tmp_path, "ok.mp4")
    scan = scan_videos(tmp_path)
    assert list(scan.videos) == ["ok"]
    assert len(scan.skipped) == 2 and all("same name as" in s.reason for s in scan.skipped)


def test_a_name_with_a_newline_is_skipped_by_name(tmp_path):
    touch(tmp_path, "two\nlines.mp4")
    touch(tmp_path, "ok.mp4")
    scan = scan_videos(tmp_path)
    assert list(scan.videos) == ["ok"]
    assert scan.skipped[0].reason == "name contains a newline"


def test_a_video_reached_twice_through_a_symlink_is_processed_once(tmp_path):
    touch(tmp_path, "real.mp4")
    (tmp_path / "alias.mp4").symlink_to("real.mp4")
    scan = scan_videos(tmp_path)
    # The scan meets alias.mp4 first in sorted order: that name is kept.
    assert list(scan.videos) == ["alias"]
    assert [(s.path.name, s.reason) for s in scan.skipped] == [
        ("real.mp4", f"same file as {tmp_path / 'alias.mp4'}")
    ]


def test_symlink_loops_and_broken_links_are_skipped_not_followed(tmp_path):
    touch(tmp_path, "sub/a.mp4")
    (tmp_path / "sub" / "loop").symlink_to("..")
    (tmp_path / "self.mp4").symlink_to("self.mp4")
    (tmp_path / "gone.mp4").symlink_to("nowhere.mp4")
    scan = scan_videos(tmp_path)
    assert list(scan.videos) == ["sub/a"]
    reasons = {s.path.name: s.reason for s in scan.skipped}
    assert reasons["self.mp4"] == "symlink loop"
    assert reasons["gone.mp4"] == "broken symlink"
    assert "not followed" in reasons["loop"]


def test_a_linked_folder_outside_is_scanned(tmp_path):
    touch(tmp_path / "elsewhere", "b.mkv")
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "more").symlink_to(tmp_path / "elsewhere")
    assert list(scan_videos(tmp_path / "videos").videos) == ["more/b"]


def test_the_folder_spelled_any_way_gives_the_same_ids_and_paths(tmp_path, monkeypatch):
    from pathlib import Path

    touch(tmp_path / "library", "season 1/ep.mkv")
    project = tmp_path / "project"
    project.mkdir()
    (project / "videos").symlink_to(tmp_path / "library")
    (project / "media").symlink_to("videos")
    monkeypatch.chdir(project)
    spellings = ["videos", "./videos/", "media", str(project / "videos"), "../library"]
    scans = [scan_videos(s, workdir=project).videos for s in spellings]
    real = tmp_path / "library" / "season 1" / "ep.mkv"
    assert scans == [{"season 1/ep": real}] * len(spellings)
    # A folder inside the project is named from it, as the config names it by default.
    touch(project, "own/ep.mkv")
    assert scan_videos(project / "own", workdir=project).videos == {"ep": Path("own/ep.mkv")}


def test_a_name_that_is_not_utf8_is_skipped_and_shown_escaped(tmp_path):
    touch(tmp_path, "ok.mp4")
    (tmp_path / os.fsdecode("テスト".encode("cp932") + b".mkv")).write_bytes(b"x")
    scan = scan_videos(tmp_path)
    assert list(scan.videos) == ["ok"]
    [skipped] = scan.skipped
    assert str(skipped.path) == f"{tmp_path}/\\x83e\\x83X\\x83g.mkv"  # printable, writable
    assert skipped.reason == (
        "name is not valid UTF-8 (in Shift-JIS it reads 'テスト.mkv'); rename it in UTF-8 "
        "to have it done"
    )
    assert skipped.kind == "name"


def test_a_stem_too_long_for_what_autokr_adds_is_skipped(tmp_path):
    from autokr.batch.discovery import ScanRules

    fits, too_long = "あいうえお" * 14, "あいうえお" * 15  # 210 and 225 bytes
    touch(tmp_path, f"{fits}.mkv")
    touch(tmp_path, f"{too_long}.mkv")
    scan = scan_videos(tmp_path, ScanRules(suffixes=(".ko.srt", ".ja-ko.srt")))
    assert list(scan.videos) == [fits]
    [skipped] = scan.skipped
    assert skipped.reason == (
        "name too long: 225 bytes before the extension, and with what autokr adds "
        "(.ja-ko.srt and a temporary name's ending) it passes this file system's 255-byte "
        "limit; shorten it by 2 bytes"
    )


def test_names_that_differ_only_in_letter_case_are_both_skipped(tmp_path):
    for name in ["Ep.mkv", "ep.mp4", "Season 1/a.mkv", "season 1/A.mkv", "ok.mp4"]:
        touch(tmp_path, name)
    scan = scan_videos(tmp_path)
    assert list(scan.videos) == ["ok"]
    reasons = {s.path.relative_to(tmp_path).as_posix(): s.reason for s in scan.skipped}
    assert reasons["Ep.mkv"] == (
        f"same name as {tmp_path / 'ep.mp4'} but for letter case; rename one of them"
    )
    assert len(reasons) == 4 and all(s.kind == "duplicate" for s in scan.skipped)


def test_the_projects_own_folders_are_never_entered(tmp_path):
    from autokr.batch.discovery import ScanRules

    project = tmp_path / "autokr"
    for name in [
        "autokr/results/muxed/ep.mkv",
        "autokr/.snakemake/x.mp4",
        "autokr/example/autokr-example.mp4",
        "autokr/tests/data/speech.flac",
        "models/whisper/x/sample.wav",
        "ep.mkv",
    ]:
        touch(tmp_path, name)
    (tmp_path / "linked").symlink_to(project / "results")
    (tmp_path / "one.mkv").symlink_to(project / "results" / "muxed" / "ep.mkv")
    rules = ScanRules.for_project(project, "../models")
    scan = scan_videos(tmp_path, rules)
    assert list(scan.videos) == ["ep"] and scan.skipped == []
    # The videos folder inside the project, or the example on a fresh clone: scanned.
    touch(project, "videos/a.mkv")
    assert list(scan_videos(project / "videos", rules).videos) == ["a"]
    assert list(scan_videos(project / "example", rules).videos) == ["autokr-example"]


def test_files_the_watch_says_are_still_written_are_skipped(tmp_path):
    import json

    from autokr.batch.discovery import WAITING_ENV, ScanRules, waiting_files

    touch(tmp_path, "ep.mkv")
    touch(tmp_path, "rec.ts")
    environ = {WAITING_ENV: json.dumps([str(tmp_path / "rec.ts")])}
    scan = scan_videos(tmp_path, ScanRules(waiting=waiting_files(environ)))
    assert list(scan.videos) == ["ep"]
    assert [(s.path.name, s.kind) for s in scan.skipped] == [("rec.ts", "waiting")]
    with pytest.raises(ConfigError, match=WAITING_ENV):
        waiting_files({WAITING_ENV: "rec.ts"})


def test_a_name_snakemake_would_take_for_a_loop_is_skipped(tmp_path):
    touch(tmp_path, "ep " + "w" * 19 + ".mkv")  # 19: Snakemake takes it
    touch(tmp_path, "ep2 " + "w" * 20 + ".mkv")
    scan = scan_videos(tmp_path)
    assert list(scan.videos) == ["ep " + "w" * 19]
    [skipped] = scan.skipped
    assert skipped.reason == (
        "name ends in 'w' 20 times over, which Snakemake refuses (it reads it as a step "
        "feeding itself); repeat it fewer than 20 times"
    )
