"""The programs verify runs inside the dev container, run here with this Python, and how their
answers are judged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from devenv.plan.model import Plan, load_plan
from devenv.verify import dev as verify_dev
from devenv.verify.db import cosine_distance, float32, nearest
from devenv.verify.dev import (
    PROBE,
    PROBE_MARK,
    Exec,
    judge_probe,
    libpq_text,
    marked_json,
)
from devenv.verify.report import CheckFailed, Checks, Status, render_junit
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
    psql = verify_dev.roundtrip_argv(plan)
    assert psql[1:4] == ["-c", verify_dev.PSQL, verify_dev.PSQL_VECTOR]
    variables = dict(v.split("=", 1) for v in psql[4:])
    assert len(json.loads(variables["rows"])) == verify_dev.ROUNDTRIP_ROWS
    assert variables["k"] == "3"
    found = verify_dev.stack({"packages": {"asyncpg": {"dist": "asyncpg", "version": "0.30.0"}}})
    drivers = verify_dev.drivers_argv(plan, found)
    assert drivers[1:3] == ["-c", verify_dev.DRIVERS_PROGRAM]
    payload = json.loads(drivers[3])
    assert len(payload["rows"]) == verify_dev.ROUNDTRIP_ROWS and payload["k"] == 3
    assert payload["vector"] is True and drivers[4:] == ["asyncpg:"]  # no pgvector-python


def test_without_the_extension_no_integration_is_used(make_project: MakeProject) -> None:
    plan = load_plan(
        make_project(
            '[environment]\nbase = "debian:trixie"\n[postgres]\nversion = 17\nextensions = []\n'
        )
    )
    found = verify_dev.stack(packages(psycopg="3.3.9", pgvector="0.5.1"))
    argv = verify_dev.drivers_argv(plan, found)
    assert json.loads(argv[3])["vector"] is False and argv[4:] == ["psycopg:"]
    assert verify_dev.roundtrip_argv(plan)[3] == verify_dev.PSQL_PLAIN
    assert "an insert and a query" in verify_dev.driver_specs(plan, found)[0].title


def test_literal_sql_agrees_with_the_constants() -> None:
    assert f"vector({verify_dev.DIM})" in verify_dev.PSQL_VECTOR
    for sql in (verify_dev.PSQL_VECTOR, verify_dev.PSQL_PLAIN):
        assert ":'rows'" in sql or ":rows" in sql
        assert ":k" in sql


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


def packages(**versions: str) -> dict[str, Any]:
    """A probe's "packages": module=version (psycopg2 comes from psycopg2-binary)."""
    dists = {"psycopg2": "psycopg2-binary", "sqlalchemy": "SQLAlchemy"}
    return {"packages": {m: {"dist": dists.get(m, m), "version": v} for m, v in versions.items()}}


def names(found: verify_dev.Stack) -> list[str]:
    return [d.name for d in found.drivers]


def test_the_drivers_checked_are_the_ones_the_venv_holds() -> None:
    everything = verify_dev.stack(
        packages(
            psycopg="3.3.9",
            psycopg2="2.9.10",
            asyncpg="0.30.0",
            sqlalchemy="2.0.44",
            greenlet="3.2.4",
            pgvector="0.4.2",
            numpy="2.2.6",
        )
    )
    assert names(everything) == [
        "psycopg",
        "psycopg2",
        "asyncpg",
        "sqlalchemy-psycopg",
        "sqlalchemy-psycopg2",
        "sqlalchemy-asyncpg",
    ]
    assert everything.notes == ()
    assert everything.summary() == (
        "psycopg 3.3.9, psycopg2-binary 2.9.10, asyncpg 0.30.0, SQLAlchemy 2.0.44, "
        "pgvector 0.4.2, numpy 2.2.6"
    )
    asyncpg = everything.drivers[2]
    assert everything.describe(asyncpg) == "asyncpg 0.30.0 with pgvector 0.4.2 and numpy 2.2.6"
    assert names(verify_dev.stack(packages(asyncpg="0.30.0"))) == ["asyncpg"]


