"""The example backend (the default plan, Ubuntu 24.04 + PostgreSQL 16) in container mode, as
its README says: `devenv up` (which runs its Alembic migration as a setup task), then `devenv
run -- pytest` in the app container. Its own name and port; removed at the end."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import log

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "backend"
SOURCES = (
    "devenv.toml", "requirements.txt", "pyproject.toml", "alembic.ini", "app", "db", "migrations",
    "tests",
)  # fmt: skip
NAME = "day2-example"
PORT = 56420


def devenv(root: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    log("+ devenv " + " ".join(args))
    return subprocess.run(
        [sys.executable, "-m", "devenv", "-C", str(root), *args],
        capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture(scope="module")
def example(noble_base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("day2-example")
    for name in SOURCES:
        source = EXAMPLE / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    plan = root / "devenv.toml"
    text = re.sub(r'(?m)^name = "docsearch"', f'name = "{NAME}"', plan.read_text())
    text = re.sub(r"(?m)^host_port = \d+", f"host_port = {PORT}", text)
    assert NAME in text and str(PORT) in text
    plan.write_text(text)
    if os.geteuid() == 0:  # the checkout belongs to the image's user, as a developer's is theirs
        for path in (root, *root.rglob("*")):
            os.chown(path, 1000, 1000, follow_symlinks=False)
    try:
        yield root
    finally:
        devenv(root, "down", "--volumes", timeout=300)
        subprocess.run(
            ["docker", "image", "rm", f"devenv/{NAME}-dev:latest", f"devenv/{NAME}-db:latest"],
            capture_output=True,
            check=False,
        )


def test_up_migrates_then_run_pytest_passes_in_the_app_container(example: Path) -> None:
    up = devenv(example, "up", "--no-verify")
    assert up.returncode == 0, up.stdout + up.stderr[-5000:]
    assert re.search(r"tasks +1/1 ran: alembic upgrade head \(\d+\.\ds\)", up.stdout), up.stdout
    assert "Running upgrade  -> 0001" in up.stderr, up.stderr[-3000:]
    tested = devenv(example, "run", "--", "pytest", "-q")
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
    passed = re.search(r"(\d+) passed", tested.stdout)
    assert passed and int(passed.group(1)) >= 10 and "failed" not in tested.stdout
    # Setup tasks are repeatable: a second up runs the migration again, which does nothing.
    again = devenv(example, "up", "--no-verify", timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Running upgrade" not in again.stderr and "tasks     1/1 ran" in again.stdout
