"""Mirror resolution from the host's apt configuration, and engine connection errors.

No engine is needed: the connection tests dial addresses where nothing listens, for real.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devenv.container.bootstrap.apt_sources import (
    AptSource,
    host_apt_sources,
    is_mirror_for,
    mirror_from_host,
)
from devenv.container.engine import Engine
from devenv.errors import DevenvError, EngineError


def write(apt_dir: Path, name: str, text: str) -> None:
    path = apt_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


DEBIAN_DEB822 = """\
Types: deb
# a comment
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.org/debian-security
Suites: bookworm-security
Components: main
"""


def test_deb822_debian_main_archive_wins_over_security(tmp_path: Path) -> None:
    write(tmp_path, "sources.list.d/debian.sources", DEBIAN_DEB822)
    assert mirror_from_host("debian", tmp_path) == "http://mirror.example.org/debian"
    assert mirror_from_host("ubuntu", tmp_path) is None


def test_security_only_gives_no_mirror(tmp_path: Path) -> None:
    write(
        tmp_path,
        "sources.list.d/security.sources",
        "Types: deb\nURIs: http://mirror.example.org/debian-security\nSuites: trixie-security\n",
    )
    assert mirror_from_host("debian", tmp_path) is None


def test_one_line_sources_list_with_options(tmp_path: Path) -> None:
    write(
        tmp_path,
        "sources.list",
        "# deb http://commented.example.org/debian bookworm main\n"
        "deb-src http://src.example.org/debian bookworm main\n"
        "deb [ arch=amd64 signed-by=/usr/share/keyrings/x.gpg ] "
        "https://mirror.example.net/debian/ bookworm main contrib\n",
    )
    assert mirror_from_host("debian", tmp_path) == "https://mirror.example.net/debian"


def test_sources_list_is_read_before_parts_in_name_order(tmp_path: Path) -> None:
    write(tmp_path, "sources.list", "deb http://first.example.org/debian trixie main\n")
    write(tmp_path, "sources.list.d/b.list", "deb http://third.example.org/debian trixie main\n")
    write(tmp_path, "sources.list.d/a.sources", DEBIAN_DEB822)
    uris = [s.uri for s in host_apt_sources(tmp_path)]
    assert uris == [
        "http://first.example.org/debian",
        "http://mirror.example.org/debian",
        "http://mirror.example.org/debian-security",
        "http://third.example.org/debian",
    ]
    assert mirror_from_host("debian", tmp_path) == "http://first.example.org/debian"


def test_ignored_entries(tmp_path: Path) -> None:
    # Only *.list and *.sources count (as for apt); disabled, deb-src-only and non-HTTP
    # entries, and other archives (a third-party repository) are not mirrors of the distro.
    write(tmp_path, "sources.list.d/x.list.disabled", "deb http://off.example.org/debian a b\n")
    write(
        tmp_path,
        "sources.list.d/disabled.sources",
        "Types: deb\nURIs: http://off.example.org/debian\nSuites: trixie\nEnabled: no\n",
    )
    write(
        tmp_path,
        "sources.list.d/src.sources",
        "Types: deb-src\nURIs: http://src.example.org/debian\nSuites: trixie\n",
    )
    write(
        tmp_path,
        "sources.list.d/cdrom.list",
        "deb cdrom:[Debian 12]/ bookworm main\ndeb file:///srv/debian bookworm main\n",
    )
    write(
        tmp_path,
        "sources.list.d/vendor.sources",
        "Types: deb\nURIs: https://vendor.example.org/apt\nSuites: nodistro\n",
    )
    assert mirror_from_host("debian", tmp_path) is None


def test_deb822_continuation_lines_and_several_uris(tmp_path: Path) -> None:
    write(
        tmp_path,
        "sources.list.d/multi.sources",
        "Types: deb deb-src\nURIs: ftp://old.example.org/debian\n"
        "  http://second.example.org/debian\nSuites: trixie\n",
    )
    assert mirror_from_host("debian", tmp_path) == "http://second.example.org/debian"


UBUNTU_DEB822 = """\
Types: deb
URIs: http://ports.example.org/ubuntu-ports
Suites: noble
Components: main

