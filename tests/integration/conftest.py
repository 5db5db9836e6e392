"""Integration tests run against a real Docker engine (start one with scripts/engine.sh start).

Everything under tests/integration is marked ``integration``. No engine is a failure, not a
skip: these tests are where the product is proven. The files run in parallel: see workers.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from devenv.container.base import ensure_base
from devenv.container.engine import Engine
from devenv.errors import EngineError
from devenv.render.labels import LABEL_PREFIX
from tests.integration.workers import Turns, locked

HERE = Path(__file__).resolve().parent
TRIXIE = "debian:trixie"
NOBLE = "ubuntu:24.04"
BOOKWORM = "debian:12"


class RunContainer(Protocol):
    """run(ref, argv or None for the image's default command) -> (exit code, stdout+stderr)"""

    def __call__(
        self, ref: str, argv: Sequence[str] | None, user: str | None = None
    ) -> tuple[int, str]: ...


def is_integration(item: pytest.Item) -> bool:
    return HERE in item.path.resolve().parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if is_integration(item):
            item.add_marker(pytest.mark.integration)


TURNS = Turns()


def turn_of(item: pytest.Item | None) -> str | None:
    """How a test shares the engine with the other workers' tests (None: not at all)."""
    if item is None or not is_integration(item):
        return None
    whole_engine = "unchanged_engine" in getattr(item, "fixturenames", ())
    exclusive = whole_engine or item.get_closest_marker("engine_exclusive") is not None
    return "exclusive" if exclusive else "shared"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    """Setup, call and teardown (module fixtures too) of each test inside its turn."""
    mode = turn_of(item)
    if mode is not None:
        TURNS.take(mode)
    try:
        return (yield)
    finally:
        if mode != "exclusive" or turn_of(nextitem) != "exclusive":
            TURNS.release()


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    try:
        connected = Engine.connect()
    except EngineError as exc:
        pytest.fail(
            f"integration tests need a Docker engine: {exc}. Run: bash scripts/engine.sh start",
            pytrace=False,
        )
    with connected:
        yield connected


def base(engine: Engine, ref: str, distro: str, codename: str, version: str) -> str:
    """`ref`, bootstrapped with debootstrap only if the engine does not have it; one worker at
    a time (the others then find it)."""
    with locked(f"base-{ref}"):
        result = ensure_base(
            engine, ref, distro, codename, version=version, mirror=None, keyring=None,
            force=False, log=log,
        )  # fmt: skip
    return result.ref


@pytest.fixture(scope="session")
def trixie_base(engine: Engine) -> str:
    """debian:trixie, bootstrapped with debootstrap only if the engine does not have it."""
    return base(engine, TRIXIE, "debian", "trixie", "13")


@pytest.fixture(scope="session")
def noble_base(engine: Engine) -> str:
    """ubuntu:24.04, the default plan's base: bootstrapped (keyring fetched when the host has
    none) only if the engine does not have it."""
    return base(engine, NOBLE, "ubuntu", "noble", "24.04")


@pytest.fixture(scope="session")
def bookworm_base(engine: Engine) -> str:
    """debian:12, a host release that cannot provide the default plan."""
    return base(engine, BOOKWORM, "debian", "bookworm", "12")


@pytest.fixture(scope="session")
def run_container(engine: Engine) -> RunContainer:
    """Run a throw-away container without network or tty; it is always removed."""

    def run(ref: str, argv: Sequence[str] | None, user: str | None = None) -> tuple[int, str]:
        container = engine.api.create_container(
            image=ref,
            command=list(argv) if argv is not None else None,
            user=user or "",
            labels={f"{LABEL_PREFIX}test": "integration"},
            host_config=engine.api.create_host_config(network_mode="none"),
        )
        try:
            engine.api.start(container)
            status = engine.api.wait(container, timeout=120)
            output = engine.api.logs(container, stdout=True, stderr=True)
        finally:
            # v=True: the db image's VOLUME gives each container an anonymous volume.
            engine.api.remove_container(container, force=True, v=True)
        return int(status["StatusCode"]), output.decode("utf-8", "replace")

    return run


def run_networked(engine: Engine, ref: str, script: str, timeout: int = 300) -> tuple[int, str]:
    """Run ``sh -c script`` as root in a throw-away container on the default bridge (apt needs
    the network); it is always removed."""
    container = engine.api.create_container(
        image=ref,
        command=["sh", "-c", script],
        user="root",
        labels={f"{LABEL_PREFIX}test": "integration"},
    )
    try:
        engine.api.start(container)
        status = engine.api.wait(container, timeout=timeout)
        output = engine.api.logs(container, stdout=True, stderr=True)
    finally:
        engine.api.remove_container(container, force=True)
    return int(status["StatusCode"]), output.decode("utf-8", "replace")


# -- a built Debian 13 + PostgreSQL 17 project, shared by build, verify and host tests ---------

TRIXIE_PLAN = """\
[environment]
name = "itest"
base = "debian:trixie"

[postgres]
version = 17

[python]
requirements = ["requirements.txt"]
smoke = ["psycopg", "pgvector.psycopg", "sqlalchemy"]

[devcontainer]
forward_ports = []
"""
TRIXIE_REQUIREMENTS = "psycopg[binary]==3.3.9\npgvector==0.5.1\nSQLAlchemy==2.0.44\n"


def devenv_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 1800
) -> subprocess.CompletedProcess[str]:
    """Run the installed `devenv` entry point as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "devenv", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )


def cli(root: Path, *args: str, timeout: float = 2400) -> subprocess.CompletedProcess[str]:
    """`devenv -C ROOT ARGS`, its exit logged under the project's folder name."""
    done = devenv_cli("-C", str(root), *args, timeout=timeout)
    log(f"{root.name}: devenv {' '.join(args)}: exit {done.returncode}")
    return done


def tail(done: subprocess.CompletedProcess[str]) -> str:
    """The end of a command's output, for an assertion's message."""
    return done.stdout[-3000:] + "\n--- stderr ---\n" + done.stderr[-5000:]


@dataclass(frozen=True)
class BuiltProject:
    root: Path
    build: dict[str, Any]  # the --json of the first build


@pytest.fixture(scope="session")
def built_project(trixie_base: str, tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    root = tmp_path_factory.mktemp("itest")
    (root / "devenv.toml").write_text(TRIXIE_PLAN)
    (root / "requirements.txt").write_text(TRIXIE_REQUIREMENTS)
    generated = devenv_cli("-C", str(root), "generate")
    assert generated.returncode == 0, generated.stderr
    with locked("built-project-itest"):  # one worker builds, the others' builds are cached
        built = devenv_cli("-C", str(root), "build", "--json")
    assert built.returncode == 0, built.stderr[-4000:]
    return BuiltProject(root=root, build=json.loads(built.stdout))
