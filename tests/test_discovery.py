import os
import unicodedata

import pytest

from autokr.discovery import scan_videos
from autokr.errors import ConfigError


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
