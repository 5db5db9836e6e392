"""A teammate's `devenv up` from the team's prebuild vs building cold, measured in one run.

The parts are the real ones scripts/services.sh starts: the registry (TLS, htpasswd) and a
second engine over TCP+TLS playing the teammate's machine. CI builds and pushes on the main
engine first (not timed). Then, on the teammate's engine emptied each time:

- prebuild: `devenv up` with `[environment] registry`: the base and both images are pulled;
  no build step runs; then compose, the database check and `devenv verify`.
- cold: `devenv up` of the same plan without a registry: the base is copied from this
  machine's engine (as devenv does for an engine that lacks it), both images are built from
  nothing (no layer cache there), then the same start and verify.

The plan: Debian 13, PostgreSQL 17 + pgvector, and bench/build.py's nine pins. Timings are
noisy here: compare the ratio of one run, never figures of two.

    python bench/prebuild.py
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from build import (
    REQUIREMENTS,  # bench/build.py's nine pins (run as a script: bench/ is on the path)
)

from devenv.container.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
NAME = "dvp14-bench"
PLAN = """\
[environment]
name = "{name}"
base = "debian:trixie"
{registry}

[postgres]
version = 17
host_port = 5491

[python]
requirements = ["requirements.txt"]
smoke = ["fastapi", "sqlalchemy", "pgvector.psycopg"]

[devcontainer]
forward_ports = []
"""


def services() -> dict[str, str]:
    script = str(ROOT / "scripts" / "services.sh")
    subprocess.run(["bash", script, "start", "registry", "remote"], check=True, timeout=300)
    out = subprocess.run(
        ["bash", script, "env", "registry", "remote"], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def empty(engine: Engine) -> None:
    for container in engine.api.containers(all=True):
        engine.api.remove_container(container["Id"], force=True, v=True)
    for image in engine.api.images(all=True):
        with contextlib.suppress(Exception):  # a child's removal took its parents
            engine.api.remove_image(image["Id"], force=True)
    for volume in engine.api.volumes().get("Volumes") or []:
        engine.api.remove_volume(volume["Name"], force=True)


def devenv(*args: str, env: dict[str, str]) -> float:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "devenv", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"devenv {' '.join(args)} failed:\n{done.stderr[-3000:]}{done.stdout[-2000:]}")
    return seconds


def project(root: Path, registry: str | None) -> Path:
    root.mkdir(parents=True)
    line = f'registry = "{registry}"' if registry else ""
    (root / "devenv.toml").write_text(PLAN.format(name=NAME, registry=line))
    (root / "requirements.txt").write_text(REQUIREMENTS)
    return root


def main() -> None:
    found = services()
    registry = f"{found['DEVENV_TEST_REGISTRY']}/bench-{uuid.uuid4().hex[:8]}"
    remote = {
        "DOCKER_HOST": found["DEVENV_TEST_REMOTE_HOST"],
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": found["DEVENV_TEST_REMOTE_CERT_PATH"],
        "TESTCONTAINERS_RYUK_DISABLED": "true",
        "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
    }
    with tempfile.TemporaryDirectory(prefix="devenv-bench-prebuild-") as tmp:
        work = Path(tmp)
        config = work / "docker-config"
        config.mkdir()
        password = Path(found["DEVENV_TEST_REGISTRY_PASSWORD_FILE"]).read_text().strip()
        subprocess.run(
            [
                *("docker", "--config", str(config), "login", found["DEVENV_TEST_REGISTRY"]),
                *("--username", found["DEVENV_TEST_REGISTRY_USER"], "--password-stdin"),
            ],
            input=password,
            text=True,
            capture_output=True,
            check=True,
        )
        creds = {"DOCKER_CONFIG": str(config)}
        ci = project(work / "ci", registry)
        print("CI: build and push on the main engine (not timed) ...", flush=True)
        devenv("-C", str(ci), "build", "--push", env=creds)

        times: dict[str, float] = {}
        with Engine.connect({k: v for k, v in remote.items() if k.startswith("DOCKER_")}) as mate:
            for how, plan_registry in (("prebuild", registry), ("cold", None)):
                empty(mate)
                root = project(work / how, plan_registry)
                print(f"teammate: devenv up ({how}) ...", flush=True)
                env = {**creds, **remote}
                try:
                    times[how] = devenv("-C", str(root), "up", "--quiet", env=env)
                finally:
                    devenv("-C", str(root), "down", "--volumes", env=env)
            empty(mate)

    print()
    print("| teammate's `devenv up` (empty engine) | seconds |")
    print("| --- | --- |")
    print(f"| from the team's prebuild (registry) | {times['prebuild']:.1f} |")
    print(f"| cold (no registry: builds both images) | {times['cold']:.1f} |")
    print(f"| cold / prebuild | {times['cold'] / times['prebuild']:.1f}x |")


if __name__ == "__main__":
    main()
