"""Faults with the real engine (issue 11): SIGINT or SIGTERM in the middle of `devenv build`
ends with exit 130 and one line, and the engine keeps no container of the cut step.

Names carry the prefix `safe` (environment `safe-fault`, venv /opt/safe-fault-venv): the
interrupted step is recognised by that path in its command, whoever else uses the engine."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devenv.container.engine import Engine
from tests.integration.conftest import TRIXIE_PLAN, TRIXIE_REQUIREMENTS

MARKER = "/opt/safe-fault-venv"


def fault_project(tmp_path: Path, marker: str) -> Path:
    root = tmp_path / "fault"
    root.mkdir()
    plan = TRIXIE_PLAN.replace('name = "itest"', 'name = "safe-fault"').replace(
        "[python]\n", f'[python]\ncontainer_venv = "{marker}"\n'
    )
    (root / "devenv.toml").write_text(plan)
    (root / "requirements.txt").write_text(TRIXIE_REQUIREMENTS)
    return root


class EngineProxy:
    """A unix socket in front of the engine: `cut()` makes the engine vanish for the client
    (every connection closed, nothing answers), as when dockerd stops, without touching the
    engine others share."""

    def __init__(self, path: Path, target: str) -> None:
        self.target = target
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(16)
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            with self.lock:
                self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.server.close()
        with self.lock:
            for s in self.open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


def run_until_venv_step(
    root: Path, marker: str, env: dict[str, str] | None = None, needle: str = ""
) -> tuple[subprocess.Popen[str], list[str]]:
    """Start `devenv build --target dev`; return once a dev RUN step naming `marker` (and
    `needle`) began."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "devenv", "-C", str(root), "build", "--target", "dev"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    lines: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        lines.append(line.rstrip("\n"))
        if line.startswith("[dev ") and " RUN " in line and marker in line and needle in line:
            time.sleep(1.0)
            return proc, lines
    proc.wait()
    pytest.fail("the build never reached a venv step:\n" + "\n".join(lines[-20:]))


def wait_until_gone(engine: Engine, marker: str) -> list[str]:
    deadline = time.monotonic() + 60
    while containers_of(engine, marker) and time.monotonic() < deadline:
        time.sleep(1)
    return containers_of(engine, marker)


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
    marker = f"{MARKER}-{sig.name.lower()}"
    root = fault_project(tmp_path, marker)
    proc, lines = run_until_venv_step(root, marker)
    try:
        proc.send_signal(sig)
        assert proc.stderr is not None
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
    assert wait_until_gone(engine, marker) == []
    assert not engine.image_exists("devenv/safe-fault-dev:latest")


def test_a_network_cut_mid_install_is_one_line_naming_the_step(
    trixie_base: str, engine: Engine, tmp_path: Path
) -> None:
    marker = f"{MARKER}-net"
    root = fault_project(tmp_path, marker)
    with (root / "requirements.txt").open("a") as f:
        f.write("pandas==2.2.3\n")  # a long download: the cut lands in the middle of it
    proc, lines = run_until_venv_step(root, marker, needle=" -r ")
    try:
        cut: list[str] = []
        deadline = time.monotonic() + 60
        while not cut and time.monotonic() < deadline and proc.poll() is None:
            for c in engine.api.containers(filters={"status": "running"}):
                if marker in str(c.get("Command", "")) and " -r " in str(c.get("Command", "")):
                    for network in (c.get("NetworkSettings") or {}).get("Networks") or {}:
                        engine.api.disconnect_container_from_network(c["Id"], network)
                        cut.append(network)
            time.sleep(0.2)
        assert cut, "the install step's container was never seen running"
        assert proc.stderr is not None
        rest = proc.stderr.read()
        code = proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    tail = [ln for ln in rest.splitlines() if ln.strip()]
    assert code == 1, "\n".join(lines[-5:] + tail[-10:])
    last = tail[-1]
    assert last.startswith("devenv: error: building the dev image failed at step "), last
    assert "pip install" in last and "Traceback" not in rest
    print(last)
    assert wait_until_gone(engine, marker) == []


def test_the_engine_vanishing_mid_build_is_one_line(
    trixie_base: str, engine: Engine, tmp_path: Path
) -> None:
    marker = f"{MARKER}-gone"
    root = fault_project(tmp_path, marker)
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    assert host.startswith("unix://"), "this test proxies a unix socket"
    sock = tmp_path / "engine.sock"
    proxy = EngineProxy(sock, host.removeprefix("unix://"))
    proc, lines = run_until_venv_step(root, marker, {"DOCKER_HOST": f"unix://{sock}"})
    try:
        proxy.cut()
        assert proc.stderr is not None
        rest = proc.stderr.read()
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    tail = [ln for ln in rest.splitlines() if ln.strip()]
    assert code == 1, "\n".join(lines[-5:] + tail[-10:])
    assert tail and tail[-1].startswith("devenv: error: "), tail[-10:]
    assert "Traceback" not in rest
    print(tail[-1])
    assert wait_until_gone(engine, marker) == []
