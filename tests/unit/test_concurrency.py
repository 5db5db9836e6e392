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
from tests.conftest import MakeProject

SOURCE = Path(__file__).resolve().parents[2]
HOLD = """\
import sys, time
from pathlib import Path
from devenv.host_lock import host_lock, images_lock
lock = images_lock(Path(sys.argv[1])) if sys.argv[2] == "images" else host_lock(
    Path(sys.argv[1]), dry_run=False)
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
    from devenv.host_lock import images_lock

    project = make_project()
    holder = hold(project, "images")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with images_lock(project):
        pass
