"""Publishing: subtitles beside the videos under the names players read, muxed copies whose
tracks ffprobe reads with their tags, a user's own files never overwritten, skip_existing.

The workflow tests share one project and run in order: a first run that
publishes three videos (one with a user's own Korean subtitle beside it),
subtitles that change, skip_existing, and a video removed.
"""

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import srt

import assets
from autokr.batch.discovery import scan_videos
from autokr.batch.existing_subtitles import skip_subtitled
from autokr.core import languages
from autokr.publishing.beside_video import publish_next_to_video
from autokr.publishing.mux import mux
from autokr.publishing.own_files import file_sha256
from autokr.publishing.subtitle_choice import Subtitle
from autokr.publishing.take_back import (
    pending_gone,
    unpublish_gone,
    unpublish_kinds,
    unpublish_replaced,
)
from autokr.speech.media import ffmpeg_executable
from conftest import ROOT
from runs import (
    add_videos,
    configure,
    copy_project,
    cues,
    rules_of,
    set_config,
    snakemake,
    started_jobs,
)

USERS_OWN = "1\n00:00:00,000 --> 00:00:01,000\n내가 만든 자막\n\n"
#: Video ids and the test media they are copies of.
VIDEOS = {"ep.01": "one.mkv", "season 1/ep.02": "two.webm", "movie": "late.mp4"}


