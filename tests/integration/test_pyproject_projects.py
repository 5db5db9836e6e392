"""pyproject.toml projects (issue 27) on the default plan, as a user meets them: a real uv.lock
project and a real poetry.lock project (tests/projects/fastapi-template-{uv,poetry}: the
FastAPI template's backend before and after its move to uv, see their SOURCE.md) go `devenv
init` (untouched) → `devenv up` with exit 0; the project is importable in the app container from
the mounted workspace (editable: nothing of it is in the image), a source edit rebuilds no step
and a lock edit re-runs only the install.

One module (pytest-xdist loadfile: one worker, the projects one after another). Every name starts
with `hg-` (folders, so images, compose projects and volumes too); each project publishes its
database on a port of its own through devenv.local.toml, the personal override, so the plan stays
as init wrote it and parallel ups never meet on 5432.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devenv.container.engine import Engine
from tests.integration.conftest import cli, log, tail
from tests.integration.conftest_host import (
    Host,
    bare_noble_host_image,  # noqa: F401 (a fixture)
    put_tree,
    start_host,
    stop_host,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROJECTS = Path(__file__).resolve().parents[1] / "projects"
SOURCE = 'def hello() -> str:\n    return "{word}"\n'


@dataclass(frozen=True)
class Case:
    project: str  # folder under tests/projects
    lock: str
    port: int

    @property
    def name(self) -> str:
        return f"hg-{self.project}"


CASES = (
    Case("fastapi-template-uv", "uv.lock", 56731),
    Case("fastapi-template-poetry", "poetry.lock", 56732),
)


@pytest.fixture(scope="module")
def workspace(noble_base: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ubuntu 24.04 made (under the workers' lock) before any `devenv up` here could start
    bootstrapping it beside another worker."""
    return tmp_path_factory.mktemp("hg-pyproject")


@pytest.fixture(scope="module", params=CASES, ids=[c.project for c in CASES])
def case(request: pytest.FixtureRequest, workspace: Path) -> Iterator[tuple[Case, Path]]:
    """The project copied to hg-<project> with a stand-in for its source (backend/app); always
    down at the end, whatever failed."""
    spec: Case = request.param
    root = workspace / spec.name
    shutil.copytree(PROJECTS / spec.project, root, ignore=shutil.ignore_patterns("SOURCE.md"))
    (root / "backend" / "app").mkdir()
    (root / "backend" / "app" / "__init__.py").write_text(SOURCE.format(word="first"))
    try:
        yield spec, root
    finally:
        if (root / "devenv.toml").exists():
            cli(root, "down", "--volumes", timeout=300)


def build_json(root: Path) -> dict[str, object]:
    started = time.monotonic()
    done = cli(root, "build", "--json", timeout=2400)
    assert done.returncode == 0, tail(done)
    data: dict[str, object] = json.loads(done.stdout)
    data["seconds"] = round(time.monotonic() - started, 1)
    return data


def ran(build: dict[str, object]) -> list[dict[str, object]]:
    """The dev and db images' steps that ran (not cached; FROM is never reported cached)."""
    steps = build["steps"]
    assert isinstance(steps, list)
    return [
        s
        for s in steps
        if s["target"] in ("dev", "db")
        and s["stage"] != "base"
        and not s["cached"]
        and not str(s["instruction"]).startswith("FROM")
    ]


def test_init_writes_a_plan_that_installs_the_project(case: tuple[Case, Path]) -> None:
    spec, root = case
    done = cli(root, "init", timeout=300)
    assert done.returncode == 0, tail(done)
    assert f"backend/{spec.lock}" in done.stdout, tail(done)
    plan = tomllib.loads((root / "devenv.toml").read_text())
    assert plan["environment"]["base"] == "ubuntu:24.04"
    assert plan["python"]["project"] == "backend"
    assert plan["python"]["groups"] == ["dev"]


def test_up(case: tuple[Case, Path]) -> None:
    spec, root = case
    (root / "devenv.local.toml").write_text(f"[postgres]\nhost_port = {spec.port}\n")
    up = cli(root, "up", timeout=2400)
    assert up.returncode == 0, tail(up)
    assert "checks passed" in up.stdout, tail(up)
    assert f"127.0.0.1:{spec.port}" in up.stdout, tail(up)


