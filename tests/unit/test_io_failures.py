"""I/O failures: one line, exit 1 (I/O) or 2 (bad input), no traceback, no partial file set.

A full disk and a read-only folder are real here: a small tmpfs, remounted read-only (needs
root, as devenv's CI has; skipped elsewhere)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from devenv.cli import cli
from tests.conftest import REQUIREMENTS, MakeProject
from tests.unit.test_safety import generate


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and not p.match(".devenv/*.lock")
    }


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("devenv: error: ") and "Traceback" not in err
    return lines[0]


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "mnt"
    mount.mkdir()

    def mount_cmd(*args: str) -> bool:
        return subprocess.run(["mount", *args], capture_output=True, check=False).returncode == 0

    if not mount_cmd("-t", "tmpfs", "-o", "size=40k,nr_inodes=200", "tmpfs", str(mount)):
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def project_in(folder: Path) -> Path:
    project = folder / "proj"
    project.mkdir()
    (project / "devenv.toml").write_text("")
    (project / "requirements.txt").write_text(REQUIREMENTS)
    return project


def test_a_full_disk_leaves_no_partial_file_set(tmpfs: Path) -> None:
    project = project_in(tmpfs)
    (tmpfs / "filler").write_bytes(b"x" * 20 * 1024)  # room for a few files, not for all
    before = files(project)
    code, err = generate(project)
    assert code == 1, err
    assert "No space left" in one_line(err)
    assert files(project) == before  # not one generated file, and no temporary file


def test_a_read_only_folder_is_one_line_and_changes_nothing(tmpfs: Path) -> None:
    project = project_in(tmpfs)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    code, err = generate(project)
    assert code == 1, err
    assert "Read-only file system" in one_line(err)
    assert sorted(files(project)) == ["devenv.toml", "requirements.txt"]


def test_an_unwritable_report_path_stops_before_anything_runs(
    tmpfs: Path, make_project: MakeProject
) -> None:
    project = make_project()
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    result = CliRunner().invoke(
        cli, ["-C", str(project), "verify", "--junit", str(tmpfs / "r.xml")]
    )
    assert result.exit_code == 2, result.output
    assert "not writable" in one_line(result.stderr)
    assert result.stdout == ""  # nothing ran


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--junit", "/nonexistent-folder/r.xml"], "does not exist"),
        (["--junit", "/"], "is a folder"),
    ],
)
def test_a_report_path_that_cant_be_a_file(
    make_project: MakeProject, args: list[str], fragment: str
) -> None:
    result = CliRunner().invoke(cli, ["-C", str(make_project()), "verify", *args])
    assert result.exit_code == 2
    assert fragment in one_line(result.stderr)


def test_an_unreadable_plan_is_one_line_exit_1(tmp_path: Path) -> None:
    (tmp_path / "devenv.toml").symlink_to("/proc/self/mem")  # reading it fails: EIO
    code, err = generate(tmp_path)
    assert code == 1
    assert "can't read the plan" in one_line(err)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("devenv.toml", "not UTF-8"), ("devenv.lock", "not UTF-8"), ("requirements.txt", "UTF-8")],
)
def test_non_utf8_input_is_one_line_exit_2(
    make_project: MakeProject, name: str, fragment: str
) -> None:
    project = make_project()
    (project / name).write_bytes(b"# caf\xe9\n")
    before = files(project)
    code, err = generate(project)
    assert code == 2, err
    assert fragment in one_line(err) and name in err
    assert files(project) == before


def test_a_non_utf8_generated_file_is_not_replaced(make_project: MakeProject) -> None:
    project = make_project()
    assert generate(project)[0] == 0
    (project / "compose.yaml").write_bytes(b"# \xff\xfe mine\n")
    (project / "docker/Dockerfile").write_text("# stale\n")
    before = files(project)
    code, err = generate(project)
    assert code == 2  # not a file devenv wrote, and not text: bad input, one line
    assert "compose.yaml: not UTF-8 text" in one_line(err) and "nothing was written" in err
    assert files(project) == before


def test_a_non_utf8_gitignore_is_kept_byte_for_byte(make_project: MakeProject) -> None:
    project = make_project()
    (project / ".gitignore").write_bytes(b"# caf\xe9\n*.pyc")
    code, err = generate(project)
    assert code == 0, err
    data = (project / ".gitignore").read_bytes()
    assert data.startswith(b"# caf\xe9\n*.pyc\n# local to this checkout")
    assert b".devenv/\n" in data


def test_init_never_replaces_a_dangling_plan_link(tmp_path: Path) -> None:
    (tmp_path / "devenv.toml").symlink_to(tmp_path / "elsewhere.toml")
    result = CliRunner().invoke(cli, ["-C", str(tmp_path), "init"])
    assert result.exit_code == 2
    assert "already exists" in one_line(result.stderr)
    assert (tmp_path / "devenv.toml").is_symlink()
    assert not (tmp_path / "elsewhere.toml").exists()
