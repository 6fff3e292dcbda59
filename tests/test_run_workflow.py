"""`make run` and `make watch` before Snakemake starts: a config file that is not YAML, or a
`--config` value that is not, is one line naming the file and the cause, never a traceback."""

import subprocess

import pytest

from runs import copy_project, make_run

TYPO = "publish: [mux\nskip_existing: false\n"


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "autokr"
    root.mkdir()
    copy_project(root)
    (root / "videos").mkdir()
    return root


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    [line] = [ln for ln in stderr.splitlines() if ln.startswith("autokr: ")]
    return line


def watch(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(project / ".venv" / "bin" / "python"), "scripts/watch.py", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_yaml_typo_in_the_config_is_one_line_from_make_run(project):
    config = project / "config" / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + TYPO, encoding="utf-8")
    result = make_run(project)
    assert result.returncode != 0
    line = one_line(result.stderr)
    assert line.startswith("autokr: config/config.yaml: line ")
    assert "expected ',' or ']'" in line


def test_a_yaml_typo_in_a_configfile_is_one_line_naming_it(project):
    (project / "mine.yaml").write_text(TYPO, encoding="utf-8")
    result = make_run(project, "--configfile", "mine.yaml")
    assert result.returncode != 0
    assert one_line(result.stderr) == (
        "autokr: mine.yaml: line 2, column 14: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence from line 1)"
    )


def test_a_config_file_that_is_not_a_mapping_is_one_line(project):
    (project / "mine.yaml").write_text("- videos\n- publish\n", encoding="utf-8")
    result = make_run(project, "--configfile", "mine.yaml")
    assert result.returncode != 0
    assert one_line(result.stderr).startswith("autokr: mine.yaml: ")


def test_a_yaml_typo_is_one_line_from_make_watch(project):
    config = project / "config" / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + TYPO, encoding="utf-8")
    result = watch(project)
    assert result.returncode == 1
    assert one_line(result.stderr).startswith("autokr: watch: config: config/config.yaml: line ")


def test_a_config_value_that_is_not_yaml_is_taken_as_text_by_make_watch(project):
    # As Snakemake takes it: `--config videos=[a` names a folder called "[a".
    result = watch(project, "--config", "videos=[a")
    assert result.returncode == 1
    assert one_line(result.stderr) == (
        "autokr: watch: [a: videos folder not found (create it, or set 'videos' in the config)"
    )
