"""The host runner against fake host tools: what runs, what is skipped, what survives faults."""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from devenv.cli import cli
from devenv.flows.host_install import host_install
from devenv.host.report import HostReport, Options, Status
from devenv.plan.model import load_plan
from devenv.steps.compile import compile_steps
from devenv.steps.model import Mode
from devenv.steps.recipe import requirements_review
from tests.conftest import MakeProject
from tests.unit.test_host_fakes import FakeHost, fake_host  # noqa: F401 (a fixture)

PLAN = """\
[environment]
name = "hosty"
base = "debian:trixie"
[postgres]
version = 17
[python]
smoke = ["sqlalchemy"]
"""
DEV_PACKAGES = ["python3-venv", "build-essential", "libpq-dev", "postgresql-client-17"]
SOURCE = Path(__file__).resolve().parents[2]


def run(root: Path, **options: bool) -> tuple[HostReport, str]:
    lines: list[str] = []
    report = host_install(load_plan(root), Options(**options), lines.append)
    return report, "\n".join(lines)


def tree(root: Path) -> list[tuple[str, str]]:
    """Every path under root with what it is (file content, link target or 'dir')."""
    out = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out.append((str(path), f"-> {os.readlink(path)}"))
        elif path.is_file():
            out.append((str(path), path.read_text(errors="replace")))
        else:
            out.append((str(path), "dir"))
    return out


def venv_target(root: Path) -> str:
    return os.readlink(root / ".venv")


@pytest.fixture
def project(make_project: MakeProject, fake_host: FakeHost) -> Path:  # noqa: F811
    fake_host.install("ca-certificates", "python3")
    return make_project(PLAN)


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_first_run_installs_only_what_is_missing_and_builds_a_generation(
    make_project: MakeProject,
    fake_host: FakeHost,  # noqa: F811
    installer: str,
) -> None:
    fake_host.install("ca-certificates", "python3")
    project = make_project(PLAN + f'installer = "{installer}"\n')
    report, out = run(project)
    assert report.ok and report.changed == 4
    calls = fake_host.calls()
    apt = [c for c in calls if c[0] == "apt-get"]
    assert apt == [
        ["apt-get", "-o", "DPkg::Lock::Timeout=120", "update"],
        [
            "apt-get",
            "-o",
            "DPkg::Lock::Timeout=120",
            "install",
            "-y",
            "--no-install-recommends",
            *DEV_PACKAGES,
        ],
    ]
    link = venv_target(project)
    assert link.startswith(".devenv/venvs/") and link.endswith("/.venv")
    generation = (project / link).parent
    marker = json.loads((generation / "devenv.json").read_text())
    assert marker["complete"] is True and marker["inputs"]["installer"] == installer
    assert {s.name: s.status for s in report.steps} == {
        "system-packages": Status.CHANGED,
        "postgres-server": Status.SKIPPED,
        "db-cluster": Status.SKIPPED,
        "venv": Status.CHANGED,
        "pip-bootstrap": Status.CHANGED,
        "requirements": Status.CHANGED,
        "pip-check": Status.UNCHANGED,
        "native-libs": Status.UNCHANGED,
        "smoke-imports": Status.UNCHANGED,
        "extension-pgvector": Status.SKIPPED,
    }
    assert "[1/10] System packages ... changed" in out
    python = f"{generation}/.venv/bin/python"
    install = {
        "pip": f"+ {python} -m pip install -r {project}/requirements.txt",
        "uv": f"+ UV_NATIVE_TLS=1 {generation}/.venv/bin/uv pip install --python {python} -r "
        f"{project}/requirements.txt",
    }
    assert install[installer] in out
    assert "source .venv/bin/activate" in "\n".join(report.summary())


