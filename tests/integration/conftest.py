"""Integration tests run against a real Docker engine (start one with scripts/engine.sh start).

Everything under tests/integration is marked ``integration``. No engine is a failure, not a
skip: these tests are where the product is proven.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from devenv.base import ensure_base
from devenv.engine import LABEL_PREFIX, Engine
from devenv.errors import EngineError

HERE = Path(__file__).resolve().parent
TRIXIE = "debian:trixie"

#: run(ref, argv or None for the image's default command) -> (exit code, stdout+stderr)
RunContainer = Callable[[str, Sequence[str] | None], tuple[int, str]]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)


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


@pytest.fixture(scope="session")
def trixie_base(engine: Engine) -> str:
    """debian:trixie, bootstrapped with debootstrap only if the engine does not have it."""
    result = ensure_base(
        engine,
        TRIXIE,
        "debian",
        "trixie",
        mirror=None,
        keyring=None,
        force=False,
        log=log,
    )
    return result.ref


@pytest.fixture(scope="session")
def run_container(engine: Engine) -> RunContainer:
    """Run a throw-away container without network or tty; it is always removed."""

    def run(ref: str, argv: Sequence[str] | None) -> tuple[int, str]:
        container = engine.api.create_container(
            image=ref,
            command=list(argv) if argv is not None else None,
            labels={f"{LABEL_PREFIX}test": "integration"},
            host_config=engine.api.create_host_config(network_mode="none"),
        )
        try:
            engine.api.start(container)
            status = engine.api.wait(container, timeout=120)
            output = engine.api.logs(container, stdout=True, stderr=True)
        finally:
            engine.api.remove_container(container, force=True)
        return int(status["StatusCode"]), output.decode("utf-8", "replace")

    return run
