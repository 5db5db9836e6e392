"""Faults with the real engine (issue 11): SIGINT or SIGTERM in the middle of `devenv build`
ends with exit 130 and one line, and the engine keeps no container of the cut step.

Names carry the prefix `safe` (environment `safe-fault`, venv /opt/safe-fault-venv): the
interrupted step is recognised by that path in its command, whoever else uses the engine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devenv.engine import Engine
from tests.integration.conftest import TRIXIE_PLAN, TRIXIE_REQUIREMENTS

MARKER = "/opt/safe-fault-venv"


def containers_of(engine: Engine, marker: str) -> list[str]:
    """Ids of containers (any state) whose command mentions `marker`."""
    found = []
    for c in engine.api.containers(all=True):
        if marker in str(c.get("Command", "")):
            found.append(str(c["Id"]))
    return found


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_build_exits_130_and_leaves_no_container(
    trixie_base: str, engine: Engine, tmp_path: Path, sig: signal.Signals
) -> None:
    root = tmp_path / "fault"
    root.mkdir()
    plan = TRIXIE_PLAN.replace('name = "itest"', 'name = "safe-fault"').replace(
        "[python]\n", f'[python]\ncontainer_venv = "{MARKER}-{sig.name.lower()}"\n'
    )
    (root / "devenv.toml").write_text(plan)
    (root / "requirements.txt").write_text(TRIXIE_REQUIREMENTS)
    marker = f"{MARKER}-{sig.name.lower()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devenv", "-C", str(root), "build", "--target", "dev"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            # A RUN step of the dev stage that names the venv: cut it while it runs.
            if line.startswith("[dev ") and " RUN " in line and marker in line:
                time.sleep(1.0)
                proc.send_signal(sig)
                break
        else:
            pytest.fail("the build never reached a venv step:\n" + "\n".join(lines[-20:]))
        rest = proc.stderr.read()
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    tail = [ln for ln in rest.splitlines() if ln.strip()]
    assert code == 130, "\n".join(lines[-5:] + tail[-10:])
    assert tail and tail[-1] == "devenv: interrupted", tail[-10:]
    assert "Traceback" not in rest
    # The engine cancels the step when the client goes away (forcerm): its container goes.
    deadline = time.monotonic() + 60
    while containers_of(engine, marker) and time.monotonic() < deadline:
        time.sleep(1)
    assert containers_of(engine, marker) == []
    assert not engine.image_exists("devenv/safe-fault-dev:latest")
