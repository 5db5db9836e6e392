"""What a bootstrapped base gets besides debootstrap's output: the official images' sources
and apt settings, and one image under every name of its release."""

from __future__ import annotations

from pathlib import Path

import pytest

from devenv.container.base import alias_refs
from devenv.container.bootstrap.apt_sources import AptSource
from devenv.container.bootstrap.keyring import KeyringError, _apt_options, keyring_for
from devenv.container.bootstrap.rootfs import debootstrap_mirror, files_for, sources_for
from devenv.errors import PlanError
from devenv.plan.model import load_plan
from tests.conftest import MakeProject

HOST_SECURITY = AptSource(
    uri="http://mirror.example/debian-security/",
    suites=("bookworm-security",),
    file=Path("/etc/apt/sources.list.d/debian.sources"),
)


def test_ubuntu_lists_every_component_and_suite_from_the_archive_debootstrap_used() -> None:
    sources = sources_for("ubuntu", "noble", "http://archive.example/ubuntu/", ())
    text = sources.deb822()
    assert "URIs: http://archive.example/ubuntu\nSuites: noble noble-updates noble-backports\n" in (
        text
    )
    assert "Suites: noble-security\n" in text
    assert text.count("Components: main restricted universe multiverse\n") == 2
    assert "Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg" in text
    assert sources.file == "etc/apt/sources.list.d/ubuntu.sources"


def test_debian_takes_the_security_archive_from_the_host_or_the_mirrors_sibling() -> None:
    own = sources_for("debian", "trixie", "http://mirror.example/debian", (HOST_SECURITY,))
    assert own.security == "http://mirror.example/debian-security"
    sibling = sources_for("debian", "trixie", "http://other.example/debian", ())
    assert sibling.security == "http://other.example/debian-security"
    text = sibling.deb822()
    assert "Suites: trixie trixie-updates\nComponents: main\n" in text
    assert "Suites: trixie-security\n" in text


def test_apt_keeps_no_caches_or_translations_and_services_stay_down() -> None:
    files = {
        path: (mode, text)
        for path, mode, text in files_for(
            sources_for("debian", "trixie", "http://m.example/debian", ())
        )
    }
    clean = files["etc/apt/apt.conf.d/docker-clean"][1]
    assert "DPkg::Post-Invoke" in clean and "/var/cache/apt/archives/*.deb" in clean
    assert 'Dir::Cache::pkgcache "";' in clean
    assert 'Acquire::Languages "none";' in files["etc/apt/apt.conf.d/docker-no-languages"][1]
    assert files["usr/sbin/policy-rc.d"][0] == 0o755
    assert "exit 101" in files["usr/sbin/policy-rc.d"][1]
    assert "etc/dpkg/dpkg.cfg.d/excludes" not in files  # only Ubuntu's image is minimized
    ubuntu = {p for p, _, _ in files_for(sources_for("ubuntu", "noble", "http://u.example", ()))}
    assert "etc/dpkg/dpkg.cfg.d/excludes" in ubuntu


def test_the_mirror_is_read_from_what_debootstrap_wrote(tmp_path: Path) -> None:
    (tmp_path / "etc" / "apt").mkdir(parents=True)
    (tmp_path / "etc" / "apt" / "sources.list").write_text(
        "deb http://archive.example/ubuntu/ noble main\n"
    )
    assert debootstrap_mirror(tmp_path) == "http://archive.example/ubuntu"
    assert debootstrap_mirror(tmp_path / "nothing") is None


def test_a_release_image_carries_both_of_its_names() -> None:
    assert alias_refs("debian:13", "debian", "13", "trixie") == ("debian:13", "debian:trixie")
    assert alias_refs("ubuntu:noble", "ubuntu", "24.04", "noble") == (
        "ubuntu:noble",
        "ubuntu:24.04",
    )
    assert alias_refs("debian:trixie-slim", "debian", "13", "trixie") == ("debian:trixie-slim",)


def test_a_keyring_named_by_the_plan_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "keys" / "archive.gpg"
    with pytest.raises(KeyringError, match=r"named by \[environment\] keyring does not exist"):
        keyring_for("ubuntu", missing, tmp_path / "work", print, as_root=True)
    missing.parent.mkdir()
    missing.write_bytes(b"\x99\x01")
    assert keyring_for("ubuntu", missing, tmp_path / "work", print, as_root=True) == missing
    assert keyring_for("debian", None, tmp_path / "work", print, as_root=True) is None


def test_the_plan_takes_a_keyring_path_relative_to_the_project(make_project: MakeProject) -> None:
    root = make_project("[environment]\nkeyring = 'keys/ubuntu.gpg'\n")
    assert load_plan(root).environment.keyring == root / "keys" / "ubuntu.gpg"
    assert load_plan(make_project(name="other")).environment.keyring is None
    bad = make_project("[environment]\nkeyring = 'keys/x y.txt'\n", name="bad")
    with pytest.raises(PlanError, match=r"\[environment\] keyring: .* is not a keyring file"):
        load_plan(bad)


def test_fetching_the_keyring_keeps_every_apt_file_in_its_own_folder(tmp_path: Path) -> None:
    options = _apt_options(tmp_path, as_root=False)
    pairs = dict(o.split("=", 1) for o in options[1::2])
    for key in ("Dir::State", "Dir::Cache", "Dir::Etc::SourceList", "Dir::State::status"):
        assert pairs[key].startswith(str(tmp_path)), key
    assert "APT::Sandbox::User" not in pairs
    assert (
        dict(o.split("=", 1) for o in _apt_options(tmp_path, True)[1::2])["APT::Sandbox::User"]
        == "root"
    )