def test_sqlalchemy_dialects_that_cannot_work_are_notes_not_checks() -> None:
    no_greenlet = verify_dev.stack(packages(asyncpg="0.30.0", sqlalchemy="2.1.0"))
    assert names(no_greenlet) == ["asyncpg"]
    assert "needs greenlet" in no_greenlet.notes[0]
    old = verify_dev.stack(packages(psycopg="3.1.8", sqlalchemy="1.4.54", greenlet="3.0.3"))
    assert names(old) == ["psycopg"]
    assert "SQLAlchemy 1.4.54 has no psycopg 3 dialect" in old.notes[0]
    oldest = verify_dev.stack(packages(asyncpg="0.27.0", sqlalchemy="1.3.24", greenlet="3.0.3"))
    assert "SQLAlchemy 1.3.24 has no asyncpg dialect" in oldest.notes[0]
    assert names(verify_dev.stack(packages(psycopg2="2.9.10", sqlalchemy="1.3.24"))) == [
        "psycopg2",
        "sqlalchemy-psycopg2",
    ]


def test_without_a_driver_psql_is_the_client_and_a_note_says_so() -> None:
    found = verify_dev.stack(packages(sqlalchemy="2.0.44", pgvector="0.5.1"))
    assert found.drivers == ()
    assert "no Postgres driver" in found.notes[0] and "psql" in found.notes[0]
    assert verify_dev.stack({}).summary() == "none"


def test_driver_checks_are_listed_after_devenvs_round_trip(plan: Plan) -> None:
    found = verify_dev.stack(packages(psycopg2="2.9.10", asyncpg="0.30.0", pgvector="0.2.5"))
    checks = Checks(verify_dev.catalogue(plan, "dev:1"))
    checks.add(verify_dev.driver_specs(plan, found), after=verify_dev.AFTER)
    checks.note("note: something")
    checks.record("dev-db-asyncpg", Status.PASSED, "fine")
    report = checks.report(project="p", run_id="r", images={}, seconds=0, notes=("first",))
    order = [c.name for c in report.checks]
    at = order.index("dev-db-roundtrip")
    assert order[at + 1 : at + 3] == ["dev-db-psycopg2", "dev-db-asyncpg"]
    spec = checks.spec("dev-db-psycopg2")
    assert spec.needs == ("dev-db-roundtrip",) and "pgvector.psycopg2" in spec.title
    assert report.notes == ("first", "note: something")
    assert "dev-db-psycopg2" in [c["name"] for c in report.as_json()["checks"]]
    assert "dev-db-psycopg2" in render_junit(report)
    no_pgvector = verify_dev.driver_specs(plan, verify_dev.stack(packages(asyncpg="0.30.0")))
    assert "text literals" in no_pgvector[0].title


# --- judging: devenv's psql, then each driver -------------------------------------------------


def good_answer(as_text: bool = False) -> dict[str, Any]:
    rows, query = verify_dev.roundtrip_rows(), verify_dev.roundtrip_query()
    ids = nearest(rows, query, cosine_distance, verify_dev.ROUNDTRIP_K)

    def shortest(v: float) -> str:  # how the server prints a float4: its shortest decimal
        return next(t for p in range(1, 10) if float32(float(t := f"{v:.{p}g}")) == v)

    embeddings: list[Any] = [
        "[" + ",".join(shortest(x) for x in rows[i]) + "]" if as_text else list(rows[i])
        for i in ids
    ]
    return {"ids": ids, "embeddings": embeddings, "server": "17.12", "wrote": "x", "read": "y"}


def test_judge_psql() -> None:
    data = good_answer(as_text=True)
    answer = {"version": "psql (PostgreSQL) 17.12 (Debian)", "code": 0, "stdout": json.dumps(data)}
    detail = verify_dev.judge_psql(answer, "net", vector=True)
    assert "psql 17.12" in detail and "as in Python" in detail and "exactly" in detail
    refused = {"code": 2, "stdout": "", "stderr": "psql: error: connection refused"}
    with pytest.raises(CheckFailed, match=r"^devenv's: psql .* connection refused"):
        verify_dev.judge_psql(refused, "net", vector=True)
    swapped = {**data, "ids": list(reversed(data["ids"]))}
    with pytest.raises(CheckFailed, match=r"devenv's: wrong results from psql: .*Python says"):
        verify_dev.judge_psql({**answer, "stdout": json.dumps(swapped)}, "net", vector=True)
    plain = {"ids": [49, 48, 47], "server": "17.12"}
    assert "read back" in verify_dev.judge_psql(
        {"code": 0, "stdout": json.dumps(plain)}, "net", vector=False
    )


