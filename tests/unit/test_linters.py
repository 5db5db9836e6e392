"""Generated files pass the linters our users' CI would run on them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from devenv.plan.model import load_plan
from devenv.render.files import render_all
from devenv.render.scripts import HOST_DB_INIT
from devenv.steps.recipe import compile_plan
from tests.conftest import MakeProject

# A copy of the Dev Containers spec's base schema (offline-usable part), kept in the tree so a
# clone anywhere can run the tests.
SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "devContainer.base.schema.json"
PLANS = {
    "ubuntu": "",
    "debian13-uv": "[environment]\nbase='debian:trixie'\n[postgres]\nversion=17\n"
    "[python]\ninstaller='uv'\n",
    "pgdg": "[environment]\nbase='debian:12'\n[postgres]\nsource='pgdg'\n",
    "seeded": "[postgres]\ninit=['db/init', 'db/more']\n",  # compose's long bind syntax
    # Setup tasks (a script of quoted argv), env files and vars, VS Code settings.
    "day-two": "[tasks]\nsetup=['alembic upgrade head', \"python -c 'print(\\\"a b\\\")'\", "
    "\"echo '*' \\\"it's\\\"\"]\n[env]\nfiles=['.env.shared']\nvars={A='b c'}\n"
    "[devcontainer]\nsettings={'editor.tabSize'=4}\nengine_access=true\n",
}


@pytest.fixture(params=sorted(PLANS))
def generated(request: pytest.FixtureRequest, make_project: MakeProject) -> Path:
    root = make_project(PLANS[request.param])
    for folder in ("db/init", "db/more"):
        (root / folder).mkdir(parents=True)
    for f in render_all(compile_plan(load_plan(root))):
        (root / f.path).parent.mkdir(parents=True, exist_ok=True)
        (root / f.path).write_text(f.content)
    return root


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: pip install -e '.[test]'"
    return path


def test_hadolint(generated: Path) -> None:
    result = subprocess.run(
        [tool("hadolint"), "--no-color", "--failure-threshold", "warning", "docker/Dockerfile"],
        cwd=generated,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_waivers_carry_a_reason(generated: Path) -> None:
    lines = (generated / "docker/Dockerfile").read_text().splitlines()
    for n, line in enumerate(lines):
        if line.startswith("# hadolint ignore="):
            for rule in line.split("=", 1)[1].split(","):
                assert lines[n - 1].startswith(f"# {rule}: ") or any(
                    lines[k].startswith(f"# {rule}: ") for k in range(max(0, n - 3), n)
                ), f"{rule} waived without a reason"


def test_shellcheck(generated: Path, tmp_path: Path) -> None:
    """Each script whole, as generated, in the dialect of its shebang: POSIX sh, except the db
    entrypoint and the host's init-script runner, bash like the official postgres image's (see
    their headers)."""
    docker = generated / "docker"
    scripts = sorted(docker.glob("*.sh"))
    optional = ("setup-tasks.sh", "engine-access.sh")
    assert len(scripts) == 3 + sum((docker / name).exists() for name in optional)
    bash = {p.name for p in scripts if p.read_text().startswith("#!/usr/bin/env bash\n")}
    assert bash == {"db-entrypoint.sh"}
    host_init = tmp_path / "host-db-init.sh"
    host_init.write_text(HOST_DB_INIT)
    result = subprocess.run(
        [tool("shellcheck"), "-S", "warning", *map(str, scripts), str(host_init)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


SCRIPTS = Path(__file__).resolve().parents[2] / "devenv" / "render" / "sh"
DIALECTS = {"#!/bin/sh": "sh", "#!/usr/bin/env bash": "bash"}


def dialect(script: Path) -> str:
    """The shell a script file is written for: its shebang, or for a part without one (a piece
    scripts.py joins) the shellcheck directive on its first line."""
    first = script.read_text().split("\n", 1)[0]
    declared = DIALECTS.get(first) or first.removeprefix("# shellcheck shell=")
    assert declared in DIALECTS.values(), f"{script.name}: no shebang or shell directive"
    return declared


@pytest.mark.parametrize("script", sorted(SCRIPTS.glob("*.sh")), ids=lambda p: p.name)
def test_shellcheck_script_files(script: Path) -> None:
    """The package's script files as files, as an editor or .ci/run checks them (with the
    folder's .shellcheckrc, whose waivers say why)."""
    result = subprocess.run(
        [tool("shellcheck"), "-s", dialect(script), script.name],
        cwd=SCRIPTS,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_every_script_file_is_used() -> None:
    source = (SCRIPTS.parent / "scripts.py").read_text()
    unused = [p.name for p in SCRIPTS.glob("*.sh") if f'"{p.name}"' not in source]
    assert not unused, f"not read by scripts.py: {unused}"


def test_compose_spec(generated: Path) -> None:
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "compose.yaml"],
        cwd=generated,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_devcontainer_schema(generated: Path) -> None:
    text = (generated / ".devcontainer/devcontainer.json").read_text()
    # devcontainer.json is JSONC; our only comments are the two header lines.
    body = "\n".join(line for line in text.splitlines() if not line.startswith("//"))
    jsonschema.validate(json.loads(body), json.loads(SCHEMA.read_text()))
