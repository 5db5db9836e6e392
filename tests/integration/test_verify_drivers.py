"""`devenv verify` proves the project's own stack: real dev images (Debian 13, Python 3.13, uv)
built from small pinned requirement sets, each verified for real. Every Postgres driver the
venv holds gets a round trip of its own through pgvector-python's integration for it, whatever
pgvector-python's version and whether numpy is there; a project without a driver passes on
devenv's own psql with a note; a project whose driver does not import fails, and the check says
it is the project's to fix.

Parallel-safe: every project, image and verify resource is named hc-drv-…, and what a run
leaves behind is looked for by this file's project names only.
"""

from __future__ import annotations

import json
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devenv.container.engine import Engine
from devenv.render.labels import LABEL_PREFIX, LABEL_PROJECT
from tests.integration.conftest import devenv_cli

PLAN = """\
[environment]
name = "{name}"
base = "{base}"

[postgres]
version = {postgres}

[python]
requirements = ["requirements.txt"]
smoke = {smoke}

[devcontainer]
forward_ports = []
"""

# Pinned sets with cp313 wheels (Debian 13's Python 3.13). pgvector-python 0.2 to 0.4 require
# numpy; 0.5 is the first without it.
ASYNCPG_PGV04 = "asyncpg==0.30.0\npgvector==0.4.2\nnumpy==2.2.6\n"
PSYCOPG2_PGV02 = "psycopg2-binary==2.9.10\npgvector==0.2.5\nnumpy==2.2.6\n"
PSYCOPG_SA2_NO_NUMPY = "psycopg[binary]==3.3.9\nSQLAlchemy==2.0.44\npgvector==0.5.1\n"
EVERY_DRIVER_PGV03 = (
    "psycopg[binary]==3.2.10\nasyncpg==0.30.0\nSQLAlchemy==2.0.44\ngreenlet==3.2.4\n"
    "pgvector==0.3.6\nnumpy==2.2.6\n"
)
NO_DRIVER = "click==8.1.8\n"
# The default plan's base (Ubuntu 24.04: Python 3.12, PostgreSQL 16, pgvector 0.6) with an
# older stack: SQLAlchemy 1.4 has psycopg2's and asyncpg's dialects, not psycopg 3's.
NOBLE_SA14 = (
    "psycopg[binary]==3.2.10\npsycopg2-binary==2.9.9\nasyncpg==0.29.0\nSQLAlchemy==1.4.54\n"
    "greenlet==3.0.3\npgvector==0.4.1\nnumpy==2.2.6\n"
)


