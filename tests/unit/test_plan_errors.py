"""Every plan error: exit 2, one line naming the file and key, a hint, nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from devenv.cli import cli
from tests.conftest import MakeProject


def run_generate(project: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-C", str(project), "generate"])
    return result.exit_code, result.stderr


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


CASES = [
    # (toml, requirements or None for the default, expected fragments of the message)
    ("[environment\nname = 'x'\n", None, ["invalid TOML", "line 1"]),
    ("[postgres]\nversion = 16\nversion = 17\n", None, ["invalid TOML", "line 3"]),
    ("[postgress]\nversion = 16\n", None, ["[postgress]", "unknown section", "'postgres'"]),
    ("[postgres]\nverison = 16\n", None, ["[postgres] verison", "did you mean 'version'"]),
    ("[postgres]\nversion = '16'\n", None, ["[postgres] version", "must be an integer"]),
    ("[postgres]\nversion = 7\n", None, ["[postgres] version", "not a PostgreSQL major"]),
    ("[postgres]\nhost_port = 70000\n", None, ["[postgres] host_port", "not a port"]),
    ("[devcontainer]\nforward_ports = [0]\n", None, ["forward_ports", "not a port"]),
    (
        "[devcontainer]\nforward_ports = ['80']\n",
        None,
        ["forward_ports", "items must be an integer"],
    ),
    ("[postgres]\nextensions = ['pgvectr']\n", None, ["extensions", "did you mean 'pgvector'"]),
    ("[python]\ninstaller = 'poetry'\n", None, ["[python] installer", "'pip', 'uv'"]),
    ("[python]\nsmoke = ['fastapi; rm -rf /']\n", None, ["smoke", "not a dotted module name"]),
    ("[python]\nsmoke = ['9lives']\n", None, ["smoke", "not a dotted module name"]),
    (
        "[environment]\nbase = 'Ubuntu 24.04'\n",
        None,
        ["[environment] base", "not an image reference"],
    ),
    ("[environment]\nbase = 'alpine:3.20'\n", None, ["not a supported base", "ubuntu:24.04"]),
    ('[environment]\nname = "a\\nb"\n', None, ["[environment] name", "control character"]),
    (
        "[system]\npackages = ['-oAPT::Update::Pre-Invoke::=touch /tmp/x']\n",
        None,
        ["[system] packages", "not a Debian package name"],
    ),
    ("[system]\npackages = ['curl; reboot']\n", None, ["not a Debian package name"]),
    ("[system]\npackages = ['lib pq']\n", None, ["not a Debian package name"]),
    ("[system]\npackages = ['curl=$(id)']\n", None, ["not a Debian version"]),
    ('[system]\npackages = ["curl\\n"]\n', None, ["control character"]),
    ('[python]\nsmoke = ["fastapi\\u0007"]\n', None, ["control character"]),
    ("[system]\npackages = ['curl', 'curl']\n", None, ["lists a value twice"]),
    (
        "[python]\nrequirements = ['missing.txt']\n",
        None,
        ["[python] requirements", "does not exist"],
    ),
    ("[python]\nrequirements = ['../outside.txt']\n", None, ["relative path inside the project"]),
    ("[python]\nrequirements = ['/etc/passwd']\n", None, ["relative path inside the project"]),
    ("[python]\nvenv = '../venv'\n", None, ["[python] venv", "inside the project"]),
    (
        "",
        "--index-url http://example.invalid/simple\nfastapi\n",
        ["requirements.txt:1", "--index-url", "allow_index_options"],
    ),
    ("", "--extra-index-url=http://example.invalid/simple\n", ["--extra-index-url"]),
    ("", "--trusted-host example.invalid\n", ["--trusted-host"]),
    ("", "--find-links /tmp/wheels\n", ["--find-links"]),
    ("", "-r ../other.txt\n", ["requirements.txt:1", "outside the project folder"]),
    ("", "-e .\n", ["local and editable installs"]),
    (
        "[postgres]\nversion = 17\n",
        None,
        ["[postgres] version", "Ubuntu 24.04", "version = 16", 'source = "pgdg"'],
    ),
    (
        "[environment]\nbase = 'debian:12'\n",
        None,
        ["Debian 12", "no PostgreSQL with pgvector", 'source = "pgdg"'],
    ),
    (
        "[environment]\nbase = 'ubuntu:22.04'\n[postgres]\nsource = 'distro'\n",
        None,
        ["Ubuntu 22.04", "pgdg"],
    ),
    ("[postgres]\nsource = 'pgdg'\nversion = 12\n", None, ["apt repository has no PostgreSQL 12"]),
]


@pytest.mark.parametrize(("toml", "requirements", "fragments"), CASES)
def test_bad_plan_is_one_line_exit_2_and_writes_nothing(
    make_project: MakeProject, toml: str, requirements: str | None, fragments: list[str]
) -> None:
    project = make_project(toml) if requirements is None else make_project(toml, requirements)
    before = snapshot(project)
    code, err = run_generate(project)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("devenv: error: ")
    assert "devenv.toml" in lines[0] or "requirements.txt" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0]
    assert snapshot(project) == before


def test_key_errors_name_the_line(make_project: MakeProject) -> None:
    project = make_project("[environment]\nname = 'x'\n\n[postgres]\nextensions = ['pgvectr']\n")
    code, err = run_generate(project)
    assert code == 2
    assert f"{project / 'devenv.toml'}:5: [postgres] extensions" in err


def test_index_options_allowed_when_the_plan_says_so(make_project: MakeProject) -> None:
    project = make_project(
        "[python]\nallow_index_options = true\nsmoke = []\n",
        "--extra-index-url http://example.invalid/simple\nfastapi\n",
    )
    code, err = run_generate(project)
    assert code == 0, err


def test_missing_plan_points_to_init(tmp_path: Path) -> None:
    code, err = run_generate(tmp_path)
    assert code == 2
    assert "devenv init" in err


def test_debug_shows_the_traceback(make_project: MakeProject) -> None:
    project = make_project("[postgres]\nversion = 7\n")
    result = CliRunner().invoke(cli, ["--debug", "-C", str(project), "plan"])
    # With --debug the exception propagates (click's runner captures it instead of exiting 2).
    assert result.exception is not None
    assert "not a PostgreSQL major" in str(result.exception)


def test_nothing_executed_for_a_bad_plan(make_project: MakeProject, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    project = make_project(f"[system]\npackages = ['-oAPT::Update::Pre-Invoke::=touch {marker}']\n")
    code, _ = run_generate(project)
    assert code == 2
    assert not marker.exists()
    assert not os.path.exists(project / "docker")


@pytest.mark.parametrize(
    ("toml", "local", "says"),
    [
        # The unknown-key list is the section's keys in the plan's order.
        (
            "[python]\nextension = 1\n",
            None,
            "devenv.toml:2: [python] extension: unknown key; expected one of venv, "
            "container_venv, requirements, project, groups, installer, smoke, allow_index_options",
        ),
        # devenv.local.toml: the first problem in the file is the one said, with what it may set.
        (
            "",
            "[postgres]\nhost_port = 'x'\nversion = 17\n",
            "devenv.local.toml:2: [postgres] host_port: must be an integer, not a string (devenv."
            "local.toml may set only: [postgres] host_port; [devcontainer] forward_ports, "
            "extensions, settings; [system] packages)",
        ),
        (
            "",
            "[system]\npackages = ['git']\n[python]\nvenv = 'x'\n",
            "devenv.local.toml:3: [python]: belongs to the team's devenv.toml, not to local "
            "overrides",
        ),
        ("", "[nope]\n", "[nope]: unknown section; expected one of postgres, devcontainer, system"),
    ],
)
def test_which_problem_is_said_and_how(
    make_project: MakeProject, toml: str, local: str | None, says: str
) -> None:
    project = make_project(toml)
    if local is not None:
        (project / "devenv.local.toml").write_text(local)
    result = CliRunner().invoke(cli, ["-C", str(project), "plan"])
    assert result.exit_code == 2 and says in result.stderr, result.stderr
