"""`devenv up` then `devenv down` on a project that has only devenv.toml and requirements.txt.

Same base and steps as the shared built project, so its images come from the layer cache in
seconds. Its own name and host port, so nothing else on 127.0.0.1:5432 is in the way.
Whatever happens, its containers, network and volume are removed at the end.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv.container.compose import Service, parse_ps
from tests.integration.conftest import (
    TRIXIE_PLAN,
    TRIXIE_REQUIREMENTS,
    BuiltProject,
    devenv_cli,
    log,
)

NAME = "itest-updown"
PORT = 55441


def compose(*args: str) -> subprocess.CompletedProcess[str]:
    argv = ["docker", "compose", "--project-name", NAME, *args]
    log("+ " + " ".join(argv))
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def services() -> tuple[Service, ...]:
    listed = compose("ps", "--all", "--format", "json")
    for _ in range(2):  # a container removed between compose's list and inspect: list again
        if listed.returncode == 0 or "No such container" not in listed.stderr:
            break
        listed = compose("ps", "--all", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    return parse_ps(listed.stdout)


def volume_exists() -> bool:
    argv = ["docker", "volume", "inspect", f"{NAME}_db-data"]
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="module")
def project(
    built_project: BuiltProject, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("updown")
    plan = TRIXIE_PLAN.replace('name = "itest"', f'name = "{NAME}"')
    plan = plan.replace("version = 17\n", f"version = 17\nhost_port = {PORT}\n")
    assert NAME in plan and str(PORT) in plan
    (root / "devenv.toml").write_text(plan)
    (root / "requirements.txt").write_text(TRIXIE_REQUIREMENTS)
    try:
        yield root
    finally:
        compose("down", "--volumes", "--remove-orphans")
        subprocess.run(
            ["docker", "image", "rm", f"devenv/{NAME}-dev:latest", f"devenv/{NAME}-db:latest"],
            capture_output=True,
            check=False,
        )


def test_up_generates_builds_starts_verifies_and_says_how_to_attach(project: Path) -> None:
    up = devenv_cli("-C", str(project), "up", timeout=900)
    assert up.returncode == 0, up.stdout + up.stderr[-4000:]
    assert (project / "compose.yaml").is_file() and (project / ".devenv" / "db.env").is_file()
    out = up.stdout
    assert re.search(r"verify +(\d+)/\1 checks passed", out), out
    assert "Reopen in Container" in out and "docker compose" in out and "exec app bash" in out
    assert f"127.0.0.1:{PORT}" in out and "vector 0.8.0 available" in out
    state = {s.service: (s.state, s.health) for s in services()}
    assert state == {"app": ("running", ""), "db": ("running", "healthy")}, state

    again = devenv_cli("-C", str(project), "up", "--no-verify", timeout=300)
    assert again.returncode == 0, again.stderr[-4000:]
    assert "files     current" in again.stdout and "skipped (--no-verify)" in again.stdout


def test_down_leaves_no_container_and_keeps_the_volume_unless_asked(project: Path) -> None:
    if not services():
        pytest.fail("no services to stop: the up test did not run or failed", pytrace=False)
    down = devenv_cli("-C", str(project), "down", timeout=300)
    assert down.returncode == 0, down.stderr[-4000:]
    assert services() == ()
    running = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={NAME}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert running.stdout.strip() == ""
    assert volume_exists(), "down without --volumes must keep the database volume"
    assert "kept the database volume" in down.stdout

    gone = devenv_cli("-C", str(project), "down", "--volumes", timeout=300)
    assert gone.returncode == 0, gone.stderr[-4000:]
    assert not volume_exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_up_leaves_no_service_and_no_new_volume(
    project: Path, sig: signal.Signals, tmp_path: Path
) -> None:
    compose("down", "--volumes", "--remove-orphans")
    assert not volume_exists()
    # Images first, uninterrupted: under a loaded CI another file may have pruned the base, and
    # the interrupt is meant for compose's start, not for a rebuild.
    build = devenv_cli("-C", str(project), "build", timeout=1200)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    written = tmp_path / f"up-{sig.name}.log"
    with written.open("wb") as sink:  # a file, not a pipe nobody reads until the end
        process = subprocess.Popen(
            [sys.executable, "-m", "devenv", "-C", str(project), "up"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: the signal reaches it as a terminal's would
        )

    def output() -> str:
        return written.read_text("utf-8", "replace")[-3000:]

    try:
        deadline = time.monotonic() + 600
        while not services():  # interrupt once compose has started something
            assert process.poll() is None, output()
            assert time.monotonic() < deadline, "up never started a service:\n" + output()
            time.sleep(0.5)
        os.killpg(process.pid, sig)
        process.wait(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, output()
    assert "Traceback" not in output()
    assert services() == (), output()
    assert not volume_exists(), "the volume this run made must go with it"