def test_second_run_changes_nothing_and_installs_nothing(
    project: Path,
    fake_host: FakeHost,  # noqa: F811
) -> None:
    run(project)
    fake_host.forget_calls()
    report, _ = run(project)
    assert report.ok and report.changed == 0
    ran = [" ".join(c) for c in fake_host.calls()]
    assert not [c for c in ran if "apt-get" in c or "pip install" in c or "-m venv" in c], ran
    # The checks passed, and nothing was installed or removed since: they are not run again.
    assert not [c for c in ran if "pip check" in c or "import " in c], ran
    assert "passed before; nothing installed or removed since" in "\n".join(
        s.detail for s in report.steps
    )


def test_checks_run_again_once_something_is_installed(
    project: Path,
    fake_host: FakeHost,  # noqa: F811
) -> None:
    run(project)
    venv = (project / ".venv").resolve()
    site = venv / "lib" / "python3.99" / "site-packages"
    site.mkdir(parents=True)
    (site / "httpx-0.28.1.dist-info").mkdir()  # what `pip install httpx` in the venv leaves
    fake_host.forget_calls()
    report, _ = run(project)
    assert report.ok and report.changed == 0
    ran = [" ".join(c) for c in fake_host.calls()]
    assert [c for c in ran if "pip check" in c] and [c for c in ran if "import " in c], ran
    fake_host.forget_calls()
    run(project)
    assert not [c for c in map(" ".join, fake_host.calls()) if "pip check" in c]


def test_an_import_of_the_projects_own_code_always_runs(
    make_project: MakeProject,
    fake_host: FakeHost,  # noqa: F811
) -> None:
    root = make_project(PLAN.replace('smoke = ["sqlalchemy"]', 'smoke = ["sqlalchemy", "app"]'))
    (root / "app").mkdir()
    run(root)
    fake_host.forget_calls()
    run(root)
    ran = [" ".join(c) for c in fake_host.calls()]
    assert [c for c in ran if "importlib.import_module" in c and c.endswith(" app")], ran
    assert not [c for c in ran if "pip check" in c], ran


