"""Two runs on one project at once: the second exits 75 (EX_TEMPFAIL) with one line, before it
touches the engine or the host; a lock held by a killed run never blocks the next one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from devenv.cli import cli
from devenv.errors import EXIT_BUSY
from devenv.support import exclusive_run as host_lock
from tests.conftest import MakeProject

SOURCE = Path(__file__).resolve().parents[2]
HOLD = """\
import sys, time
from pathlib import Path
from devenv.support.exclusive_run import host_lock, images_lock
from devenv.support.exclusive_run import generate_lock
project, which = Path(sys.argv[1]), sys.argv[2]
lock = {"images": images_lock, "generate": generate_lock}.get(which)
lock = lock(project) if lock else host_lock(project, dry_run=False)
with lock:
    print("locked", flush=True)
    time.sleep(60)
"""


def hold(project: Path, which: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(project), which],
        cwd=SOURCE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SOURCE)},
    )
    assert process.stdout is not None and process.stdout.readline() == "locked\n"
    return process


@pytest.mark.parametrize(
    ("which", "args"),
    [
        ("images", ["build"]),
        ("images", ["up", "--no-verify"]),
        ("host", ["host-install"]),
        ("host", ["host-install", "--dry-run"]),
    ],
)
def test_a_second_run_exits_75_with_one_line(
    make_project: MakeProject,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    which: str,
    args: list[str],
) -> None:
    project = make_project()
    os_release = tmp_path / "os-release"  # this host is the plan's release, for host-install
    os_release.write_text('ID=ubuntu\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\n')
    monkeypatch.setenv("DEVENV_OS_RELEASE", str(os_release))
    holder = hold(project, which)
    try:
        result = CliRunner().invoke(cli, ["-C", str(project), *args])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == EXIT_BUSY, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "already running" in lines[0], result.stderr
    assert f"(pid {holder.pid})" in lines[0]
    assert not (project / "docker").exists()  # nothing ran


def test_a_lock_held_by_a_killed_run_is_free(make_project: MakeProject) -> None:
    from devenv.support.exclusive_run import images_lock

    project = make_project()
    holder = hold(project, "images")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with images_lock(project):
        pass


def test_a_second_generate_waits_then_exits_75(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project()
    monkeypatch.setattr(host_lock, "GENERATE_WAIT", 0.5)
    holder = hold(project, "generate")
    try:
        result = CliRunner().invoke(cli, ["-C", str(project), "generate"])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == EXIT_BUSY, result.output
    assert "devenv generate is already running" in result.stderr
    assert not (project / "docker").exists()
    # Once the holder is gone, generate runs.
    assert CliRunner().invoke(cli, ["-C", str(project), "generate"]).exit_code == 0


def test_leftovers_of_a_killed_generate_are_removed_and_never_sent(
    make_project: MakeProject,
) -> None:
    from docker.utils.build import exclude_paths

    project = make_project()
    assert CliRunner().invoke(cli, ["-C", str(project), "generate"]).exit_code == 0
    leftovers = [
        "docker/.Dockerfile.k1l2.devenv-tmp",
        "docker/certs/.0123456789abcdef.crt.x.devenv-tmp",
        ".devenv/.db.env.x.devenv-tmp",
        ".devcontainer/.devcontainer.json.x.devenv-tmp",
        ".compose.yaml.x.devenv-tmp",
    ]
    for rel in leftovers:
        (project / rel).write_text("half")
    mine = project / "docker/.notes.devenv-tmp"  # not a name generate writes: kept
    mine.write_text("x")
    lines = (project / ".dockerignore").read_text().splitlines()
    patterns = [line for line in lines if line and not line.startswith("#")]
    sent = set(exclude_paths(str(project), patterns, "docker/Dockerfile"))
    assert not sent & {*leftovers, "docker/.notes.devenv-tmp"}
    assert CliRunner().invoke(cli, ["-C", str(project), "generate"]).exit_code == 0
    assert not any((project / rel).exists() for rel in leftovers)
    assert mine.exists()
