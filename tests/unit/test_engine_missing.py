"""No engine: one line naming where devenv looked and pointing to host-install; exit 1."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import MakeProject


def test_build_without_engine(make_project: MakeProject) -> None:
    root = make_project()
    for host in ("unix:///nonexistent/docker.sock", "tcp://127.0.0.1:1"):
        env = {**os.environ, "DOCKER_HOST": host}
        result = subprocess.run(
            [sys.executable, "-m", "devenv", "-C", str(root), "build"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=60,
        )
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr
        assert host in lines[0] or host.split("://")[1] in lines[0]
        assert "devenv host-install" in lines[0]