def test_the_project_is_editable_and_a_source_edit_rebuilds_nothing(
    case: tuple[Case, Path], workspace: Path
) -> None:
    spec, root = case
    probe = "import app, fastapi, sqlmodel, pytest; print(app.__file__, app.hello())"
    run = cli(root, "run", "--", "python", "-c", probe, timeout=300)
    assert run.returncode == 0, tail(run)
    assert "/workspace/backend/app/__init__.py first" in run.stdout, tail(run)

    # A source edit: seen at once through the mount, and no image step runs.
    (root / "backend" / "app" / "__init__.py").write_text(SOURCE.format(word="second"))
    run = cli(root, "run", "--", "python", "-c", probe, timeout=300)
    assert "second" in run.stdout, tail(run)
    rebuilt = build_json(root)
    (workspace / f"{spec.name}-source-edit.json").write_text(json.dumps(rebuilt))
    log(f"{spec.name}: source edit: {len(ran(rebuilt))} steps ran, {rebuilt['seconds']} s")
    assert ran(rebuilt) == [], rebuilt


def test_a_lock_edit_reruns_only_the_install(case: tuple[Case, Path], workspace: Path) -> None:
    spec, root = case
    if spec.lock != "uv.lock":
        pytest.skip("editing a poetry.lock needs Poetry; the uv project shows the layer order")
    uv = shutil.which("uv")
    assert uv, "uv is a dependency of devenv"
    backend = root / "backend"
    text = (backend / "pyproject.toml").read_text()
    pin = '    "pyjwt<3.0.0,>=2.8.0",\n'
    (backend / "pyproject.toml").write_text(text.replace(pin, pin + '    "tomli-w==1.2.0",\n'))
    locked = subprocess.run(
        [uv, "lock", "--quiet"], cwd=backend, capture_output=True, text=True, timeout=600,
        check=False, env={**os.environ, "UV_NATIVE_TLS": "1"},
    )  # fmt: skip
    assert locked.returncode == 0, locked.stderr
    assert 'name = "tomli-w"\nversion = "1.2.0"' in (backend / "uv.lock").read_text()
    rebuilt = build_json(root)
    (workspace / f"{spec.name}-lock-edit.json").write_text(json.dumps(rebuilt))
    steps = ran(rebuilt)
    log(f"{spec.name}: lock edit: {len(steps)} steps ran, {rebuilt['seconds']} s")
    # From the pins' COPY on, in the dev image only: the system steps, the venv and the
    # project's .pth stay cached.
    assert steps and {s["target"] for s in steps} == {"dev"}, steps
    assert "requirements.lock.txt" in str(steps[0]["instruction"]), steps
    assert str(steps[0]["instruction"]).startswith("COPY"), steps
    up = cli(root, "up", timeout=1200)
    assert up.returncode == 0, tail(up)
    run = cli(root, "run", "--", "python", "-c", "import tomli_w; print(tomli_w.dumps({'a': 1}))")
    assert "a = 1" in run.stdout, tail(run)


# -- host mode: the uv project on a bare Ubuntu 24.04 host ---------------------------------------


@pytest.fixture(scope="module")
def noble_host(engine: Engine, bare_noble_host_image: str) -> Iterator[Host]:  # noqa: F811
    project = f"/home/dev/hg-{CASES[0].project}"
    box = start_host(
        engine, bare_noble_host_image, user="dev", project=project, docker_socket=False
    )
    try:
        app = {"backend/app/__init__.py": SOURCE.format(word="host")}
        put_tree(box, PROJECTS / CASES[0].project, project, "dev", extra=app)
        yield box
    finally:
        stop_host(box)


def test_host_install_the_locked_set_and_the_project_editable(noble_host: Host) -> None:
    code, out = noble_host.devenv("init")
    assert code == 0, out
    code, out = noble_host.devenv("host-install", timeout=2400)
    assert code == 0, out[-6000:]
    python = f"{noble_host.project}/.venv/bin/python"
    probe = "import app, fastapi, sqlmodel, pytest; print(app.__file__, app.hello())"
    code, out = noble_host.run([python, "-c", probe])
    assert code == 0, out
    assert f"{noble_host.project}/backend/app/__init__.py host" in out, out
    code, out = noble_host.run([python, "-m", "pip", "freeze"])
    assert "fastapi==0.115.0" in out and "sqlmodel==0.0.24" in out, out
