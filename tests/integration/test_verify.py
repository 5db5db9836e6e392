"""`devenv verify` on the Debian 13 + PostgreSQL 17 images `devenv build` made, and on images
broken on purpose (derived from them with a two-line Dockerfile): the good ones pass every check,
a db image without the pgvector library fails the vector extension check, a dev image with
conflicting requirements fails pip check, a db that never gets ready times out, and Ctrl-C,
SIGTERM and SIGKILL are survived. After every run the engine has exactly the containers,
networks and volumes it had before.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devenv.container.engine import Engine
from devenv.render.labels import LABEL_PREFIX
from tests.integration.conftest import BuiltProject, devenv_cli

RUN_LABEL = f"{LABEL_PREFIX}verify"
GOOD_DB, GOOD_DEV = "devenv/itest-db:latest", "devenv/itest-dev:latest"


Resource = tuple[str, str, str]  # (kind, id, name)


def engine_state(engine: Engine) -> dict[Resource, dict[str, str]]:
    """What `docker ps -a`, `docker network ls` and `docker volume ls` show, with labels."""
    state: dict[Resource, dict[str, str]] = {}
    for c in engine.api.containers(all=True):
        state[("container", c["Id"], c["Names"][0].lstrip("/"))] = c.get("Labels") or {}
    for n in engine.api.networks():
        state[("network", n["Id"], n["Name"])] = n.get("Labels") or {}
    for v in engine.api.volumes().get("Volumes") or []:
        state[("volume", v["Name"], v["Name"])] = v.get("Labels") or {}
    return state


def could_be_verifys(resource: Resource, labels: dict[str, str]) -> bool:
    """Anything verify (or testcontainers for it) may create: labelled by either, named like
    verify's resources, or an anonymous volume (no name of its own, no labels)."""
    kind, _, name = resource
    anonymous = kind == "volume" and len(name) == 64 and not labels
    return (
        RUN_LABEL in labels
        or any(k.startswith("org.testcontainers") for k in labels)
        or name.startswith("devenv-verify-")
        or anonymous
    )


def verify_resources(engine: Engine) -> list[str]:
    """Names of every container, network and volume carrying a verify label."""
    return sorted(
        name for (_, _, name), labels in engine_state(engine).items() if RUN_LABEL in labels
    )


@pytest.fixture
def unchanged_engine(engine: Engine) -> Iterator[None]:
    """The test's runs leave the engine's containers, networks and volumes as they found them.

    On CI the engine is this suite's alone and the whole state must match. Where other sessions
    share the engine (developer machines), their builds come and go meanwhile: then only what
    verify could have made (or removed) counts."""
    before = engine_state(engine)
    yield
    after = engine_state(engine)
    assert verify_resources(engine) == []
    if after.keys() == before.keys():
        return
    appeared = [r for r in after.keys() - before.keys() if could_be_verifys(r, after[r])]
    vanished = [
        r
        for r in before.keys() - after.keys()
        if could_be_verifys(r, before[r]) and RUN_LABEL not in before[r]
    ]
    assert not appeared, f"left behind: {appeared}"
    assert not vanished, f"removed what was not verify's: {vanished}"


