"""The programs verify runs inside the dev container, run here with this Python, and how their
answers are judged."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from devenv.plan.model import Plan, load_plan
from devenv.verify import dev as verify_dev
from devenv.verify.db import cosine_distance, nearest
from devenv.verify.dev import (
    PROBE,
    PROBE_MARK,
    Exec,
    judge_probe,
    judge_roundtrip,
    libpq_text,
    marked_json,
)
from devenv.verify.report import CheckFailed, Checks, Status
from tests.conftest import MakeProject


@pytest.fixture
def plan(make_project: MakeProject) -> Plan:
    return load_plan(
        make_project(
            '[environment]\nbase = "debian:trixie"\n[postgres]\nversion = 17\n'
            '[python]\nsmoke = ["json", "no_such_module_devenv"]\n'
        )
    )


def run_probe(modules: list[str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *modules],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return marked_json(
        Exec(code=result.returncode, stdout=result.stdout, stderr=result.stderr), PROBE_MARK
    )


def test_the_probe_program_runs_and_reports(plan: Plan) -> None:
    probe = run_probe(list(plan.python.smoke))
    assert probe["python"] == sys.version.split()[0]
    assert probe["imports"]["json"] is None
    assert probe["imports"]["no_such_module_devenv"].startswith("ModuleNotFoundError")
    assert isinstance(probe["pip_check"]["code"], int)
    checks = Checks(verify_dev.catalogue(plan, "dev:1"))
    checks.record("dev-start", Status.PASSED, "")
    checks.record("dev-python", Status.PASSED, "")
    judge_probe(checks, plan, probe)
    assert checks.passed("dev-import-json")
    assert checks.status("dev-import-no_such_module_devenv") is Status.FAILED


def test_plan_values_reach_programs_only_as_arguments(plan: Plan) -> None:
    argv = verify_dev.probe_argv(plan)
    assert argv[:2] == ["/opt/venv/bin/python", "-c"] and argv[2] == PROBE
    assert argv[3:] == ["json", "no_such_module_devenv"]
    roundtrip = verify_dev.roundtrip_argv(plan)
    payload = json.loads(roundtrip[3])
    assert len(payload["rows"]) == verify_dev.ROUNDTRIP_ROWS and payload["k"] == 3


def probe_answer(**overrides: Any) -> dict[str, Any]:
    probe: dict[str, Any] = {
        "python": "3.13.5",
        "executable": "/opt/venv/bin/python",
        "imports": {"json": None, "no_such_module_devenv": None},
        "pip_check": {"code": 0, "output": "No broken requirements found."},
        "pg_config": {"code": 0, "output": "PostgreSQL 17.12"},
        "libpq": {"version": 170012, "error": None},
        "psycopg": {"version": "3.3.9", "impl": "binary", "libpq": 180001},
    }
    probe.update(overrides)
    return probe


def judged(plan: Plan, probe: dict[str, Any]) -> Checks:
    checks = Checks(verify_dev.catalogue(plan, "dev:1"))
    checks.record("dev-start", Status.PASSED, "")
    checks.record("dev-python", Status.PASSED, "")
    judge_probe(checks, plan, probe)
    return checks


def test_judge_probe_passes_and_reports_versions(plan: Plan) -> None:
    checks = judged(plan, probe_answer())
    for name in ("dev-pip-check", "dev-pg-config", "dev-libpq", "dev-import-json"):
        assert checks.passed(name), name
    assert checks.info["dev"]["libpq"] == "17.12"
    assert checks.info["dev"]["psycopg"] == "3.3.9 (binary, libpq 18.1)"


def test_judge_probe_failures(plan: Plan) -> None:
    conflict = "sqlalchemy 2.0.44 has requirement typing-extensions>=4.6.0, but you have 4.5.0."
    checks = judged(
        plan,
        probe_answer(
            pip_check={"code": 1, "output": conflict},
            libpq={"version": None, "error": "libpq.so.5: cannot open shared object file"},
            pg_config={"code": None, "output": "No such file or directory: 'pg_config'"},
        ),
    )
    report = checks.report(project="p", run_id="r", images={}, seconds=0)
    details = {c.name: c.detail for c in report.checks}
    assert "dev-pip-check" in report.failed and "typing-extensions" in details["dev-pip-check"]
    assert "dev-libpq" in report.failed and "dev-pg-config" in report.failed


def test_pg_config_is_optional_without_libpq_dev(make_project: MakeProject) -> None:
    plan = load_plan(
        make_project(
            '[environment]\nbase = "debian:trixie"\n[postgres]\n'
            'version = 17\n[system]\npackages = ["git"]\n'
        )
    )
    checks = judged(plan, probe_answer(pg_config={"code": None, "output": "not found"}))
    assert checks.passed("dev-pg-config")


def test_marked_json_and_libpq_text() -> None:
    noisy = Exec(code=0, stdout='hello\nDEVENV-PROBE {"a": 1}\n', stderr="")
    assert marked_json(noisy, PROBE_MARK) == {"a": 1}
    with pytest.raises(CheckFailed, match=r"exit code 1: Traceback \| boom"):
        marked_json(Exec(code=1, stdout="", stderr="Traceback\nboom\n"), PROBE_MARK)
    assert libpq_text(170012) == "17.12" and libpq_text(90624) == "9.6.24"


def test_judge_roundtrip() -> None:
    rows, query = verify_dev.roundtrip_rows(), verify_dev.roundtrip_query()
    ids = nearest(rows, query, cosine_distance, verify_dev.ROUNDTRIP_K)
    answer = {"ids": ids, "embeddings": [list(rows[i]) for i in ids], "server": "17.12"}
    assert "as in Python" in judge_roundtrip(answer, "net", vector=True)
    with pytest.raises(CheckFailed, match="Python says"):
        judge_roundtrip({**answer, "ids": list(reversed(ids))}, "net", vector=True)
    bad = [list(rows[i]) for i in ids]
    bad[0][0] += 1.0
    with pytest.raises(CheckFailed, match="read back"):
        judge_roundtrip({**answer, "embeddings": bad}, "net", vector=True)
