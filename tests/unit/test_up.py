"""`devenv up` / `down` without an engine: compose's output, hints, attach text, refusals."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from devenv.cli import cli
from devenv.container.compose import Compose, failure_hint, parse_ps
from devenv.errors import ComposeError
from devenv.flows.up import attach_lines, database_url
from devenv.plan.model import load_plan
from tests.conftest import MakeProject

PS = [
    {"Service": "db", "Name": "p-db-1", "State": "running", "Health": "healthy"},
    {"Service": "app", "Name": "p-app-1", "State": "running", "Health": ""},
]


def test_ps_json_lines_and_arrays_read_alike() -> None:
    lines = "\n".join(json.dumps(item) for item in PS) + "\n"
    for text in (lines, json.dumps(PS)):
        services = parse_ps(text)
        assert [(s.service, s.state, s.health) for s in services] == [
            ("app", "running", ""),
            ("db", "running", "healthy"),
        ]
        assert all(s.running for s in services)
    assert parse_ps("") == ()


def test_a_busy_port_names_the_plan_key(make_project: MakeProject) -> None:
    plan = load_plan(make_project("[postgres]\nhost_port = 55999\n"))
    said = "Error response from daemon: Bind for 127.0.0.1:55999 failed: port is already allocated"
    hint = failure_hint(said, plan)
    assert "127.0.0.1:55999" in hint and "[postgres] host_port" in hint
    assert "devenv build" in failure_hint("No such image: devenv/proj-dev:latest", plan)


def test_attach_shows_vscode_and_the_terminal(make_project: MakeProject, tmp_path: Path) -> None:
    plan = load_plan(make_project())
    here = attach_lines(plan, cwd=plan.project_dir, uid=1000)
    text = "\n".join(here)
    assert "Reopen in Container" in text
    assert "docker compose exec app bash" in text
    assert "devenv down" in text and "proj_db-data" in text
    assert "note:" not in text
    elsewhere = "\n".join(attach_lines(plan, cwd=tmp_path, uid=1234))
    assert f"docker compose -f {plan.project_dir / 'compose.yaml'} exec app bash" in elsewhere
    assert f"devenv -C {plan.project_dir} down" in elsewhere
    assert "run as you (UID 1234)" in elsewhere


def test_database_url_carries_no_password(make_project: MakeProject) -> None:
    assert database_url(load_plan(make_project())) == "postgresql://postgres@db:5432/app"


def test_up_refuses_a_hand_edited_file_before_anything_runs(make_project: MakeProject) -> None:
    root = make_project()
    runner = CliRunner()
    assert runner.invoke(cli, ["-C", str(root), "generate"]).exit_code == 0
    compose = root / "compose.yaml"
    compose.write_text(compose.read_text() + "# my tweak\n")
    result = runner.invoke(cli, ["-C", str(root), "up"])
    assert result.exit_code == 1
    assert "compose.yaml was edited by hand; nothing was written" in result.output
    assert compose.read_text().endswith("# my tweak\n")


def test_no_docker_cli_says_how_to_get_compose(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(ComposeError) as caught:
        Compose(load_plan(make_project()), log=lambda line: None)
    assert "scripts/dev-setup.sh" in str(caught.value)


def test_compose_argv_names_the_file_or_the_project(make_project: MakeProject) -> None:
    plan = load_plan(make_project())
    compose = Compose(plan, log=lambda line: None, docker="/usr/bin/docker")
    # Always the plan's project name, and never the project's .env for compose's own settings.
    own = ["--project-name", "proj", "--env-file", os.devnull]
    assert compose.argv("ps") == ["/usr/bin/docker", "compose", *own, "ps"]
    (plan.project_dir / "compose.yaml").write_text("name: proj\n")
    assert compose.argv("ps")[2:6] == own
    assert compose.argv("ps")[6:10] == [
        "--project-directory",
        str(plan.project_dir),
        "-f",
        str(plan.project_dir / "compose.yaml"),
    ]