def write_srt(path: Path, *texts: str) -> Path:
    subs = [
        srt.Subtitle(i + 1, timedelta(seconds=i), timedelta(seconds=i + 0.9), text)
        for i, text in enumerate(texts)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(srt.compose(subs), encoding="utf-8")
    return path


def video_and_korean(tmp_path: Path) -> tuple[Path, Subtitle]:
    """A video, videos/ep.01.mkv, and the Korean subtitles a run made for it."""
    video = tmp_path / "videos" / "ep.01.mkv"
    video.parent.mkdir()
    video.write_bytes(b"video")
    return video, Subtitle("ko", write_srt(tmp_path / "results" / "ep.01.ko.srt", "안녕"), True)


def with_korean_track(source: Path, dest: Path, disposition: str = "0") -> Path:
    """A copy of ``source`` with a Korean subtitle track inside it."""
    sub = write_srt(dest.with_suffix(".track.srt"), "안녕하세요")
    subprocess.run(
        [
            *(ffmpeg_executable(), "-nostdin", "-v", "error", "-y", "-i", f"file:{source}"),
            *("-i", f"file:{sub}", "-map", "0", "-map", "1", "-c", "copy"),
            *("-metadata:s:s:0", "language=kor", "-disposition:s:0", disposition, f"file:{dest}"),
        ],
        check=True,
    )
    sub.unlink()
    return dest


def probe_tracks(path: Path) -> list[dict]:
    """Each stream as ffprobe reports it: type, codec, language, title, default flag.

    ffprobe where it is installed; else PyAV, which reads with the same
    libavformat (the imageio-ffmpeg wheel ships no ffprobe).
    """
    if shutil.which("ffprobe"):
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return [
            {
                "type": s["codec_type"],
                "codec": s.get("codec_name", ""),
                "language": s.get("tags", {}).get("language", ""),
                "title": s.get("tags", {}).get("title", ""),
                "default": bool(s.get("disposition", {}).get("default")),
            }
            for s in json.loads(out)["streams"]
        ]
    import av

    with av.open(str(path)) as container:
        return [
            {
                "type": s.type,
                "codec": s.codec_context.name if s.codec_context else "",
                "language": s.metadata.get("language", ""),
                "title": s.metadata.get("title", ""),
                "default": bool(s.disposition & av.stream.Disposition.default),
            }
            for s in container.streams
        ]


def clock_start(path: Path) -> float:
    """Where a file's clock starts (seconds): the time its first frame is shown at, which
    players (and ffmpeg, extracting the audio autokr transcribes) count from."""
    import av

    with av.open(str(path)) as container:
        return container.start_time / 1_000_000 if container.start_time else 0.0


def packet_times(path: Path, kind: str, count: int | None = None) -> list[tuple[float, float]]:
    """(start, end) in seconds of the packets of every ``kind`` stream, as stored: the
    file's own timestamps, not re-based as an extraction would."""
    import av

    times = []
    with av.open(str(path)) as container:
        for packet in container.demux(*[s for s in container.streams if s.type == kind]):
            if packet.pts is not None and packet.size:
                start = float(packet.pts * packet.time_base)
                times.append((start, start + float((packet.duration or 0) * packet.time_base)))
    return sorted(times)[:count]


def assert_on_the_videos_clock(video: Path, muxed: Path, subtitles: list[Path]) -> None:
    """The muxed copy keeps the video's clock: its video and audio packets where the
    video has them, and each subtitle track's cues where the SRT puts them on it."""
    for kind in ("video", "audio"):
        kept = flat(packet_times(muxed, kind, 20))
        assert kept == pytest.approx(flat(packet_times(video, kind, 20)), abs=0.0015), kind
    start = clock_start(video)
    tracks = [t for t in packet_times_by_track(muxed)][-len(subtitles) :]
    for srt_file, track in zip(subtitles, tracks, strict=True):
        said = [
            (start + c.start.total_seconds(), start + c.end.total_seconds()) for c in cues(srt_file)
        ]
        assert flat(track) == pytest.approx(flat(said), abs=0.0015), srt_file


def flat(pairs: list[tuple[float, float]]) -> list[float]:
    return [t for pair in pairs for t in pair]


def packet_times_by_track(path: Path) -> list[list[tuple[float, float]]]:
    """(start, end) of the packets of each subtitle track, in track order."""
    import av

    with av.open(str(path)) as container:
        streams = [s for s in container.streams if s.type == "subtitle"]
        indexes = [s.index for s in streams]  # read before demuxing ends the streams
        times: dict[int, list] = {index: [] for index in indexes}
        for packet in container.demux(*streams):
            if packet.pts is not None and packet.size and packet.stream_index in times:
                start = float(packet.pts * packet.time_base)
                end = start + float((packet.duration or 0) * packet.time_base)
                times[packet.stream_index].append((start, end))
    return [sorted(times[index]) for index in indexes]


def track_cues(path: Path, number: int) -> list[tuple]:
    """(start, end, text) of each cue of subtitle track ``number``, as ffmpeg extracts them."""
    out = subprocess.run(
        [
            *(ffmpeg_executable(), "-nostdin", "-v", "error", "-i", f"file:{path}"),
            *("-map", f"0:s:{number}", "-f", "srt", "-"),
        ],
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    return [(c.start, c.end, c.content) for c in srt.parse(out)]


# Names and tags, without a run.


def test_file_names_use_the_tags_players_read():
    assert [languages.player_tag(c) for c in ("ko", "ja", "kor_Hang", "zho_Hant", "zh")] == [
        "ko",
        "ja",
        "ko",
        "zh-Hant",
        "zh-Hans",
    ]
    assert languages.player_tag("jw") == "jv"  # ISO 639-1, not Whisper's spelling
    # Every language autokr can write has a tag without NLLB's underscore, and
    # two different NLLB languages never share one.
    tags = {code: languages.player_tag(code) for code in languages.NLLB_CODES}
    assert not [t for t in tags.values() if "_" in t]
    assert len(set(tags.values())) == len(tags)


def test_muxed_tracks_use_iso_639_2():
    assert [languages.matroska_tag(c) for c in ("ko", "ja", "zho_Hant", "de", "la")] == [
        "kor",
        "jpn",
        "chi",
        "ger",
        "lat",
    ]


def test_a_publish_never_overwrites_a_users_file(tmp_path):
    video, ko = video_and_korean(tmp_path)
    ja = Subtitle("ja", write_srt(tmp_path / "results" / "ep.01.ja.srt", "こんにちは"), False)
    mine = video.with_name("ep.01.ko.srt")
    mine.write_text(USERS_OWN, encoding="utf-8")
    manifest = tmp_path / "results" / "published.json"

    first = publish_next_to_video("ep.01", video, [ko, ja], manifest)
    assert [(Path(o.path).name, o.action) for o in first] == [
        ("ep.01.ko.srt", "left alone"),
        ("ep.01.ja.srt", "written"),
    ]
    assert mine.read_text(encoding="utf-8") == USERS_OWN
    # autokr's own copy, once the user edits it, is the user's too.
    copy = video.with_name("ep.01.ja.srt")
    copy.write_text("edited by hand", encoding="utf-8")
    write_srt(ja.path, "こんばんは")
    again = publish_next_to_video("ep.01", video, [ko, ja], manifest)
    assert [o.action for o in again] == ["left alone", "left alone"]
    assert copy.read_text(encoding="utf-8") == "edited by hand"
    assert mine.read_text(encoding="utf-8") == USERS_OWN
    assert sorted(p.name for p in video.parent.iterdir()) == [
        "ep.01.ja.srt",
        "ep.01.ko.srt",
        "ep.01.mkv",
    ]


def test_published_copies_follow_their_video_and_only_autokrs_own_go(tmp_path):
    video, ko = video_and_korean(tmp_path)
    results = tmp_path / "results"
    manifest = results / "published.json"
    [copy] = [Path(o.path) for o in publish_next_to_video("ep.01", video, [ko], manifest)]
    # The video is there: nothing waits to be taken back.
    assert not pending_gone(manifest)
    assert unpublish_gone(results, manifest) == []
    assert copy.exists()
    # One whose file was replaced and failed loses its subtitles
    # (summary.remove_outdated), and so the copies made from them.
    [gone] = unpublish_replaced(results, ["ep.01"], manifest)
    assert (gone.path, gone.action) == (str(copy), "removed")
    assert not copy.exists()
    # A video deleted: its copies wait for a run, which takes them back.
    publish_next_to_video("ep.01", video, [ko], manifest)
    video.unlink()
    assert pending_gone(manifest)
    [gone] = unpublish_gone(results, manifest)
    assert (gone.action, gone.reason) == ("removed", f"its video {video} is gone")
    assert not copy.exists() and not pending_gone(manifest)
    # Taken back on request, never what a user changed: that is theirs.
    video.write_bytes(b"video")
    publish_next_to_video("ep.01", video, [ko], manifest)
    copy.write_text("edited by hand", encoding="utf-8")
    [kept] = unpublish_kinds(results, ["next_to_video"], "make unpublish", manifest)
    assert kept.action == "kept" and copy.read_text(encoding="utf-8") == "edited by hand"
    assert json.loads(manifest.read_text(encoding="utf-8"))["files"] == {}


def test_skip_existing_reads_files_beside_and_tracks_inside(tmp_path, media):
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("sidecar", "ep", "ep.01", "forced", "japanese", "ours", "region"):
        shutil.copy(media["one.mkv"], videos / f"{name}.mkv")
    with_korean_track(media["one.mkv"], videos / "inside.mkv")
    with_korean_track(media["one.mkv"], videos / "forced-inside.mkv", "forced")
    write_srt(videos / "sidecar.kor.ass", "x")
    write_srt(videos / "ep.01.ko.srt", "x")  # ep.01.mkv's, not ep.mkv's
    write_srt(videos / "forced.ko.forced.srt", "x")
    write_srt(videos / "japanese.ja.srt", "x")
    write_srt(videos / "ours.ko.srt", "x")
    write_srt(videos / "region.ko-KR.srt", "x")
    ours = {videos / "ours.ko.srt"}
    wanted = {"ko": languages.subtitle_tags("ko")}

    found = skip_subtitled(scan_videos(videos), wanted, lambda path: path in ours)
    skipped = {s.path.stem: s for s in found.skipped}
    assert set(skipped) == {"sidecar", "ep.01", "inside", "region"}
    assert set(found.videos) == {"ep", "forced", "forced-inside", "japanese", "ours"}
    assert "sidecar.kor.ass" in skipped["sidecar"].reason
    assert "subtitle track 0 (kor)" in skipped["inside"].reason
    assert {s.kind for s in found.skipped} == {"subtitled"}


def build_clock_media(folder: Path) -> None:
    """Videos whose streams start off zero, as real ones do: Opus with its pre-skip in
    WebM (the audio's first packet before 0), an MP4 whose edit list starts it at 1.5 s,
    and an MPEG-TS broadcast, whose clock starts at 1.4 s."""
    made = {
        "preskip.webm": ["-c:v", "libvpx", "-c:a", "libopus"],
        "edit-list.mp4": ["-c:v", "libx264", "-c:a", "aac", "-output_ts_offset", "1.5"],
        "broadcast.ts": ["-c:v", "libx264", "-c:a", "aac", "-f", "mpegts"],
    }
    for name, codecs in made.items():
        subprocess.run(
            [
                *(ffmpeg_executable(), "-nostdin", "-v", "error", "-y"),
                *("-f", "lavfi", "-i", "color=c=black:s=64x48:r=24"),
                *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"),
                *("-t", "4", *codecs, "-pix_fmt", "yuv420p", f"file:{folder / name}"),
            ],
            check=True,
        )


@pytest.fixture(scope="module")
def clock_media() -> dict[str, Path]:
    key = ["mux-clock", 1, ffmpeg_executable()]
    folder = assets.cached("mux-clock", key, build_clock_media)
    return {p.name: p for p in folder.iterdir() if not p.name.startswith(".")}


def test_a_folder_spelled_another_way_keeps_its_published_copies(tmp_path):
    # The manifest of an earlier autokr holds the copies under the folder's
    # link; the scan now names the folder by its real path. The copy is the
    # same file under both names: it is kept and recorded once.
    nas = tmp_path / "nas"
    nas.mkdir()
    (tmp_path / "videos").symlink_to(nas)
    (nas / "ep.01.mkv").write_bytes(b"video")
    ko = Subtitle("ko", write_srt(tmp_path / "results" / "ep.01.ko.srt", "안녕"), True)
    manifest = tmp_path / "results" / "published.json"
    publish_next_to_video("ep.01", tmp_path / "videos" / "ep.01.mkv", [ko], manifest)
    outcomes = publish_next_to_video("ep.01", nas / "ep.01.mkv", [ko], manifest)
    assert [(o.path, o.action) for o in outcomes] == [(str(nas / "ep.01.ko.srt"), "unchanged")]
    assert (nas / "ep.01.ko.srt").exists()
    files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    assert list(files) == [str(nas / "ep.01.ko.srt")]


def test_a_video_of_the_same_name_elsewhere_never_takes_another_videos_copies(tmp_path):
    # publish.py by hand on a copy in another folder (the id is its stem).
    ko = Subtitle("ko", write_srt(tmp_path / "results" / "ep.01.ko.srt", "안녕"), True)
    ja = Subtitle("ja", write_srt(tmp_path / "results" / "ep.01.ja.srt", "こんにちは"), False)
    manifest = tmp_path / "results" / "published.json"
    for folder in ("videos", "backup"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "ep.01.mkv").write_bytes(b"video")
    publish_next_to_video("ep.01", tmp_path / "videos" / "ep.01.mkv", [ko, ja], manifest)
    publish_next_to_video("ep.01", tmp_path / "backup" / "ep.01.mkv", [ko], manifest)
    assert (tmp_path / "videos" / "ep.01.ja.srt").exists()
    assert (tmp_path / "videos" / "ep.01.ko.srt").exists()


def test_a_muxed_copy_of_a_gone_video_is_never_written_over(tmp_path, media):
    # The user deleted the original once the MKV held everything; a new video
    # of the same name must not take the only copy's place.
    videos = tmp_path / "videos"
    videos.mkdir()
    old = shutil.copy(media["one.mkv"], videos / "ep.mkv")
    ko = Subtitle("ko", write_srt(tmp_path / "ep.ko.srt", "안녕하세요"), True)
    out, manifest = tmp_path / "results" / "muxed" / "ep.mkv", tmp_path / "results" / "p.json"
    assert mux("ep", Path(old), [ko], out, manifest).action == "written"
    only_copy = out.read_bytes()
    Path(old).unlink()
    new = shutil.copy(media["three.mp4"], videos / "ep.mp4")
    outcome = mux("ep", Path(new), [ko], out, manifest)
    assert outcome.action == "left alone"
    assert outcome.reason.startswith(f"the only copy of {old}, which is gone")
    assert out.read_bytes() == only_copy


@pytest.mark.parametrize("name", ["preskip.webm", "edit-list.mp4", "broadcast.ts"])
def test_muxed_subtitles_keep_the_videos_own_clock(tmp_path, clock_media, name):
    video = clock_media[name]
    ko = Subtitle("ko", write_srt(tmp_path / "ep.ko.srt", "안녕하세요", "반갑습니다"), True)
    ja = Subtitle("ja", write_srt(tmp_path / "ep.ja.srt", "こんにちは", "どうぞ"), False)
    out = tmp_path / "results" / "muxed" / "ep.mkv"

    mux("ep", video, [ko, ja], out, tmp_path / "results" / "published.json")
    assert_on_the_videos_clock(video, out, [ko.path, ja.path])
    # As players and ffmpeg count, from the first frame: the SRT's own times.
    said = [(c.start, c.end, c.content) for c in cues(ko.path)]
    assert track_cues(out, 0) == said


# The workflow, run as a user runs it.


@pytest.fixture(scope="module")
def project(tmp_path_factory, whisper_model, nllb_model, media):
    root = copy_project(tmp_path_factory.mktemp("autokr-publish"))
    configure(root, whisper_model, nllb_model)
    set_config(root, publish=["next_to_video", "mux"])
    add_videos(root, {f"{v}{Path(s).suffix}": media[s] for v, s in VIDEOS.items()})
    (root / "videos" / "ep.01.ko.srt").write_text(USERS_OWN, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def first_run(project):
    return snakemake(project)


def beside(project: Path, video: str, tag: str) -> Path:
    return project / "videos" / f"{video}.{tag}.srt"


def results_srt(project: Path, video: str, label: str) -> Path:
    return project / "results" / "subtitles" / f"{video}.{label}.srt"


def manifest(project: Path) -> dict:
    return json.loads((project / "results" / "published.json").read_text("utf-8"))["files"]


@pytest.mark.workflow
def test_subtitles_are_published_beside_their_videos(project, first_run):
    assert first_run.returncode == 0, first_run.stderr
    expected = {
        "ep.01.mkv",
        "ep.01.ko.srt",  # the user's own
        "ep.01.ja.srt",
        "season 1/ep.02.webm",
        "season 1/ep.02.ko.srt",
        "season 1/ep.02.ja.srt",
        "movie.mp4",
        "movie.ko.srt",
        "movie.ja.srt",
    }
    found = {str(p.relative_to(project / "videos")) for p in (project / "videos").rglob("*")}
    assert found - {"season 1"} == expected
    for video, tag in [("season 1/ep.02", "ko"), ("movie", "ko"), ("ep.01", "ja")]:
        copy = beside(project, video, tag)
        assert copy.read_bytes() == results_srt(project, video, tag).read_bytes()
        assert cues(copy), copy
        entry = manifest(project)[f"videos/{video}.{tag}.srt"]
        assert entry["sha256"] == file_sha256(copy)


@pytest.mark.workflow
def test_a_users_own_subtitle_is_left_alone_and_said_so(project, first_run):
    mine = beside(project, "ep.01", "ko")
    assert mine.read_text(encoding="utf-8") == USERS_OWN
    assert "videos/ep.01.ko.srt" not in manifest(project)
    log = (project / "results/logs/publish/ep.01.log").read_text(encoding="utf-8")
    assert "videos/ep.01.ko.srt: left alone (not written by autokr)" in log
    summary = (project / "results" / "summary.md").read_text(encoding="utf-8")
    assert "| videos/ep.01.ko.srt | left alone: not written by autokr" in summary


@pytest.mark.workflow
def test_ffprobe_reads_the_muxed_tracks_and_their_tags(project, first_run):
    for video in VIDEOS:
        muxed = project / "results" / "muxed" / f"{video}.mkv"
        tracks = probe_tracks(muxed)
        assert [t["type"] for t in tracks] == ["video", "audio", "subtitle", "subtitle"]
        subs = [(t["language"], t["title"], t["default"]) for t in tracks[2:]]
        assert subs == [
            ("kor", "Korean (autokr translation)", True),
            ("jpn", "Japanese (autokr transcript)", False),
        ]
        for number, label in enumerate(["ko", "ja"]):
            said = [c.content for c in cues(results_srt(project, video, label))]
            assert [text for _, _, text in track_cues(muxed, number)] == said
        # The same cues at the same times on the video's own clock: in sync with it,
        # whatever the video's first timestamps (the Opus pre-skip of ep.02.webm).
        source = project / "videos" / f"{video}{Path(VIDEOS[video]).suffix}"
        srts = [results_srt(project, video, label) for label in ("ko", "ja")]
        assert_on_the_videos_clock(source, muxed, srts)


@pytest.mark.workflow
def test_changed_subtitles_are_published_again_but_never_over_a_users_edit(project, first_run):
    ko = results_srt(project, "season 1/ep.02", "ko")
    ja = results_srt(project, "season 1/ep.02", "ja")
    write_srt(ko, "고친 자막")
    write_srt(ja, "直した字幕")
    edited = beside(project, "season 1/ep.02", "ja")
    edited.write_text("the user fixed this line", encoding="utf-8")

    result = snakemake(project)
    assert result.returncode == 0, result.stderr
    assert rules_of(started_jobs(result.stderr + result.stdout)) == {"publish": 1}
    assert beside(project, "season 1/ep.02", "ko").read_bytes() == ko.read_bytes()
    assert edited.read_text(encoding="utf-8") == "the user fixed this line"
    muxed = project / "results" / "muxed" / "season 1" / "ep.02.mkv"
    assert [text for _, _, text in track_cues(muxed, 0)] == ["고친 자막"]
    assert [text for _, _, text in track_cues(muxed, 1)] == ["直した字幕"]
    entry = manifest(project)["videos/season 1/ep.02.ko.srt"]
    assert entry["sha256"] == file_sha256(ko)


@pytest.mark.workflow
def test_skip_existing_counts_a_users_subtitles_never_autokrs(project, first_run, media):
    with_korean_track(media["one.mkv"], project / "videos" / "inside.mkv")
    shutil.copy(media["one.mkv"], project / "videos" / "new.mkv")  # no subtitles of its own
    (project / "skip.yaml").write_text("skip_existing: true\n", encoding="utf-8")
    result = snakemake(project, "--configfile", "skip.yaml")
    assert result.returncode == 0, result.stderr
    err = result.stderr
    assert "autokr: videos/ep.01.mkv: skipped: already has ko subtitles (ep.01.ko.srt)" in err
    assert "autokr: videos/inside.mkv: skipped: already has ko subtitles (subtitle track 0" in err
    # Videos with only autokr's own Korean copy beside them are not skipped.
    assert "movie.mp4: skipped" not in err and "ep.02.webm: skipped" not in err
    assert {w.split(",")[0] for _, w in started_jobs(err + result.stdout)} == {"video=new"}
    summary = (project / "results" / "summary.md").read_text(encoding="utf-8")
    assert "1 done, 2 unchanged, 2 skipped (2 subtitled)" in summary
    assert "| videos/inside.mkv | already has ko subtitles" in summary
    assert beside(project, "new", "ko").exists()
    (project / "videos" / "inside.mkv").unlink()


@pytest.mark.workflow
def test_a_removed_videos_copies_are_removed_and_its_muxed_copy_kept(project, first_run):
    (project / "videos" / "movie.mp4").unlink()
    result = snakemake(project)
    assert result.returncode == 0, result.stderr
    assert not beside(project, "movie", "ko").exists()
    assert not beside(project, "movie", "ja").exists()
    # Nothing else to do: a job of the run removes them, and says so.
    assert "autokr: videos/movie.ko.srt: removed (its video videos/movie.mp4 is gone)" in (
        result.stderr
    )
    # The muxed copy may be the only copy of the video now: it stays, and says so.
    assert (project / "results" / "muxed" / "movie.mkv").exists()
    assert [path for path, e in manifest(project).items() if e["video"] == "movie"] == [
        "results/muxed/movie.mkv"
    ]
    assert "| results/muxed/movie.mkv | kept: its video videos/movie.mp4 is gone" in (
        (project / "results" / "summary.md").read_text(encoding="utf-8")
    )
    # What belongs to the videos still there stays.
    assert beside(project, "ep.01", "ko").read_text(encoding="utf-8") == USERS_OWN
    assert beside(project, "season 1/ep.02", "ko").exists()


def test_make_clean_keeps_the_muxed_copies(tmp_path):
    # A muxed copy may be the only copy left of a video (its original deleted).
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "results" / "muxed").mkdir(parents=True)
    (tmp_path / "results" / "muxed" / "ep.mkv").write_bytes(b"the only copy")
    (tmp_path / "results" / "videos").mkdir()
    (tmp_path / "results" / "summary.md").write_text("old", encoding="utf-8")
    (tmp_path / ".snakemake").mkdir()
    done = subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "kept results/muxed/" in done.stdout
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["muxed"]
    assert (tmp_path / "results" / "muxed" / "ep.mkv").read_bytes() == b"the only copy"
    assert not (tmp_path / ".snakemake").exists()
