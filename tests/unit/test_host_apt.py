"""Apt, sudo and database helpers of the host runner: pure functions, no process run."""

from __future__ import annotations

import pytest

from devenv.errors import HostError
from devenv.host import apt as host_apt
from devenv.host import db as host_db
from devenv.host.execute import Executor
from devenv.plan.model import load_plan
from devenv.steps.compile import compile_steps
from devenv.steps.model import Command, Kind, Mode, Role
from devenv.steps.recipe import requirements_review
from tests.conftest import MakeProject

DPKG = (
    "python3\tinstall ok installed\t3.13.5-1\n"
    "libpq-dev\thold ok installed\t17.12-0+deb13u1\n"
    "postgresql-17\tdeinstall ok config-files\t17.12-0+deb13u1\n"
    "gcc\tinstall ok half-configured\t4:14.2.0-1\n"
)


def test_dpkg_status_counts_only_what_is_really_installed() -> None:
    installed = host_apt.parse_dpkg_query(DPKG)
    assert installed == {"python3": "3.13.5-1", "libpq-dev": "17.12-0+deb13u1"}
    specs = ("python3", "libpq-dev=17.0-1", "postgresql-17", "gcc", "nano", "python3=3.13.5-1")
    assert host_apt.missing(specs, installed) == (
        "libpq-dev=17.0-1",
        "postgresql-17",
        "gcc",
        "nano",
    )


def test_every_apt_step_marks_its_update_and_install(make_project: MakeProject) -> None:
    plan = load_plan(make_project("[environment]\nbase='debian:12'\n[postgres]\nsource='pgdg'\n"))
    for mode in Mode:
        for step in (
            s
            for s in compile_steps(plan, mode, requirements_review(plan, mode))
            if s.kind is Kind.APT
        ):
            roles = [c.role for c in step.commands_for(mode)]
            # An image may run commands of its own between them (postgresql-common first).
            assert roles[0] is Role.APT_UPDATE and roles.count(Role.APT_INSTALL) == 1, step.id
            if mode is Mode.HOST:
                assert roles[:2] == [Role.APT_UPDATE, Role.APT_INSTALL], step.id
            install = step.command(Role.APT_INSTALL)
            assert install.argv[-len(step.packages) :] == step.packages
            narrowed = host_apt.narrowed(install, step, step.packages[:1])
            assert narrowed.argv == install.argv[: -len(step.packages)] + step.packages[:1]
            assert narrowed.env == (("DEBIAN_FRONTEND", "noninteractive"),)
    pgdg = next(
        s
        for s in compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST))
        if s.id == "pgdg"
    )
    assert [c.role for c in pgdg.commands_for(Mode.HOST)][2:] == [Role.RUN]


def test_narrowing_refuses_a_command_that_is_not_the_install(make_project: MakeProject) -> None:
    plan = load_plan(make_project())
    step = next(
        s
        for s in compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST))
        if s.packages
    )
    with pytest.raises(HostError, match="does not end with its packages"):
        host_apt.narrowed(step.commands[0], step, ())


def test_root_commands_go_through_sudo_n_and_env_when_not_root() -> None:
    command = Command(
        argv=("apt-get", "install", "-y", "nano"), env=(("DEBIAN_FRONTEND", "noninteractive"),)
    )
    root = Executor(echo=print, dry_run=True, euid=0)
    user = Executor(echo=print, dry_run=True, euid=4242)
    assert (
        root.as_root(command).display() == "DEBIAN_FRONTEND=noninteractive apt-get install -y nano"
    )
    assert root.as_root(command).env == command.env
    assert user.as_root(command).argv == (
        "sudo",
        "-n",
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "install",
        "-y",
        "nano",
    )
    assert user.as_root(Command(argv=("true",))).argv == ("sudo", "-n", "true")
    assert root.as_postgres(("psql",)).argv == ("runuser", "-u", "postgres", "--", "psql")
    assert user.as_postgres(("psql",)).argv == ("sudo", "-n", "-u", "postgres", "psql")


def test_dry_run_prints_and_does_not_run() -> None:
    lines: list[str] = []
    Executor(echo=lines.append, dry_run=True).run(
        Executor(echo=print, dry_run=True).plain(Command(argv=("false",))), what="x"
    )
    assert lines == ["+ false"]


def test_clusters_and_the_database_url() -> None:
    clusters = host_db.parse_clusters(
        "16 main 5432 down postgres /var/lib/postgresql/16/main /var/log/x.log\n"
        "17 main 5433 online,recovery postgres /var/lib/postgresql/17/main /var/log/y.log\n"
        "garbage\n"
    )
    assert [(c.version, c.port, c.online) for c in clusters] == [
        (16, 5432, False),
        (17, 5433, True),
    ]
    database = host_db.Database(user="jane.doe", name="app", port=5433)
    assert database.url == "postgresql://jane.doe@/app?host=/var/run/postgresql&port=5433"
    assert dict(database.env())["PGPORT"] == "5433"


def test_a_user_name_that_is_no_role_name_is_refused() -> None:
    executor = Executor(echo=print, dry_run=True)
    executor.user = "bad'name"
    with pytest.raises(HostError, match="can't make a PostgreSQL role"):
        host_db.role_name(executor)
