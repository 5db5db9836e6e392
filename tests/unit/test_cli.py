"""The CLI through click's runner: init, plan, help, and the entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from devenv.cli import cli
from devenv.plan.model import load_plan
from tests.conftest import MakeProject


def test_init_writes_a_loadable_default_plan(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("fastapi\n")
    result = CliRunner().invoke(cli, ["-C", str(tmp_path), "init"])
    assert result.exit_code == 0, result.output
    assert "requirements: requirements.txt" in result.output
    plan = load_plan(tmp_path)
    assert plan.environment.base == "ubuntu:24.04"
    assert plan.postgres.version == 16 and plan.postgres.extensions == ("pgvector",)
    assert plan.python.requirements == ("requirements.txt",)
    assert "#" in (tmp_path / "devenv.toml").read_text()


def test_init_without_requirements_still_loads(tmp_path: Path) -> None:
    assert CliRunner().invoke(cli, ["-C", str(tmp_path), "init"]).exit_code == 0
    plan = load_plan(tmp_path)
    assert plan.python.requirements == () and plan.python.smoke == ()


def test_init_refuses_to_overwrite(make_project: MakeProject) -> None:
    root = make_project("[postgres]\nversion = 16\n")
    result = CliRunner().invoke(cli, ["-C", str(root), "init"])
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert (root / "devenv.toml").read_text() == "[postgres]\nversion = 16\n"


def test_plan_json_lists_both_modes(make_project: MakeProject) -> None:
    result = CliRunner().invoke(cli, ["-C", str(make_project()), "plan", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["postgres"] == {"version": 16, "source": "distro", "extensions": ["pgvector"]}
    assert [s["id"] for s in data["host"]][-4:] == [
        "pip-check",
        "native-libs",
        "smoke-imports",
        "extension-pgvector",
    ]
    assert any("apt-get" in c for s in data["container"] for c in s["commands"])


def test_plan_text_groups_by_phase(make_project: MakeProject) -> None:
    result = CliRunner().invoke(cli, ["-C", str(make_project()), "plan"])
    assert result.exit_code == 0
    out = result.output
    assert out.index("== container ==") < out.index("== host ==")
    for phase in ("[prerequisites]", "[system packages]", "[python environment]", "[verification]"):
        assert phase in out
    # Host commands read as host-install would run them for this user.
    assert ("+ apt-get" if os.geteuid() == 0 else "+ sudo -n apt-get") in out


def test_python_dash_m_and_unknown_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devenv", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "devenv" in result.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "devenv", "frobnicate"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2 and "No such command" in bad.stderr
