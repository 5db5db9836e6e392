"""Benchmark: `devenv host-install` against the seed's steps typed by hand, on a bare host.

Two fresh containers of the bare Debian 13 host image (see tests/integration/conftest_host.py),
the same Debian 13 + PostgreSQL 17 plan in both:

  devenv   `devenv host-install`, twice
  by hand  apt-get update + apt-get install (the plan's packages), python3 -m venv,
           pip install -r requirements.txt — twice, as the seed's README had it

Prints the wall times of the first and the second run and their ratios, measured in this one
run (times on these machines are noisy; compare ratios, not seconds). Needs a Docker engine
(scripts/engine.sh start). Usage: python bench/host_install.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devenv.container.base import ensure_base  # noqa: E402
from devenv.container.engine import Engine  # noqa: E402
from devenv.plan.model import load_plan  # noqa: E402
from devenv.steps.compile import system_packages  # noqa: E402
from devenv.steps.model import Mode  # noqa: E402
from devenv.steps.recipe import requirements_review  # noqa: E402
from tests.integration.conftest_host import (  # noqa: E402
    Host,
    build_bare_host,
    start_host,
    stop_host,
)

PLAN = """\
[environment]
name = "benchhost"
base = "debian:trixie"

[postgres]
version = 17

[python]
requirements = ["requirements.txt"]
smoke = ["psycopg", "pgvector.psycopg", "sqlalchemy"]
"""
REQUIREMENTS = "psycopg[binary]==3.3.9\npgvector==0.5.1\nSQLAlchemy==2.0.44\nfastapi==0.115.6\n"
PROJECT = "/srv/proj"


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def timed(host: Host, commands: list[list[str]]) -> float:
    started = time.monotonic()
    for argv in commands:
        code, out = host.run(argv, user="root")
        if code != 0:
            raise SystemExit(f"`{' '.join(argv)}` failed ({code}):\n{out[-3000:]}")
    return time.monotonic() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="devenv-bench-") as tmp:
        project = Path(tmp)
        (project / "devenv.toml").write_text(PLAN)
        (project / "requirements.txt").write_text(REQUIREMENTS)
        plan = load_plan(project)
        packages, _ = system_packages(plan, requirements_review(plan, Mode.CONTAINER))
        by_hand = [
            ["apt-get", "update"],
            [
                "env",
                "DEBIAN_FRONTEND=noninteractive",
                "apt-get",
                "install",
                "-y",
                "--no-install-recommends",
                *packages,
            ],
            ["python3", "-m", "venv", f"{PROJECT}/.venv"],
            [f"{PROJECT}/.venv/bin/pip", "install", "-r", f"{PROJECT}/requirements.txt"],
        ]
        devenv = [["devenv", "-C", PROJECT, "host-install"]]
        with Engine.connect() as engine:
            base = ensure_base(
                engine,
                "debian:trixie",
                "debian",
                "trixie",
                version="13",
                mirror=None,
                keyring=None,
                force=False,
                log=log,
            ).ref
            image = build_bare_host(engine, base)
            times: dict[str, tuple[float, float]] = {}
            for name, commands in (("devenv", devenv), ("by hand", by_hand)):
                host = start_host(engine, image, user="root", project=PROJECT, docker_socket=False)
                try:
                    host.put_project(project, PROJECT, "root")
                    log(f"{name}: first run")
                    first = timed(host, commands)
                    log(f"{name}: second run")
                    second = timed(host, commands)
                    times[name] = (first, second)
                finally:
                    stop_host(host)
    (d1, d2), (h1, h2) = times["devenv"], times["by hand"]
    print(f"{'':18}{'first run':>12}{'second run':>12}")
    print(f"{'devenv':18}{d1:>11.1f}s{d2:>11.1f}s")
    print(f"{'by hand':18}{h1:>11.1f}s{h2:>11.1f}s")
    print(f"{'devenv / by hand':18}{d1 / h1:>12.2f}{d2 / h2:>12.2f}")
    print(f"second run / first run: devenv {d2 / d1:.3f}, by hand {h2 / h1:.3f}")
    print(f"devenv's second run {'is' if d2 <= 1.0 else 'is NOT'} within the 1.0 s target")


if __name__ == "__main__":
    main()
