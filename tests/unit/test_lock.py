"""devenv.lock: format round trip, staleness, and lock-aware steps and files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from devenv.cli import cli
from devenv.lock.resolve import write_lock
from devenv.plan.lock_status import lock_inputs
from devenv.plan.lockfile import AptPin, Lock, parse_lock, render_lock
from devenv.plan.model import load_plan
from devenv.render.files import render_all
from devenv.steps.compile import compile_steps
from devenv.steps.model import Mode
from devenv.steps.recipe import compile_plan, requirements_review
from tests.conftest import MakeProject

REQS = (
    "psycopg==3.3.9 \\\n    --hash=sha256:"
    + "a" * 64
    + "\npip==26.3 \\\n    --hash=sha256:"
    + "b" * 64
    + "\nuv==0.9.30 \\\n    --hash=sha256:"
    + "d" * 64
    + "\n"
)


def sample_lock(inputs: tuple[tuple[str, str], ...]) -> Lock:
    return Lock(
        inputs=inputs,
        base=(("ref", "ubuntu:24.04"), ("id", "sha256:" + "c" * 64)),
        python="3.12",
        apt=(AptPin(scope="dev", package="libpq-dev", version="16.4-0ubuntu0.24.04.1"),
             AptPin(scope="db", package="postgresql-16-pgvector", version="0.6.0-1")),
        requirements=REQS,
    )  # fmt: skip


def test_round_trip_is_exact(tmp_path: Path) -> None:
    lock = sample_lock((("devenv.toml", "1" * 64), ("requirements.txt", "2" * 64)))
    text = render_lock(lock)
    assert parse_lock(text, tmp_path / "devenv.lock") == lock
    assert render_lock(parse_lock(text, tmp_path / "devenv.lock")) == text
    assert lock.python_pins() == {"psycopg": "3.3.9", "pip": "26.3", "uv": "0.9.30"}


def test_unreadable_lock_is_a_plan_error(make_project: MakeProject) -> None:
    root = make_project()
    (root / "devenv.lock").write_text("# devenv: apt dev no-version-here\n")
    result = CliRunner().invoke(cli, ["-C", str(root), "plan"])
    assert result.exit_code == 2
    assert "devenv.lock:1: unreadable lock line" in result.stderr


def locked_project(make_project: MakeProject) -> Path:
    root = make_project()
    plan = load_plan(root)
    write_lock(plan, sample_lock(lock_inputs(plan)))
    return root


def test_lock_check_and_what_changed(make_project: MakeProject) -> None:
    root = locked_project(make_project)
    runner = CliRunner()
    assert runner.invoke(cli, ["-C", str(root), "lock", "--check"]).exit_code == 0
    with (root / "requirements.txt").open("a") as f:
        f.write("httpx==0.28.1\n")
    result = runner.invoke(cli, ["-C", str(root), "lock", "--check"])
    assert result.exit_code == 1
    assert "devenv.lock is stale: requirements.txt changed" in result.stderr
    (root / "devenv.toml").write_text("[postgres]\nhost_port = 6543\n")
    result = runner.invoke(cli, ["-C", str(root), "lock", "--check"])
    assert "devenv.toml changed" in result.stderr


def test_no_lock_is_reported_by_check(make_project: MakeProject) -> None:
    result = CliRunner().invoke(cli, ["-C", str(make_project()), "lock", "--check"])
    assert result.exit_code == 1 and "does not exist" in result.stderr


def test_steps_install_from_the_lock(make_project: MakeProject) -> None:
    plan = load_plan(locked_project(make_project))
    for mode in Mode:
        steps = {s.id: s for s in compile_steps(plan, mode, requirements_review(plan, mode))}
        assert "libpq-dev=16.4-0ubuntu0.24.04.1" in steps["system-packages"].packages
        assert "postgresql-16-pgvector=0.6.0-1" in steps["postgres-server"].packages
        (install,) = steps["requirements"].commands
        assert "--require-hashes" in install.argv
        assert install.argv[-1].endswith("/devenv.lock")
        (bootstrap,) = steps["pip-bootstrap"].commands
        assert "uv==0.9.30" in bootstrap.argv  # the default installer's one tool


def test_generated_files_follow_the_lock(make_project: MakeProject) -> None:
    files = {
        f.path: f.content for f in render_all(compile_plan(load_plan(locked_project(make_project))))
    }
    assert "!devenv.lock" in files[".dockerignore"]
    dockerfile = files["docker/Dockerfile"]
    assert "COPY --chown=dev:dev devenv.lock /opt/devenv/requirements/devenv.lock" in dockerfile
    assert "postgresql-16-pgvector=0.6.0-1" in dockerfile


@pytest.mark.parametrize("flag", ["--frozen"])
def test_frozen_build_refuses_a_stale_lock_before_touching_the_engine(
    make_project: MakeProject, flag: str
) -> None:
    root = locked_project(make_project)
    with (root / "requirements.txt").open("a") as f:
        f.write("httpx==0.28.1\n")
    result = CliRunner().invoke(cli, ["-C", str(root), "build", flag],
                                env={"DOCKER_HOST": "unix:///nonexistent.sock"})  # fmt: skip
    assert result.exit_code == 1
    assert "devenv.lock is stale: requirements.txt changed" in result.stderr


def test_the_installer_note_is_no_input_of_a_lock(make_project: MakeProject) -> None:
    """A note explains the installer (which is an input); rewording it stales no lock."""
    root = make_project('[python]\ninstaller = "pip"\n')
    plan = load_plan(root)
    noted = dataclasses.replace(
        plan, python=dataclasses.replace(plan.python, installer_note="any words")
    )
    assert lock_inputs(noted) == lock_inputs(plan)
