"""Host mode follows the host's release: what it can provide, and what it refuses by name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from devenv.host.release import HostReleaseError, detect, for_host
from devenv.plan.lockfile import Lock
from devenv.plan.model import load_plan
from tests.conftest import MakeProject

RELEASES = {
    "bookworm": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
    "VERSION_CODENAME=bookworm\n",
    "trixie": 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\n',
    "noble": 'PRETTY_NAME="Ubuntu 24.04.3 LTS"\nID=ubuntu\nVERSION_ID="24.04"\n'
    "VERSION_CODENAME=noble\n",
    "fedora": 'PRETTY_NAME="Fedora Linux 41"\nID=fedora\nVERSION_ID=41\n',
}


def host(tmp_path: Path, name: str):  # type: ignore[no-untyped-def]
    path = tmp_path / f"os-release-{name}"
    path.write_text(RELEASES[name])
    return detect(path)


def test_the_default_plan_on_its_own_release_is_unchanged(
    make_project: MakeProject, tmp_path: Path
) -> None:
    plan = load_plan(make_project())
    assert for_host(plan, host(tmp_path, "noble")) is plan


def test_the_default_plan_on_debian_12_is_refused_naming_release_need_and_fixes(
    make_project: MakeProject, tmp_path: Path
) -> None:
    plan = load_plan(make_project())
    with pytest.raises(HostReleaseError) as caught:
        for_host(plan, host(tmp_path, "bookworm"))
    error = caught.value
    assert error.exit_code == 2
    assert error.message == (
        "this host is Debian 12 (bookworm): its archive has no PostgreSQL 16 with pgvector, "
        "which the plan needs (it is written for Ubuntu 24.04 (noble))"
    )
    assert error.hint == (
        'use [postgres] source = "pgdg" (the PostgreSQL apt repository), or `devenv up` '
        "(the Ubuntu 24.04 (noble) image)"
    )


def test_debian_13_is_offered_its_own_postgres_major(
    make_project: MakeProject, tmp_path: Path
) -> None:
    with pytest.raises(HostReleaseError) as caught:
        for_host(load_plan(make_project()), host(tmp_path, "trixie"))
    assert caught.value.hint is not None
    assert '[postgres] version = 17 with source = "distro"' in caught.value.hint


def test_a_release_that_can_provide_it_gets_its_own_package_names(
    make_project: MakeProject, tmp_path: Path
) -> None:
    plan = load_plan(
        make_project("[environment]\nbase = 'debian:12'\n[postgres]\nsource = 'pgdg'\n")
    )
    here = for_host(plan, host(tmp_path, "trixie"))
    assert here.environment.release.codename == "trixie"
    assert here.postgres.packages.client == "postgresql-client-16"
    assert here.postgres.packages.needs_pgdg_repo


def test_a_lock_for_another_release_is_refused_by_name(
    make_project: MakeProject, tmp_path: Path
) -> None:
    plan = load_plan(
        make_project("[environment]\nbase = 'debian:12'\n[postgres]\nsource = 'pgdg'\n")
    )
    locked = dataclasses.replace(
        plan,
        lock=Lock(inputs=(), base=(("ref", "debian:12"),), python="3.11", apt=(), requirements=""),
    )
    with pytest.raises(HostReleaseError, match=r"devenv.lock pins apt versions for Debian 12"):
        for_host(locked, host(tmp_path, "trixie"))


def test_an_unknown_release_is_refused(make_project: MakeProject, tmp_path: Path) -> None:
    with pytest.raises(HostReleaseError, match=r"this host is Fedora Linux 41, which devenv"):
        for_host(load_plan(make_project()), host(tmp_path, "fedora"))
