"""devenv doctor against fake host tools: findings, levels, hints, exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from devenv.cli import cli
from devenv.errors import EngineError
from devenv.flows.host_install import host_install
from devenv.host.doctor import DoctorReport, Level, run_doctor
from devenv.host.report import Options
from devenv.plan.model import load_plan
from tests.conftest import MakeProject
from tests.unit.test_host_fakes import FakeHost, fake_host  # noqa: F401 (a fixture)
from tests.unit.test_host_runner import PLAN

TRIXIE = 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\n'
BOOKWORM = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'


def no_engine() -> str:
    raise EngineError("cannot reach a Docker engine at unix:///var/run/docker.sock: no socket")


def doctor(root: Path, tmp_path: Path, os_release: str = TRIXIE, **env: str) -> DoctorReport:
    release = tmp_path / "os-release"
    release.write_text(os_release)
    return run_doctor(
        load_plan(root), lambda line: None, env=env, os_release=release, engine_check=no_engine
    )


def levels(report: DoctorReport) -> dict[str, Level]:
    return {f.name: f.level for f in report.findings}


@pytest.fixture
def project(make_project: MakeProject, fake_host: FakeHost) -> Path:  # noqa: F811
    fake_host.install("ca-certificates", "python3")
    return make_project(PLAN)


def test_a_bare_host_misses_what_the_plan_needs(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_host: FakeHost,  # noqa: F811
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    fake_host.set_flag("sudo-denied")
    (fake_host.bin / "psql").unlink()
    (fake_host.bin / "pg_config").unlink()
    report = doctor(project, tmp_path)
    assert not report.ok
    assert levels(report) == {
        "python": Level.OK,
        "venv": Level.OK,
        "apt": Level.OK,
        "packages": Level.FAIL,
        "db packages": Level.WARN,
        "sudo": Level.FAIL,
        "release": Level.OK,
        "psql": Level.FAIL,
        "pg_config": Level.FAIL,
        "plan venv": Level.FAIL,
        "CA certificates": Level.OK,
        "proxy": Level.OK,
        "docker": Level.WARN,
    }
    text = "\n".join(report.text())
    assert "FAIL  packages" in text and "fix: devenv host-install" in text
    assert "password is required" in text
    assert text.endswith("5 missing, 2 warning(s)")


def test_after_host_install_all_is_well(project: Path, tmp_path: Path) -> None:
    assert host_install(load_plan(project), Options(), lambda line: None).ok
    report = doctor(project, tmp_path)
    assert report.ok, report.text()
    assert levels(report)["plan venv"] is Level.OK
    (project / "requirements.txt").write_text("httpx\n")
    assert levels(doctor(project, tmp_path))["plan venv"] is Level.FAIL


def test_the_command_exits_1_when_something_is_missing_and_speaks_json(project: Path) -> None:
    result = CliRunner().invoke(cli, ["-C", str(project), "doctor", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert {"name": "packages", "level": "fail"}.items() <= data["checks"][3].items()
    assert "+ dpkg-query" in result.stderr  # the probes are shown, on stderr


def test_a_release_that_cannot_provide_the_plan_fails_with_fixes_that_work(
    project: Path, tmp_path: Path
) -> None:
    """Debian 12 has no PostgreSQL 17 with pgvector: host-install is not a fix there."""
    report = doctor(project, tmp_path, BOOKWORM)
    finding = next(f for f in report.findings if f.name == "release")
    assert finding.level is Level.FAIL
    assert "this host is Debian 12 (bookworm)" in finding.detail
    assert "no PostgreSQL 17 with pgvector" in finding.detail
    assert 'source = "pgdg"' in finding.hint and "devenv up" in finding.hint
    assert "host-install" not in "\n".join(f.hint for f in report.findings)


def test_another_release_that_can_provide_it_is_a_warning(
    make_project: MakeProject, tmp_path: Path
) -> None:
    plan = PLAN.replace('base = "debian:trixie"', 'base = "debian:12"')
    root = make_project(plan.replace("version = 17", "version = 17\nsource = 'pgdg'"))
    finding = next(f for f in doctor(root, tmp_path, TRIXIE).findings if f.name == "release")
    assert finding.level is Level.WARN, finding
    assert "the plan's base is Debian 12 (bookworm)" in finding.detail


def test_proxy_credentials_are_never_shown(project: Path, tmp_path: Path) -> None:
    report = doctor(project, tmp_path, HTTPS_PROXY="http://me:s3cret@proxy.internal:3128")
    proxy = next(f for f in report.findings if f.name == "proxy")
    assert proxy.detail == "HTTPS_PROXY=http://***@proxy.internal:3128"
    assert "s3cret" not in json.dumps(report.as_json())
