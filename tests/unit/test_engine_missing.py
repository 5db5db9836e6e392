"""No engine: one line naming where devenv looked and pointing to host-install; exit 1."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import MakeProject

TRIXIE = '[environment]\nbase = "debian:trixie"\n[postgres]\nversion = 17\n'


@pytest.mark.parametrize("command", ["build", "verify", "base", "lock"])
@pytest.mark.parametrize("host", ["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:1"])
def test_engine_commands_without_engine(make_project: MakeProject, command: str, host: str) -> None:
    root = make_project(TRIXIE)
    result = subprocess.run(
        [sys.executable, "-m", "devenv", "-C", str(root), command],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_HOST": host},
        check=False,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert host.split("://")[1] in lines[0]
    assert "devenv host-install" in lines[0]
