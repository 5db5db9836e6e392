"""Rebuilds that say why, on a real engine: a requirements edit names requirements.txt at the
install step, a new system package names the package at the apt step, a no-op says nothing."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devenv.container.engine import Engine
from devenv.errors import EngineError
from tests.integration.conftest import TRIXIE_PLAN, TRIXIE_REQUIREMENTS, devenv_cli, tail

NAME = "itest-why"
IMAGE = f"devenv/{NAME}-dev"


@pytest.fixture(scope="module")
def project(
    trixie_base: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    root = tmp_path_factory.mktemp(NAME)
    (root / "devenv.toml").write_text(TRIXIE_PLAN.replace('name = "itest"', f'name = "{NAME}"'))
    (root / "requirements.txt").write_text(TRIXIE_REQUIREMENTS)
    remove(engine)  # what a killed run left: the first build below is a first build
    yield root
    remove(engine)


def remove(engine: Engine) -> None:
    for tag in ("latest", "partial"):
        with contextlib.suppress(EngineError):
            engine.remove_image(f"{IMAGE}:{tag}")


def build(root: Path) -> tuple[dict[str, Any], list[str]]:
    """`devenv build --target dev --json`: the result, and the text lines (on stderr)."""
    done = devenv_cli("-C", str(root), "build", "--target", "dev", "--json")
    assert done.returncode == 0, tail(done)
    return json.loads(done.stdout), done.stderr.splitlines()


def ran(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for s in result["steps"]
        if not s["cached"] and not s["instruction"].startswith(("FROM ", "LABEL "))
    ]


def test_each_rebuild_says_why(project: Path, engine: Engine) -> None:
    first, lines = build(project)
    said = [{"step": None, "title": "", "reason": "first build (no previous image)"}]
    # (Every layer may still be in the engine's cache, from the shared itest project's build.)
    assert first["reasons"]["dev"] == (said if ran(first) else []), first["reasons"]
    assert ("dev: first build (no previous image)" in lines) == bool(ran(first))
    assert "dev.devenv.steps" in engine.image_labels(f"{IMAGE}:latest")

    # A no-op: nothing ran, nothing to say.
    noop, lines = build(project)
    assert ran(noop) == [] and noop["reasons"] == {"dev": []}, noop["reasons"]
    assert not [line for line in lines if line.startswith("dev step ")]

    # requirements.txt edited: the install step names it; no step before the copy re-ran.
    with (project / "requirements.txt").open("a") as f:
        f.write("six==1.17.0\n")
    edited, lines = build(project)
    reasons = edited["reasons"]["dev"]
    # Its COPY, then its RUN: both read requirements.txt.
    install = [r for r in reasons if r["title"].startswith("Install requirements.txt")][-1]
    assert install["reason"].startswith("requirements.txt changed"), reasons
    assert "packages added: six==1.17.0" in " ".join(r["reason"] for r in reasons)
    first_ran = min(r["step"] for r in reasons)
    assert reasons[0]["reason"] == "requirements.txt changed"
    numbered = [s for s in edited["steps"] if s["target"] == "dev"]
    assert all(s["cached"] for s in numbered[: first_ran - 1] if s["instruction"][:5] != "FROM ")
    later = [r for r in reasons if r["step"] > install["step"]]
    assert later and all(r["reason"] == f"re-ran because step {first_ran}'s layer changed"
                         for r in later), reasons  # fmt: skip
    head = f"dev step {install['step']} (Install requirements.txt"
    assert any(line.startswith(head) for line in lines), lines

    # A system package added: the apt step names it.
    plan = (project / "devenv.toml").read_text()
    (project / "devenv.toml").write_text(
        plan.replace(
            "[postgres]",
            '[system]\npackages = ["build-essential", "libpq-dev", "jq"]\n\n[postgres]',
        )
    )
    added, lines = build(project)
    reasons = added["reasons"]["dev"]
    assert reasons[0]["title"] == "System packages", reasons
    assert reasons[0]["reason"] == "packages added: jq", reasons
    assert any(f"dev step {reasons[0]['step']} (System packages): packages added: jq" == line
               for line in lines), lines  # fmt: skip