def test_json_report(project: Path) -> None:
    result = CliRunner().invoke(cli, ["-C", str(project), "host-install", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["changed"] == 4
    assert {"name": "venv", "status": "changed"}.items() <= data["steps"][3].items()
    assert {s["status"] for s in data["steps"]} == {"changed", "unchanged", "skipped"}


def test_dry_run_prints_every_command_and_changes_nothing(
    project: Path,
    fake_host: FakeHost,  # noqa: F811
) -> None:
    before = tree(project)
    report, out = run(project, dry_run=True, with_db=True)
    assert report.ok and report.changed == 7
    assert tree(project) == before and not (project / ".devenv").exists()
    assert {c[0] for c in fake_host.calls()} <= {"dpkg-query", "python3", "pg_lsclusters"}
    assert "+ apt-get -o DPkg::Lock::Timeout=120 update" in out
    assert (
        "+ DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y "
        "--no-install-recommends python3-venv build-essential libpq-dev postgresql-client-17"
    ) in out
    assert "+ pg_createcluster 17 main" in out and "+ pg_ctlcluster 17 main start" in out
    assert "-m venv" in out and "uv pip install --python" in out and "would point .venv at" in out
    assert "would change" in out and "dry run: nothing was changed" in report.summary()[0]


def test_not_root_goes_through_sudo_n_and_env(
    project: Path,
    fake_host: FakeHost,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    report, _ = run(project)
    assert report.ok
    calls = fake_host.calls_with_env()
    sudo = [c["argv"] for c in calls if c["argv"][0] == "sudo"]
    assert sudo[0] == ["sudo", "-n", "true"]
    assert ["sudo", "-n", "apt-get", "-o", "DPkg::Lock::Timeout=120", "update"] in sudo
    assert sudo[-1][:5] == ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    installs = [c for c in calls if c["argv"][0] == "apt-get" and "install" in c["argv"]]
    assert installs and all(c["env"]["DEBIAN_FRONTEND"] == "noninteractive" for c in installs)
    pip = [c["argv"] for c in calls if "pip" in c["argv"]]
    assert pip and not any(c[0] == "sudo" for c in pip)  # the venv is the user's own


def test_sudo_needing_a_password_stops_before_anything_runs(
    project: Path,
    fake_host: FakeHost,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    fake_host.set_flag("sudo-denied")
    result = CliRunner().invoke(cli, ["-C", str(project), "host-install"])
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("devenv: error: System packages needs root, but `sudo -n` can't run")
    assert "(sudo: a password is required); nothing was installed (run devenv host-install" in last
    assert not [c for c in fake_host.calls() if c[0] == "apt-get"]
    assert not (project / ".venv").exists()


def test_no_sudo_at_all_is_one_clear_line(
    project: Path,
    fake_host: FakeHost,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    (fake_host.bin / "sudo").unlink()
    report, _ = run(project)
    assert report.error is not None
    assert "this machine has no sudo" in report.error.message


def test_nothing_missing_needs_no_root(
    project: Path,
    fake_host: FakeHost,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_host.install(*DEV_PACKAGES)
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    fake_host.set_flag("sudo-denied")
    report, _ = run(project)
    assert report.ok and not [c for c in fake_host.calls() if c[0] == "sudo"]


def test_a_foreign_venv_is_never_deleted_without_recreate(
    project: Path,
    fake_host: FakeHost,  # noqa: F811
) -> None:
    mine = project / ".venv" / "precious.txt"
    mine.parent.mkdir()
    mine.write_text("keep me")
    report, _ = run(project)
    assert report.error is not None and "--recreate" in str(report.error)
    assert mine.read_text() == "keep me"
    assert not [c for c in fake_host.calls() if c[0] == "apt-get"]
    assert all(s.status is Status.SKIPPED for s in report.steps)

    report, out = run(project, recreate=True)
    assert report.ok and venv_target(project).startswith(".devenv/venvs/")
    assert not mine.exists() and "deleted, --recreate" in out


def test_a_foreign_symlink_is_replaced_with_recreate_but_its_target_kept(project: Path) -> None:
    elsewhere = project.parent / "elsewhere"
    elsewhere.mkdir()
    (project / ".venv").symlink_to(elsewhere)
    assert run(project)[0].error is not None
    assert run(project, recreate=True)[0].ok
    assert elsewhere.is_dir() and venv_target(project).startswith(".devenv/venvs/")


def test_requirements_change_builds_a_new_generation_and_keeps_one_to_switch_back(
    project: Path,
    fake_host: FakeHost,  # noqa: F811
) -> None:
    requirements = project / "requirements.txt"
    first_text = requirements.read_text()
    run(project)
    first = venv_target(project)
    requirements.write_text(first_text + "httpx\n")
    report, out = run(project)
    second = venv_target(project)
    assert report.changed == 3 and second != first and (project / first).is_dir()
    assert "replaced generation" in out

    requirements.write_text(first_text)  # back: the kept generation serves at once
    fake_host.forget_calls()
    report, out = run(project)
    assert venv_target(project) == first
    assert [s.status for s in report.steps if s.name in ("venv", "requirements")] == [
        Status.CHANGED,
        Status.UNCHANGED,
    ]
    assert not [c for c in fake_host.calls() if "install" in c]

    requirements.write_text(first_text + "rich\n")  # a third: the oldest is removed
    run(project)
    generations = sorted(p.name for p in (project / ".devenv" / "venvs").iterdir())
    assert len(generations) == 2 and Path(first).parent.name in generations
    assert Path(second).parent.name not in generations


def test_a_failed_install_leaves_the_previous_venv_in_place(
    project: Path,
    fake_host: FakeHost,  # noqa: F811
) -> None:
    run(project)
    before = venv_target(project)
    (project / "requirements.txt").write_text("httpx\n")
    fake_host.set_flag("pip-fail")
    result = CliRunner().invoke(cli, ["-C", str(project), "host-install", "--json"])
    assert result.exit_code == 1
    assert "Install requirements.txt with uv failed" in result.stderr
    assert venv_target(project) == before
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert [s["status"] for s in data["steps"][5:]] == [
        "failed",
        "skipped",
        "skipped",
        "skipped",
        "skipped",
    ]

    fake_host.set_flag("pip-fail", on=False)
    report, _ = run(project)
    assert report.ok and venv_target(project) != before
    # The unfinished generation was cleaned up; the one before stays for a switch back.
    assert len(list((project / ".devenv" / "venvs").iterdir())) == 2


def test_a_compile_that_misses_pg_config_is_one_line_naming_the_package_and_provider(
    project: Path,
    fake_host: FakeHost,  # noqa: F811
) -> None:
    fake_host.set_flag("pip-no-pg-config")
    result = CliRunner().invoke(cli, ["-C", str(project), "host-install"])
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "devenv: error: Install requirements.txt with uv failed: psycopg2 failed to build from "
        "source: it needs pg_config, which libpq-dev provides on Debian 13 (trixie) "
        '(add "libpq-dev" to [system] packages'
    )
    assert "Error: pg_config executable not found." in result.stdout  # passed through


def test_with_db_makes_cluster_role_database_and_runs_the_vector_check(
    project: Path,
    fake_host: FakeHost,  # noqa: F811
) -> None:
    report, _ = run(project, with_db=True)
    assert report.ok, report.error
    user = pwd.getpwuid(os.geteuid()).pw_name
    assert report.database_url == f"postgresql://{user}@/app?host=/var/run/postgresql&port=5433"
    assert f"DATABASE_URL={report.database_url}" in report.summary()
    calls = fake_host.calls_with_env()
    argvs = [c["argv"] for c in calls]
    assert ["pg_createcluster", "17", "main"] in argvs
    assert ["createuser", "-p", "5433", "--superuser", user] in argvs
    assert ["createdb", "-p", "5433", "-O", user, "app"] in argvs
    check = [c for c in calls if c["argv"][:3] == ["psql", "-v", "ON_ERROR_STOP=1"]]
    assert check and check[0]["env"] == {"PGPORT": "5433", "PGDATABASE": "app"}
    assert "CREATE EXTENSION IF NOT EXISTS vector" in check[0]["argv"]

    fake_host.forget_calls()
    report, _ = run(project, with_db=True)
    assert report.ok and report.changed == 0
    assert not [c for c in fake_host.calls() if c[0] in ("createuser", "createdb", "runuser")]


def _spawn(project: Path, json_file: Path) -> subprocess.Popen[bytes]:
    """host-install --json, its result into json_file; its text (stderr) stays readable."""
    env = {**os.environ, "PYTHONPATH": str(SOURCE)}
    with json_file.open("wb") as result:
        return subprocess.Popen(
            [sys.executable, "-m", "devenv", "-C", str(project), "host-install", "--json"],
            env=env,
            stdout=result,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )


def _wait_for_pip_install(fake_host: FakeHost, process: subprocess.Popen[bytes]) -> None:  # noqa: F811
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any("-r" in c and "install" in c for c in fake_host.calls()):
            return
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.05)
    raise AssertionError("pip install never started")


@pytest.mark.parametrize(
    "sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=["kill-9", "ctrl-c", "sigterm"]
)
def test_interrupted_install_keeps_the_previous_venv_and_frees_the_lock(
    project: Path,
    fake_host: FakeHost,  # noqa: F811
    tmp_path: Path,
    sig: signal.Signals,
) -> None:
    run(project)
    before = venv_target(project)
    (project / "requirements.txt").write_text("httpx\n")
    fake_host.set_flag("pip-hang")
    fake_host.forget_calls()
    json_file = tmp_path / "r.json"
    process = _spawn(project, json_file)
    try:
        _wait_for_pip_install(fake_host, process)
        # While it runs, a second host-install is refused at once.
        second = CliRunner().invoke(cli, ["-C", str(project), "host-install"])
        assert second.exit_code == 75  # EX_TEMPFAIL: try again later
        assert "devenv host-install is already running for" in second.stderr
        assert f"(pid {process.pid})" in second.stderr
        os.killpg(process.pid, sig)  # the whole group, as Ctrl-C in a terminal would
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert venv_target(project) == before
    assert (project / before / "bin" / "python").exists()
    if sig in (signal.SIGINT, signal.SIGTERM):
        assert code == 130
        data = json.loads(json_file.read_text())
        assert data["ok"] is False and data["error"] == "interrupted"
        assert {"name": "requirements", "status": "failed"}.items() <= data["steps"][5].items()
    else:
        assert code == -signal.SIGKILL

    fake_host.set_flag("pip-hang", on=False)
    report, _ = run(project)  # the lock is free again, and the install completes
    assert report.ok and venv_target(project) != before


def test_a_repository_step_runs_only_when_something_will_be_installed(
    make_project: MakeProject,
    fake_host: FakeHost,  # noqa: F811
) -> None:
    root = make_project("[environment]\nbase = 'debian:12'\n[postgres]\nsource = 'pgdg'\n")
    script = "/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh"
    fake_host.install("ca-certificates", "postgresql-common")
    report, out = run(root, dry_run=True)
    assert f"+ {script} -y" in out  # packages are missing: the repository is needed
    assert {s.name: s.status for s in report.steps}["pgdg"] is Status.CHANGED
    plan = load_plan(root)
    fake_host.install(
        *(
            p
            for s in compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST))
            for p in s.packages
        )
    )
    report, out = run(root, dry_run=True, with_db=True)
    assert script not in out
    assert {s.name for s in report.steps if s.status is Status.CHANGED} == {
        "venv",
        "pip-bootstrap",
        "requirements",
        "db-cluster",
        "extension-pgvector",
    }


# kill -9 at each point of a run that changes something: the apt install, the venv, the
# installer bootstrap, the requirements install, the smoke check. Each time the previous
# venv stays active and whole, and the next run repairs: it completes and leaves nothing of
# the killed run behind (no temporary link, no half-built generation).
KILL_POINTS = {
    "apt-install": "apt-get",
    "venv": "-m venv",
    "bootstrap": "--upgrade",
    "requirements": " -r ",
    "smoke": "(expected from requirement",  # in the smoke program
}


@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_kill_9_anywhere_keeps_the_old_venv_and_the_next_run_repairs(
    project: Path,
    fake_host: FakeHost,  # noqa: F811
    tmp_path: Path,
    point: str,
) -> None:
    assert run(project)[0].ok
    before = venv_target(project)
    (project / "requirements.txt").write_text("httpx\n")  # the next run builds a generation
    installed = fake_host.state / "installed.json"
    packages = json.loads(installed.read_text())
    packages.pop("libpq-dev")  # ... and installs an apt package first
    installed.write_text(json.dumps(packages))
    fake_host.forget_calls()
    fake_host.hang_at(KILL_POINTS[point])
    process = _spawn(project, tmp_path / "r.json")
    try:
        deadline = time.monotonic() + 30
        while not any(KILL_POINTS[point] in " ".join(c) for c in fake_host.calls()):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, f"{point} never started"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert venv_target(project) == before
    assert (project / before / "bin" / "python").exists()

    fake_host.hang_at(None)
    report, _ = run(project)
    assert report.ok, report.error
    assert venv_target(project) != before
    assert not list(project.glob(".venv.devenv-*"))
    generations = sorted(p.name for p in (project / ".devenv/venvs").iterdir())
    assert len(generations) == 2  # the new one and the one it replaced, nothing half-built
    for name in generations:
        marker = json.loads((project / ".devenv/venvs" / name / "devenv.json").read_text())
        assert marker["complete"] is True