@dataclass(frozen=True)
class Verified:
    code: int
    stderr: str
    data: dict[str, Any]
    junit: ET.Element

    def check(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = next(c for c in self.data["checks"] if c["name"] == name)
        return found

    def names(self, prefix: str = "dev-db-") -> list[str]:
        return [c["name"] for c in self.data["checks"] if c["name"].startswith(prefix)]


def leftovers(engine: Engine, project: str) -> list[str]:
    """This project's verify containers, networks and volumes still on the engine."""
    label = f"{LABEL_PROJECT}={project}"
    names = [c["Names"][0] for c in engine.api.containers(all=True, filters={"label": label})]
    names += [n["Name"] for n in engine.api.networks(filters={"label": label})]
    volumes = engine.api.volumes(filters={"label": label}).get("Volumes") or []
    return names + [v["Name"] for v in volumes]


class Projects:
    """Projects built in tmp folders; their images are removed at the end of the module."""

    def __init__(self, engine: Engine, tmp: pytest.TempPathFactory) -> None:
        self.engine = engine
        self.tmp = tmp
        self.images: list[str] = []

    def build(self, name: str, requirements: str, smoke: list[str], *, noble: bool = False) -> Path:
        root = self.tmp.mktemp(name)
        where = {"base": "ubuntu:24.04", "postgres": 16} if noble else {
            "base": "debian:trixie", "postgres": 17}  # fmt: skip
        (root / "devenv.toml").write_text(PLAN.format(name=name, smoke=json.dumps(smoke), **where))
        (root / "requirements.txt").write_text(requirements)
        started = time.monotonic()
        built = devenv_cli("-C", str(root), "build", timeout=1200)
        log(f"{name}: build rc {built.returncode} in {time.monotonic() - started:.1f}s")
        self.images += [f"devenv/{name}-db:latest", f"devenv/{name}-dev:latest"]
        assert built.returncode == 0, built.stderr[-4000:]
        return root

    def derive(self, root: Path, name: str, dev_lines: list[str]) -> Path:
        """A copy of `root`'s project named `name`, whose dev image is `root`'s plus
        `dev_lines` (the db image is the same)."""
        plan = (root / "devenv.toml").read_text()
        old = plan.split('name = "', 1)[1].split('"', 1)[0]
        copy = self.tmp.mktemp(name)
        (copy / "devenv.toml").write_text(plan.replace(f'name = "{old}"', f'name = "{name}"'))
        (copy / "requirements.txt").write_text((root / "requirements.txt").read_text())
        for target, lines in (("db", []), ("dev", dev_lines)):
            context = self.tmp.mktemp(f"{name}-{target}")
            dockerfile = [f"FROM devenv/{old}-{target}:latest", *lines]
            (context / "Dockerfile").write_text("\n".join(dockerfile) + "\n")
            ref = f"devenv/{name}-{target}:latest"
            self.images.append(ref)
            messages = self.engine.build(
                path=context,
                dockerfile="Dockerfile",
                target=None,
                tag=ref,
                labels={f"{LABEL_PREFIX}test": "verify-drivers"},
                buildargs={},
                nocache=False,
            )
            errors = [m["error"] for m in messages if "error" in m]
            assert not errors, errors
        return copy

    def verify(self, root: Path) -> Verified:
        junit_file = root / "verify.xml"
        started = time.monotonic()
        result = devenv_cli(
            "-C", str(root), "verify", "--json", "--junit", str(junit_file), timeout=600
        )
        log(result.stderr + f"verify wall time {time.monotonic() - started:.1f}s")
        data = json.loads(result.stdout)
        assert leftovers(self.engine, data["project"]) == []
        junit = ET.parse(junit_file).getroot()
        # The table, the JSON and the JUnit XML list the same checks, the drivers' too.
        names = [c["name"] for c in data["checks"]]
        assert [c.get("name") for c in junit.iter("testcase")] == names
        table = [line.split()[1] for line in result.stderr.splitlines() if line[:6].strip()
                 in ("ok", "FAIL", "skip") and line.startswith("  ")]  # fmt: skip
        assert table == names
        return Verified(code=result.returncode, stderr=result.stderr, data=data, junit=junit)

    def remove(self) -> None:
        for ref in reversed(self.images):
            self.engine.remove_image(ref)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@pytest.fixture(scope="module")
def projects(
    engine: Engine, trixie_base: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Projects]:
    made = Projects(engine, tmp_path_factory)
    yield made
    made.remove()


@pytest.fixture(scope="module")
def asyncpg_project(projects: Projects) -> Path:
    return projects.build("hc-drv-asyncpg", ASYNCPG_PGV04, ["asyncpg", "pgvector.asyncpg"])


def test_asyncpg_only_with_pgvector_04_and_numpy(projects: Projects, asyncpg_project: Path) -> None:
    result = projects.verify(asyncpg_project)
    assert result.code == 0, result.stderr
    assert result.names() == ["dev-db-roundtrip", "dev-db-asyncpg"]
    detail = result.check("dev-db-asyncpg")["detail"]
    assert detail.startswith("asyncpg 0.30.0 with pgvector 0.4.2 and numpy 2.2.6: 50 rows")
    assert "written as ndarray" in detail and "read back exactly as ndarray" in detail
    assert "psql 17." in result.check("dev-db-roundtrip")["detail"]
    assert result.data["dev"]["drivers"] == "asyncpg 0.30.0, pgvector 0.4.2, numpy 2.2.6"


def test_psycopg2_binary_with_pgvector_02(projects: Projects) -> None:
    root = projects.build("hc-drv-psycopg2", PSYCOPG2_PGV02, ["psycopg2", "pgvector.psycopg2"])
    result = projects.verify(root)
    assert result.code == 0, result.stderr
    assert result.names() == ["dev-db-roundtrip", "dev-db-psycopg2"]
    detail = result.check("dev-db-psycopg2")["detail"]
    assert detail.startswith("psycopg2-binary 2.9.10 with pgvector 0.2.5 and numpy 2.2.6:")
    assert "read back exactly as ndarray" in detail


def test_psycopg_and_sqlalchemy_2_with_pgvector_05_without_numpy(projects: Projects) -> None:
    root = projects.build(
        "hc-drv-sqlalchemy", PSYCOPG_SA2_NO_NUMPY, ["psycopg", "sqlalchemy", "pgvector.sqlalchemy"]
    )
    result = projects.verify(root)
    assert result.code == 0, result.stderr
    assert result.names() == ["dev-db-roundtrip", "dev-db-psycopg", "dev-db-sqlalchemy-psycopg"]
    psycopg = result.check("dev-db-psycopg")["detail"]
    assert psycopg.startswith("psycopg 3.3.9 with pgvector 0.5.1: 50 rows written as Vector")
    orm = result.check("dev-db-sqlalchemy-psycopg")["detail"]
    assert orm.startswith("SQLAlchemy 2.0.44, psycopg 3.3.9 with pgvector 0.5.1:")
    assert "read back exactly as list" in orm
    assert "numpy" not in (result.data["dev"]["drivers"] or "")


def test_every_driver_and_sqlalchemys_async_engine_with_pgvector_03(projects: Projects) -> None:
    root = projects.build("hc-drv-every", EVERY_DRIVER_PGV03, ["psycopg", "asyncpg"])
    result = projects.verify(root)
    assert result.code == 0, result.stderr
    assert result.names() == [
        "dev-db-roundtrip",
        "dev-db-psycopg",
        "dev-db-asyncpg",
        "dev-db-sqlalchemy-psycopg",
        "dev-db-sqlalchemy-asyncpg",
    ]
    for name in result.names()[1:]:
        assert "with pgvector 0.3.6 and numpy 2.2.6" in result.check(name)["detail"], name
    assert result.check("dev-db-sqlalchemy-asyncpg")["detail"].startswith(
        "SQLAlchemy 2.0.44, asyncpg 0.30.0"
    )


def test_a_project_without_a_driver_passes_on_devenvs_psql_with_a_note(
    projects: Projects,
) -> None:
    root = projects.build("hc-drv-none", NO_DRIVER, ["click"])
    result = projects.verify(root)
    assert result.code == 0, result.stderr
    assert result.names() == ["dev-db-roundtrip"]
    assert "as in Python, read back exactly" in result.check("dev-db-roundtrip")["detail"]
    assert any("no Postgres driver" in note for note in result.data["notes"])
    assert result.data["dev"]["drivers"] == "none"


def test_a_driver_that_does_not_import_is_the_projects_to_fix(
    projects: Projects, asyncpg_project: Path
) -> None:
    # The asyncpg project's image with numpy taken out of the venv: pgvector 0.4 needs it.
    root = projects.derive(
        asyncpg_project,
        "hc-drv-broken",
        [
            "USER root",
            "RUN rm -r /opt/venv/lib/python3*/site-packages/numpy",
            "USER dev",
        ],
    )
    result = projects.verify(root)
    assert result.code == 1
    assert result.check("dev-db-roundtrip")["ok"]  # devenv's part works
    failed = result.check("dev-db-asyncpg")
    assert failed["status"] == "failed"
    assert failed["detail"].startswith(
        "the project's: import asyncpg, pgvector.asyncpg failed in the image's venv"
    )
    assert "No module named 'numpy'" in failed["detail"]
    assert "asyncpg 0.30.0 with pgvector 0.4.2" in failed["detail"]
    assert "dev-db-asyncpg" in result.data["failed"]
    assert all(name.startswith("dev-") for name in result.data["failed"])
    assert "Traceback" not in result.stderr


def test_the_default_base_with_sqlalchemy_14(projects: Projects, noble_base: str) -> None:
    root = projects.build("hc-drv-noble", NOBLE_SA14, ["psycopg2", "asyncpg"], noble=True)
    result = projects.verify(root)
    assert result.code == 0, result.stderr
    assert result.names() == [
        "dev-db-roundtrip",
        "dev-db-psycopg",
        "dev-db-psycopg2",
        "dev-db-asyncpg",
        "dev-db-sqlalchemy-psycopg2",
        "dev-db-sqlalchemy-asyncpg",
    ]
    assert "psql 16." in result.check("dev-db-roundtrip")["detail"]
    for name in result.names()[1:]:
        assert "with pgvector 0.4.1 and numpy 2.2.6" in result.check(name)["detail"], name
    assert any("SQLAlchemy 1.4.54 has no psycopg 3 dialect" in n for n in result.data["notes"])