@dataclass(frozen=True)
class Verified:
    code: int
    stderr: str
    stdout: str
    data: dict[str, Any]
    junit: ET.Element
    seconds: float

    def check(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = next(c for c in self.data["checks"] if c["name"] == name)
        return found


def verify(root: Path, *args: str) -> Verified:
    junit_file = root / "verify.xml"
    junit_file.unlink(missing_ok=True)
    started = time.monotonic()
    result = devenv_cli(
        "-C",
        str(root),
        "verify",
        "--json",
        "--junit",
        str(junit_file),
        *args,
        timeout=600,
    )
    seconds = time.monotonic() - started
    print(result.stdout, result.stderr, f"wall time {seconds:.1f}s", sep="\n", file=sys.stderr)
    assert result.stdout and junit_file.exists(), result.stderr
    return Verified(
        code=result.returncode,
        stderr=result.stderr,
        stdout=result.stdout,
        data=json.loads(result.stdout),
        junit=ET.parse(junit_file).getroot(),
        seconds=seconds,
    )


Derive = Callable[[str, str, list[str]], str]


@pytest.fixture(scope="module")
def derive(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Derive]:
    """derive(FROM ref, new ref, Dockerfile lines): an image built on top of a good one."""
    made: list[str] = []

    def build(base: str, ref: str, lines: list[str]) -> str:
        context = tmp_path_factory.mktemp("derive")
        (context / "Dockerfile").write_text("\n".join([f"FROM {base}", *lines]) + "\n")
        messages = engine.build(
            path=context,
            dockerfile="Dockerfile",
            target=None,
            tag=ref,
            labels={f"{LABEL_PREFIX}test": "verify"},
            buildargs={},
            nocache=False,
        )
        errors = [m["error"] for m in messages if "error" in m]
        assert not errors, errors
        made.append(ref)
        return ref

    yield build
    for ref in made:
        engine.remove_image(ref)


def project_like(built: BuiltProject, name: str, tmp: Path) -> Path:
    """A copy of the built project's plan under another name (so other image tags)."""
    root = tmp / name
    root.mkdir()
    plan = (built.root / "devenv.toml").read_text().replace('name = "itest"', f'name = "{name}"')
    (root / "devenv.toml").write_text(plan)
    (root / "requirements.txt").write_text((built.root / "requirements.txt").read_text())
    return root


def test_good_images_pass_every_check(built_project: BuiltProject, unchanged_engine: None) -> None:
    result = verify(built_project.root)
    assert result.code == 0, result.stderr
    data = result.data
    assert data["ok"] is True and data["failed"] == []
    assert [c["name"] for c in data["checks"] if c["status"] != "passed"] == []
    names = {c["name"] for c in data["checks"]}
    assert {
        "db-extension-vector",
        "db-extension-vector-version",
        "db-knn-hnsw",
        "db-knn-ivfflat",
        "db-distances",
        "db-restart",
        "db-no-password",
        "dev-pip-check",
        "dev-import-pgvector.psycopg",
        "dev-db-roundtrip",
    } <= names
    assert data["postgres"]["version"].startswith("17.")
    assert data["postgres"]["pgvector"] == "0.8.0"  # Debian 13's postgresql-17-pgvector
    assert "postgresql-17-pgvector 0.8.0" in result.check("db-extension-vector-version")["detail"]
    assert "devenv_verify_hnsw" in result.check("db-knn-hnsw")["detail"]
    assert "devenv_verify_ivfflat" in result.check("db-knn-ivfflat")["detail"]
    assert "POSTGRES_PASSWORD" in result.check("db-no-password")["detail"]
    assert data["dev"]["python"].startswith("3.") and data["dev"]["libpq"].startswith("17.")
    assert result.junit.get("failures") == "0" and result.junit.get("tests") == str(len(names))
    assert f"{len(names)} checks: {len(names)} passed" in result.stderr.splitlines()


def seeded(built: BuiltProject, tmp: Path, script: str) -> Path:
    """The built project (same images: init folders are not part of them) with [postgres]
    init naming db/init, which holds `script` as 001-seed.sql."""
    root = tmp / "seeded"
    (root / "db/init").mkdir(parents=True)
    plan = (built.root / "devenv.toml").read_text()
    (root / "devenv.toml").write_text(
        plan.replace("[postgres]\n", '[postgres]\ninit = ["db/init"]\n')
    )
    (root / "requirements.txt").write_text((built.root / "requirements.txt").read_text())
    (root / "db/init/001-seed.sql").write_text(script)
    return root


def test_init_scripts_are_checked(
    built_project: BuiltProject, tmp_path: Path, unchanged_engine: None
) -> None:
    root = seeded(built_project, tmp_path, "CREATE TABLE seeded_marker (id int);\n")
    result = verify(root)
    assert result.code == 0, result.stderr
    detail = result.check("db-init-scripts")
    assert detail["status"] == "passed" and detail["detail"] == "1 ran in order", detail


def test_a_failing_init_script_fails_the_start(
    built_project: BuiltProject, tmp_path: Path, unchanged_engine: None
) -> None:
    root = seeded(built_project, tmp_path, "SELECT no_such_function();\n")
    result = verify(root)
    assert result.code != 0
    start = result.check("db-start")
    assert start["status"] == "failed" and "no_such_function" in start["detail"], start
    assert result.check("db-init-scripts")["status"] == "skipped"


def test_without_the_vector_library_the_extension_check_fails(
    built_project: BuiltProject,
    engine: Engine,
    derive: Derive,
    tmp_path: Path,
    unchanged_engine: None,
) -> None:
    root = project_like(built_project, "itest-novector", tmp_path)
    derive(
        GOOD_DB,
        "devenv/itest-novector-db:latest",
        [
            "USER root",
            "RUN rm /usr/lib/postgresql/17/lib/vector.so",
            "RUN test ! -e /usr/lib/postgresql/17/lib/vector.so",
            "USER postgres",
        ],
    )
    derive(GOOD_DEV, "devenv/itest-novector-dev:latest", [])
    result = verify(root)
    assert result.code == 1, result.stderr
    assert result.data["ok"] is False
    assert result.data["failed"] == ["db-extension-vector"]
    detail = result.check("db-extension-vector")["detail"]
    assert "CREATE EXTENSION vector failed" in detail and "vector" in detail.split("failed")[1]
    assert result.check("db-vector-table")["status"] == "skipped"
    assert result.check("dev-db-roundtrip")["status"] == "skipped"
    assert result.check("db-no-password")["ok"] and result.check("dev-pip-check")["ok"]
    last = result.stderr.strip().splitlines()[-1]
    assert "check(s) failed: db-extension-vector" in last and "Traceback" not in result.stderr
    failures = [
        c.get("name") for c in result.junit.iter("testcase") if c.find("failure") is not None
    ]
    assert failures == ["db-extension-vector"]


def test_conflicting_requirements_fail_pip_check(
    built_project: BuiltProject, derive: Derive, tmp_path: Path, unchanged_engine: None
) -> None:
    root = project_like(built_project, "itest-conflict", tmp_path)
    derive(GOOD_DB, "devenv/itest-conflict-db:latest", [])
    # SQLAlchemy 2.0 needs typing-extensions>=4.6.0: pip installs the old one and warns only.
    derive(
        GOOD_DEV,
        "devenv/itest-conflict-dev:latest",
        [
            "RUN python -m pip install --no-cache-dir typing-extensions==4.5.0",
        ],
    )
    result = verify(root)
    assert result.code == 1, result.stderr
    assert "dev-pip-check" in result.data["failed"]
    assert all(name.startswith("dev-") for name in result.data["failed"])
    assert "typing-extensions" in result.check("dev-pip-check")["detail"].lower()
    assert result.check("db-extension-vector")["ok"] and result.check("dev-db-roundtrip")["ok"]
    assert "dev-pip-check" in result.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def hanging_project(
    built_project: BuiltProject, derive: Derive, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A db image that starts but never answers (its entrypoint just sleeps)."""
    root = project_like(built_project, "itest-hang", tmp_path_factory.mktemp("hang"))
    derive(GOOD_DB, "devenv/itest-hang-db:latest", ['ENTRYPOINT ["sleep", "infinity"]'])
    derive(GOOD_DEV, "devenv/itest-hang-dev:latest", [])
    return root


def test_a_start_that_never_becomes_ready_times_out(
    hanging_project: Path, unchanged_engine: None
) -> None:
    result = verify(hanging_project, "--timeout", "3")
    assert result.code == 1, result.stderr
    assert "not ready within 3s" in result.check("db-start")["detail"]
    assert "still running 3s" in result.check("db-no-password")["detail"]
    assert result.check("dev-pip-check")["ok"]
    assert result.seconds < 60


def start_verify(root: Path, out: Path, *args: str) -> subprocess.Popen[bytes]:
    with out.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "devenv", "-C", str(root), "verify", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )


def wait_for_db_container(engine: Engine, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        names = verify_resources(engine)
        if any(n.endswith("-db") for n in names) and any(n.endswith("-dev") for n in names):
            time.sleep(0.5)  # well inside the run: containers up, waiting for the db
            return
        assert proc.poll() is None, "verify ended before its containers appeared"
        time.sleep(0.1)
    pytest.fail("verify's containers never appeared")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_runs_clean_up_and_exit_130(
    hanging_project: Path,
    engine: Engine,
    tmp_path: Path,
    sig: signal.Signals,
    unchanged_engine: None,
) -> None:
    out = tmp_path / "verify.out"
    proc = start_verify(hanging_project, out, "--timeout", "120")
    try:
        wait_for_db_container(engine, proc)
        proc.send_signal(sig)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out.read_text()
    assert code == 130, text
    assert "devenv: interrupted" in text and "Traceback" not in text


def test_leftovers_of_a_killed_run_are_removed_by_the_next(
    built_project: BuiltProject,
    hanging_project: Path,
    engine: Engine,
    tmp_path: Path,
    unchanged_engine: None,
) -> None:
    proc = start_verify(hanging_project, tmp_path / "killed.out", "--timeout", "120")
    try:
        wait_for_db_container(engine, proc)
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    left = verify_resources(engine)
    assert any(n.endswith("-net") for n in left) and any(n.endswith("-pgdata") for n in left)
    result = verify(built_project.root)
    assert result.code == 0, result.stderr
    assert any("removed leftovers" in note for note in result.data["notes"])
