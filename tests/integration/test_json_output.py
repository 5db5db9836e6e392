"""`--json` with the real engine: build and verify print the result as JSON on stdout and
nothing else there (their text and progress go to stderr), in the one format every command's
`--json` has; the old `--json FILE` is a usage error (tests/unit/test_json_option.py)."""

from __future__ import annotations

import json
from pathlib import Path

from devenv.container.engine import Engine
from tests.integration.conftest import BuiltProject, devenv_cli
from tests.integration.test_verify import unchanged_engine, verify_resources  # noqa: F401


def test_build_json_on_stdout(built_project: BuiltProject) -> None:
    result = devenv_cli("-C", str(built_project.root), "build", "--json", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    assert data["ok"] is True and set(data["images"]) == {"dev", "db"}
    assert data.keys() == built_project.build.keys()  # the same fields on a cached rebuild
    assert "steps, " in result.stderr.splitlines()[-1]  # the text summary, on stderr
    assert result.stdout == json.dumps(data, indent=2) + "\n"


def test_a_failed_build_still_prints_its_json(built_project: BuiltProject, tmp_path: Path) -> None:
    root = tmp_path / "dvv12-broken"
    root.mkdir()
    plan = (built_project.root / "devenv.toml").read_text()
    (root / "devenv.toml").write_text(plan.replace('name = "itest"', 'name = "dvv12-broken"'))
    (root / "requirements.txt").write_text("devenv-no-such-package-4f1e==1.0\n")
    result = devenv_cli("-C", str(root), "build", "--target", "dev", "--json", timeout=600)
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and "pip install" in data["error"]
    assert result.stderr.strip().splitlines()[-1].startswith("devenv: error: building the dev")


def test_verify_json_on_stdout(
    built_project: BuiltProject,
    engine: Engine,
    unchanged_engine: None,  # noqa: F811
) -> None:
    result = devenv_cli("-C", str(built_project.root), "verify", "--json", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["failed"] == []
    names = [c["name"] for c in data["checks"]]
    assert f"{len(names)} checks: {len(names)} passed" in result.stderr  # the table
    assert result.stdout == json.dumps(data, indent=2) + "\n"  # as every command's --json
    assert verify_resources(engine) == []