def test_read_back_is_exact_in_float32_whatever_the_reader() -> None:
    assert verify_dev.result_problem(good_answer(), vector=True) is None
    assert verify_dev.result_problem(good_answer(as_text=True), vector=True) is None
    bad = good_answer()
    bad["embeddings"][0][0] += 1e-3
    assert "read back as" in str(verify_dev.result_problem(bad, vector=True))
    short = {**good_answer(), "embeddings": []}
    assert "0 vectors read back" in str(verify_dev.result_problem(short, vector=True))


def test_judge_driver_says_whose_fault_a_failure_is() -> None:
    found = verify_dev.stack(packages(asyncpg="0.30.0", pgvector="0.4.2", numpy="2.2.6"))
    asyncpg = found.drivers[0]
    detail = verify_dev.judge_driver(asyncpg, found, good_answer(), vector=True)
    assert detail.startswith("asyncpg 0.30.0 with pgvector 0.4.2 and numpy 2.2.6: 50 rows")
    missing = {"stage": "import", "error": "ModuleNotFoundError: No module named 'numpy'"}
    project = r"^the project's: import asyncpg, pgvector.asyncpg failed in the image's venv"
    with pytest.raises(CheckFailed, match=project + r".*numpy.*asyncpg 0.30.0 with pgvector 0.4.2"):
        verify_dev.judge_driver(asyncpg, found, missing, vector=True)
    refused = {"stage": "connect", "error": "InvalidPasswordError: password authentication"}
    with pytest.raises(CheckFailed, match=r"^devenv's: asyncpg 0.30.0 .* could not connect"):
        verify_dev.judge_driver(asyncpg, found, refused, vector=True)
    broken = {"stage": "query", "error": "AttributeError: 'numpy.ndarray' has no 'to_list'"}
    with pytest.raises(CheckFailed, match=r"^devenv's: the round trip through asyncpg 0.30.0"):
        verify_dev.judge_driver(asyncpg, found, broken, vector=True)
    wrong = {**good_answer(), "ids": list(reversed(good_answer()["ids"]))}
    with pytest.raises(CheckFailed, match=r"^devenv's: wrong results through asyncpg 0.30.0 "
                       r"with pgvector 0.4.2 and numpy 2.2.6: got ids"):  # fmt: skip
        verify_dev.judge_driver(asyncpg, found, wrong, vector=True)
    with pytest.raises(CheckFailed, match="said nothing about asyncpg"):
        verify_dev.judge_driver(asyncpg, found, None, vector=True)


# --- the programs, run here with this Python against no server --------------------------------

CLOSED = {"PGHOST": "127.0.0.1", "PGPORT": "1", "PGUSER": "u", "PGPASSWORD": "p",
          "PGDATABASE": "d", "PGCONNECT_TIMEOUT": "5"}  # fmt: skip


def run_here(argv: list[str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, *argv[1:]],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, **CLOSED},
    )
    exec_result = Exec(code=result.returncode, stdout=result.stdout, stderr=result.stderr)
    return marked_json(exec_result, verify_dev.ROUNDTRIP_MARK)


def test_the_psql_program_reports_a_refused_connection_as_devenvs(plan: Plan) -> None:
    answer = run_here(verify_dev.roundtrip_argv(plan))
    assert answer["code"] != 0 and "psql" in answer["version"]
    with pytest.raises(CheckFailed, match=r"^devenv's: psql .*(refused|failed)"):
        verify_dev.judge_psql(answer, "net", vector=True)


def test_the_drivers_program_names_the_stage_each_driver_reached(plan: Plan) -> None:
    # This venv has psycopg 3 (connect is refused) and no asyncpg (its import fails).
    found = verify_dev.stack(packages(psycopg="3", asyncpg="0.30.0", pgvector="0.5.1"))
    answers = run_here(verify_dev.drivers_argv(plan, found))
    assert answers["psycopg"]["stage"] == "connect", answers
    assert answers["asyncpg"] == {
        "stage": "import",
        "error": "ModuleNotFoundError: No module named 'asyncpg'",
    }
    with pytest.raises(CheckFailed, match=r"^the project's: import asyncpg, pgvector.asyncpg "):
        verify_dev.judge_driver(found.drivers[1], found, answers["asyncpg"], vector=True)