Types: deb
URIs: http://security.example.org/ubuntu
Suites: noble-security
Components: main

Types: deb
URIs: http://mirror.example.org/ubuntu/
Suites: noble noble-updates
Components: main universe
"""


def test_ubuntu_skips_ports_and_security(tmp_path: Path) -> None:
    write(tmp_path, "sources.list.d/ubuntu.sources", UBUNTU_DEB822)
    assert mirror_from_host("ubuntu", tmp_path) == "http://mirror.example.org/ubuntu"
    assert mirror_from_host("debian", tmp_path) is None


def test_security_host_is_not_a_mirror() -> None:
    source = AptSource(uri="http://security.example.org/ubuntu", suites=("noble",), file=Path())
    assert not is_mirror_for("ubuntu", source)


def test_missing_apt_dir(tmp_path: Path) -> None:
    assert host_apt_sources(tmp_path / "nothing") == ()
    assert mirror_from_host("debian", tmp_path / "nothing") is None


# -- engine connection errors: real attempts, no mocks ----------------------------------------


def connect_error(monkeypatch: pytest.MonkeyPatch, docker_host: str) -> str:
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    monkeypatch.delenv("DOCKER_CERT_PATH", raising=False)
    with pytest.raises(EngineError) as info:
        Engine.connect()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_unix_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    message = connect_error(monkeypatch, "unix:///nonexistent.sock")
    assert "DOCKER_HOST=unix:///nonexistent.sock" in message
    assert "no socket at /nonexistent.sock" in message
    assert "scripts/engine.sh start" in message
    assert "devenv host-install" in message


def test_refused_tcp(monkeypatch: pytest.MonkeyPatch) -> None:
    message = connect_error(monkeypatch, "tcp://127.0.0.1:1")
    assert "DOCKER_HOST=tcp://127.0.0.1:1" in message
    assert "connection refused" in message
    assert "scripts/engine.sh start" in message


def test_socket_path_nobody_listens_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dead = tmp_path / "dead.sock"
    dead.touch()
    message = connect_error(monkeypatch, f"unix://{dead}")
    assert f"connection refused on {dead}" in message


def test_bad_docker_host(monkeypatch: pytest.MonkeyPatch) -> None:
    message = connect_error(monkeypatch, "foo://bar")
    assert message.startswith("bad DOCKER_HOST 'foo://bar'")
    assert "tcp://HOST:PORT" in message


def test_explicit_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    with pytest.raises(EngineError, match=r"no socket at /nonexistent-too\.sock"):
        Engine.connect(env={"DOCKER_HOST": "unix:///nonexistent-too.sock"})


def test_older_debootstrap_bootstraps_a_newer_ubuntu_through_gutsy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is not installed: run scripts/dev-setup.sh")
    from devenv.container.bootstrap.debootstrap import debootstrap_dir_with, debootstrap_script

    home = tmp_path / "share"
    (home / "scripts").mkdir(parents=True)
    (home / "functions").write_text("# debootstrap functions\n")
    (home / "scripts" / "gutsy").write_text("# ubuntu script\n")
    (home / "scripts" / "trixie").write_text("# debian script\n")
    monkeypatch.setenv("DEBOOTSTRAP_DIR", str(home))
    assert debootstrap_script("trixie", "debian") == (home / "scripts", None)
    scripts, stand_in = debootstrap_script("noble", "ubuntu")
    assert stand_in == home / "scripts" / "gutsy"
    overlay = debootstrap_dir_with(tmp_path / "work", scripts, "noble", stand_in)
    assert (overlay / "scripts" / "noble").read_text() == "# ubuntu script\n"
    assert (overlay / "scripts" / "trixie").read_text() == "# debian script\n"
    assert (overlay / "functions").exists()
    with pytest.raises(DevenvError, match="does not know the release 'forky'"):
        debootstrap_script("forky", "debian")
