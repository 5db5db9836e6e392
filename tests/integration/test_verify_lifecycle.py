"""verify's lifecycle with the real engine: when a second container fails to start, the first
is removed and the engine's own error is what the user sees — for two containers of a run
directly, and for `devenv verify` with a dev image whose entrypoint does not exist (the engine
refuses to start it: a failed start, not a container that exits).

Every resource is named dvv12-… (and verify's own carry their run's label).
"""

from __future__ import annotations

import os
import secrets
from contextlib import ExitStack
from pathlib import Path

import docker.errors
import pytest

from devenv.container.engine import Engine
from devenv.plan.model import load_plan
from devenv.render.labels import LABEL_PREFIX
from devenv.verify.lifecycle import load_testcontainers
from devenv.verify.resources import Run
from tests.integration.conftest import BuiltProject
from tests.integration.test_verify import (  # noqa: F401 - fixtures
    GOOD_DB,
    GOOD_DEV,
    Derive,
    derive,
    project_like,
    unchanged_engine,
    verify,
    verify_resources,
)

MISSING = "/no/such/dvv12-binary"


def containers_named(engine: Engine, prefix: str) -> list[str]:
    names = (c["Names"][0].lstrip("/") for c in engine.api.containers(all=True))
    return sorted(n for n in names if n.startswith(prefix))


def test_a_failed_second_start_removes_the_first_and_raises_the_engines_error(
    trixie_base: str, engine: Engine, built_project: BuiltProject
) -> None:
    load_testcontainers(os.environ)
    from testcontainers.core.container import DockerContainer

    prefix = f"dvv12-{secrets.token_hex(3)}-"
    labels = {f"{LABEL_PREFIX}test": "dvv12"}
    run = Run(
        plan=load_plan(built_project.root),
        images={},
        run_id="0-dvv12",
        labels=labels,
        timeout=30,
        log=print,
    )
    first = DockerContainer(trixie_base).with_name(f"{prefix}first")
    first.with_command(["sleep", "infinity"]).with_kwargs(labels=labels, init=True)
    second = DockerContainer(trixie_base).with_name(f"{prefix}second")
    second.with_kwargs(labels=labels, entrypoint=[MISSING])
    seen: list[list[str]] = []
    with pytest.raises(docker.errors.APIError) as raised, ExitStack() as stack:
        stack.enter_context(run.started(first))
        seen.append(containers_named(engine, prefix))
        stack.enter_context(run.started(second))
    assert seen == [[f"{prefix}first"]]  # the first really ran
    assert MISSING in str(raised.value)
    assert containers_named(engine, prefix) == []  # both removed


def test_verify_names_the_engines_error_when_the_dev_start_fails(
    built_project: BuiltProject,
    derive: Derive,  # noqa: F811
    engine: Engine,
    tmp_path: Path,
    unchanged_engine: None,  # noqa: F811
) -> None:
    root = project_like(built_project, "dvv12-badstart", tmp_path)
    derive(GOOD_DB, "devenv/dvv12-badstart-db:latest", [])
    derive(GOOD_DEV, "devenv/dvv12-badstart-dev:latest", [f'ENTRYPOINT ["{MISSING}"]'])
    result = verify(root)
    assert result.code == 1, result.stderr
    start = result.check("dev-start")
    assert start["status"] == "failed" and MISSING in start["detail"], start
    assert result.check("dev-pip-check")["status"] == "skipped"
    assert result.check("dev-db-roundtrip")["status"] == "skipped"
    # The db side ran in full beside it, and passed.
    db = [c for c in result.data["checks"] if c["group"] == "db"]
    assert db and all(c["ok"] for c in db), [c for c in db if not c["ok"]]
    assert result.data["failed"] == ["dev-start"]
    assert "Traceback" not in result.stderr
    assert verify_resources(engine) == []
