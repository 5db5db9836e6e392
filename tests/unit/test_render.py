"""Renderers: golden files for the two reference plans, determinism, and safe writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from devenv.cli import cli
from devenv.plan.model import load_plan
from devenv.render.files import render_all
from devenv.steps.recipe import compile_plan
from tests.conftest import MakeProject

GOLDEN = Path(__file__).parent.parent / "golden"
PLANS = {
    "ubuntu-24.04-pg16": "[environment]\nname = 'backend'\n",
    "debian-13-pg17": "[environment]\nname = 'backend'\nbase = 'debian:trixie'\n"
    "[postgres]\nversion = 17\n",
}


@pytest.mark.parametrize("case", sorted(PLANS))
def test_golden_files(make_project: MakeProject, case: str) -> None:
    """Set DEVENV_UPDATE_GOLDEN=1 to rewrite them after an intended change, then review."""
    files = render_all(compile_plan(load_plan(make_project(PLANS[case]))))
    folder = GOLDEN / case
    if os.environ.get("DEVENV_UPDATE_GOLDEN"):
        for f in files:
            (folder / f.path).parent.mkdir(parents=True, exist_ok=True)
            (folder / f.path).write_text(f.content)
    for f in files:
        assert (folder / f.path).read_text() == f.content, f.path
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert on_disk == {f.path for f in files}


def test_same_plan_same_bytes(make_project: MakeProject) -> None:
    first = render_all(compile_plan(load_plan(make_project(name="a"))))
    second = render_all(compile_plan(load_plan(make_project(name="a"))))
    assert first == second


def test_dockerfile_shape(make_project: MakeProject) -> None:
    files = {f.path: f.content for f in render_all(compile_plan(load_plan(make_project())))}
    dockerfile = files["docker/Dockerfile"]
    lines = dockerfile.splitlines()
    stages = [line for line in lines if line.startswith("FROM ")]
    assert stages == ["FROM ubuntu:24.04 AS base", "FROM base AS db", "FROM base AS dev"]
    dev = dockerfile.split("FROM base AS dev")[1]
    # Non-root, venv first on PATH, workspace mounted not copied, requirements copied late.
    assert "USER dev" in dev and "\nUSER root" not in dev.split("USER dev", 1)[1]
    assert "ENV PATH=/opt/venv/bin:$PATH" in dev
    assert "COPY . " not in dockerfile and "ADD " not in dockerfile
    copies = [line for line in dev.splitlines() if line.startswith("COPY")]
    assert copies[-1].endswith("/opt/devenv/requirements/requirements.txt")
    assert dev.index("apt-get") < dev.index("python3 -m venv") < dev.index("COPY --chown=dev:dev")
    # No build arg or secret is declared; proxies come as Docker's predefined build args.
    assert not [line for line in lines if line.startswith("ARG")]
    assert "--mount" not in dockerfile and "--secret" not in dockerfile


def test_compose_binds_db_to_loopback_without_password(make_project: MakeProject) -> None:
    files = {f.path: f.content for f in render_all(compile_plan(load_plan(make_project())))}
    compose = files["compose.yaml"]
    assert "127.0.0.1:5432:5432" in compose
    assert "PASSWORD" not in compose.replace("env_file", "")
    assert "condition: service_healthy" in compose


def test_generate_check_force_and_hand_edits(make_project: MakeProject) -> None:
    root = make_project()
    runner = CliRunner()
    assert runner.invoke(cli, ["-C", str(root), "generate", "--check"]).exit_code == 1
    result = runner.invoke(cli, ["-C", str(root), "generate"])
    assert result.exit_code == 0, result.output
    assert (root / ".devenv/db.env").stat().st_mode & 0o777 == 0o600
    assert ".devenv/" in (root / ".gitignore").read_text()
    assert runner.invoke(cli, ["-C", str(root), "generate", "--check"]).exit_code == 0

    # A plan change makes the files stale: --check prints a unified diff and exits 1.
    (root / "devenv.toml").write_text("[devcontainer]\nforward_ports = [8001]\n")
    result = runner.invoke(cli, ["-C", str(root), "generate", "--check"])
    assert result.exit_code == 1
    assert "+    8001" in result.stderr and "--- a/.devcontainer/devcontainer.json" in result.stderr
    assert runner.invoke(cli, ["-C", str(root), "generate"]).exit_code == 0

    # A hand edit is never overwritten without --force, and nothing else is written either.
    dockerfile = root / "docker/Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN echo mine\n")
    (root / "devenv.toml").write_text("[devcontainer]\nforward_ports = [8002]\n")
    before = (root / ".devcontainer/devcontainer.json").read_text()
    result = runner.invoke(cli, ["-C", str(root), "generate"])
    assert result.exit_code == 1
    assert "docker/Dockerfile was edited by hand" in result.stderr and "--force" in result.stderr
    assert "RUN echo mine" in dockerfile.read_text()
    assert (root / ".devcontainer/devcontainer.json").read_text() == before
    assert runner.invoke(cli, ["-C", str(root), "generate", "--force"]).exit_code == 0
    assert "RUN echo mine" not in dockerfile.read_text()


def test_generate_leaves_no_temporary_files(make_project: MakeProject) -> None:
    root = make_project()
    assert CliRunner().invoke(cli, ["-C", str(root), "generate"]).exit_code == 0
    assert not [p for p in root.rglob(".*.*") if p.name.startswith((".Dockerfile", ".compose"))]


def test_scripts_are_executable(make_project: MakeProject) -> None:
    root = make_project()
    assert CliRunner().invoke(cli, ["-C", str(root), "generate"]).exit_code == 0
    for script in (root / "docker").glob("*.sh"):
        assert os.access(script, os.X_OK), script
