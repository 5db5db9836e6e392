"""Two runs on one project at once: the second exits 75 (EX_TEMPFAIL) with one line, before it
touches the engine or the host; a lock held by a killed run never blocks the next one. And the
threads of one run (devenv.support.concurrency): failures reach the caller, Ctrl-C cancels."""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import pytest
from click.testing import CliRunner

from devenv.cli import cli
from devenv.errors import EXIT_BUSY
from devenv.support import concurrency
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


def test_a_task_s_value_and_exception_reach_the_caller() -> None:
    assert concurrency.result(concurrency.start(lambda: 42, name="answer")) == 42

    def fail() -> int:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        concurrency.result(concurrency.start(fail, name="fail"))


def test_side_by_side_waits_for_all_and_keeps_their_order() -> None:
    gate = threading.Event()

    def first() -> str:
        gate.wait(5)  # finishes after the second
        return "first"

    def second() -> str:
        gate.set()
        return "second"

    assert concurrency.side_by_side([first, second], name="order") == ["first", "second"]


def test_the_second_task_s_failure_is_not_lost() -> None:
    def fine() -> None:
        return None

    def broken(what: str) -> Callable[[], None]:
        def run() -> None:
            raise RuntimeError(what)

        return run

    with pytest.raises(RuntimeError, match="second"):
        concurrency.side_by_side([fine, broken("second")], name="second")
    with pytest.raises(RuntimeError, match="first") as raised:
        concurrency.side_by_side([broken("first"), broken("second")], name="both")
    assert getattr(raised.value, "__notes__", []) == ["also failed: RuntimeError: second"]


def test_keyboard_interrupt_while_waiting_cancels_and_propagates() -> None:
    release = threading.Event()
    interrupted: list[bool] = []

    def blocked() -> None:
        release.wait(10)

    def on_interrupt() -> None:
        interrupted.append(True)
        release.set()  # what closing a build's connection does to its job

    threading.Timer(0.2, _thread.interrupt_main).start()
    with pytest.raises(KeyboardInterrupt):
        concurrency.side_by_side([blocked, blocked], name="ctrl-c", on_interrupt=on_interrupt)
    assert interrupted == [True]


def test_a_wait_stops_when_its_check_raises() -> None:
    never: Future[None] = Future()
    calls: list[int] = []

    def check() -> None:
        calls.append(1)
        if len(calls) == 3:
            raise TimeoutError("torn down")

    with pytest.raises(TimeoutError, match="torn down"):
        concurrency.result(never, poll=0.01, check=check)
