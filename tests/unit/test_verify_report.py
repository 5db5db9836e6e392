"""The verify report: the check collector (needs, failures, skips) and its three writers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from devenv.verify.report import (
    CheckFailed,
    Checks,
    CheckSpec,
    Report,
    Status,
    VerifyFailed,
    failure,
    render_junit,
    render_table,
    write_junit,
)

CATALOGUE = (
    CheckSpec(name="db-start", title="db starts", group="db"),
    CheckSpec(
        name="db-extension-vector", title="CREATE EXTENSION vector", group="db", needs=("db-start",)
    ),
    CheckSpec(name="db-vector-table", title="a table", group="db", needs=("db-extension-vector",)),
    CheckSpec(name="dev-pip-check", title="pip check", group="dev"),
    CheckSpec(name="dev-never", title="never run", group="dev"),
)


def failing_report() -> Report:
    checks = Checks(CATALOGUE)
    checks.info["postgres"].update(version="17.12", pgvector=None)
    assert checks.run("db-start", lambda: "ready in 1.2s")
    assert not checks.run(
        "db-extension-vector",
        _raise(
            CheckFailed('CREATE EXTENSION vector failed: could not access file "$libdir/vector"')
        ),
    )
    assert not checks.run("db-vector-table", lambda: "unreachable")
    assert not checks.run("dev-pip-check", _raise(RuntimeError("boom\nsecond line")))
    return checks.report(
        project="demo",
        run_id="1-abc",
        images={"db": "d", "dev": "v"},
        seconds=3.21,
        notes=("removed leftovers",),
    )


def _raise(exc: Exception):  # type: ignore[no-untyped-def]
    def run() -> str:
        raise exc

    return run


def test_needs_failures_and_unrun_checks() -> None:
    report = failing_report()
    by_name = {c.name: c for c in report.checks}
    assert [c.name for c in report.checks] == [s.name for s in CATALOGUE]
    assert by_name["db-start"].status is Status.PASSED and by_name["db-start"].ok
    assert by_name["db-extension-vector"].status is Status.FAILED
    assert by_name["db-vector-table"].status is Status.SKIPPED
    assert by_name["db-vector-table"].detail == "needs db-extension-vector"
    assert by_name["dev-pip-check"].detail == "RuntimeError: boom"
    assert by_name["dev-never"].detail == "not run"
    assert report.failed == ("db-extension-vector", "dev-pip-check")
    assert not report.ok


def test_first_result_wins_and_interrupts_propagate() -> None:
    checks = Checks(CATALOGUE)
    checks.record("db-start", Status.FAILED, "first")
    checks.record("db-start", Status.PASSED, "second")
    assert checks.status("db-start") is Status.FAILED

    def interrupted() -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Checks(CATALOGUE).run("db-start", interrupted)


def test_json_has_the_contract_fields() -> None:
    data = failing_report().as_json()
    assert data["ok"] is False
    assert data["postgres"] == {"version": "17.12", "pgvector": None}
    assert data["failed"] == ["db-extension-vector", "dev-pip-check"]
    for check in data["checks"]:
        assert {"name", "ok", "detail"} <= set(check)
    vector = next(c for c in data["checks"] if c["name"] == "db-extension-vector")
    assert vector["ok"] is False and "$libdir/vector" in vector["detail"]


def test_junit_counts_and_failure_messages() -> None:
    root = ET.fromstring(render_junit(failing_report()))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("5", "2", "2")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"devenv.verify.db", "devenv.verify.dev"}
    cases = {c.get("name"): c for c in root.iter("testcase")}
    failure_element = cases["db-extension-vector"].find("failure")
    assert failure_element is not None and "vector" in failure_element.get("message", "")
    assert cases["db-vector-table"].find("skipped") is not None
    assert cases["db-start"].find("failure") is None


def test_table_names_failures_and_facts() -> None:
    text = render_table(failing_report())
    assert "FAIL  db-extension-vector" in text
    assert "skip  db-vector-table" in text
    assert "PostgreSQL 17.12" in text and "removed leftovers" in text
    assert text.splitlines()[-1].startswith("5 checks: 1 passed, 2 failed (db-extension-vector")


def test_files_written_and_error_names_failures(tmp_path: Path) -> None:
    report = failing_report()
    junit_file = tmp_path / "out" / "verify.xml"
    write_junit(junit_file, report)
    assert ET.parse(junit_file).getroot().get("failures") == "2"
    error = failure(report)
    assert isinstance(error, VerifyFailed) and error.exit_code == 1
    assert "db-extension-vector, dev-pip-check" in error.message
