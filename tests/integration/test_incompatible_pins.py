"""A real project's 2024 pins on a base whose Python is newer than they support: the build fails
where it must (asyncpg 0.29.0 does not compile for CPython 3.13), and its one line names the
package, the Python, and what installs from wheels instead, as the index says.

The requirements are pamelafox/pgvector-playground's (tests/projects/pgvector-playground), on
Debian 13 (Python 3.13); on the default Ubuntu 24.04 (3.12) they install from wheels
(tests/integration/test_real_projects.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devenv.container.engine import Engine
from tests.integration.conftest import devenv_cli

NAME = "pins-py313"
PROJECT = Path(__file__).resolve().parents[1] / "projects" / "pgvector-playground"
PLAN = f"""\
[environment]
name = "{NAME}"
base = "debian:trixie"
[postgres]
version = 17
host_port = 56380
"""


@pytest.fixture(scope="module")
def project(trixie_base: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pins") / NAME
    root.mkdir()
    shutil.copy(PROJECT / "requirements.txt", root / "requirements.txt")
    (root / "devenv.toml").write_text(PLAN)
    return root


def test_the_plan_says_what_works_before_anything_runs(project: Path) -> None:
    done = devenv_cli("-C", str(project), "plan")
    assert done.returncode == 0, done.stderr
    assert (
        "if asyncpg fails to build: asyncpg 0.30.0 is the first with a wheel for CPython 3.13 "
        "on x86_64; asyncpg 0.29.0 has wheels for ubuntu:22.04 (Python 3.10), ubuntu:24.04 "
        "(Python 3.12), debian:12 (Python 3.11)"
    ) in done.stdout


def test_the_failed_build_names_the_pin_the_python_and_what_works(
    project: Path, engine: Engine
) -> None:
    done = devenv_cli("-C", str(project), "build", "--target", "dev", timeout=1800)
    try:
        assert done.returncode == 1, done.stderr[-3000:]
        last = done.stderr.strip().splitlines()[-1]
        assert last == (
            "devenv: error: asyncpg failed to build from source on Debian 13 (trixie)'s "
            "Python 3.13 (asyncpg 0.30.0 is the first with a wheel for CPython 3.13 on x86_64; "
            "asyncpg 0.29.0 has wheels for ubuntu:22.04 (Python 3.10), ubuntu:24.04 "
            "(Python 3.12), debian:12 (Python 3.11): pin that version, or set "
            "[environment] base)"
        ), last
    finally:
        engine.remove_image(f"devenv/{NAME}-dev:partial")
