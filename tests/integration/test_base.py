"""The locally bootstrapped base image (debootstrap + import) is a usable, clean base."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from devenv.container.base import ensure_base
from devenv.container.engine import Engine
from devenv.render.labels import LABEL_BOOTSTRAPPED, LABEL_DISTRO, LABEL_SUITE
from tests.integration.conftest import run_networked
from tests.integration.conftest_host import (
    DOCKER_SOCKET,
    bare_host_image,  # noqa: F401 (a fixture)
    bare_noble_host_image,  # noqa: F401 (a fixture)
    start_host,
    stop_host,
)

#: The conftest's run_container fixture: (ref, argv or None) -> (exit code, output).
RunContainer = Callable[[str, Sequence[str] | None], tuple[int, str]]


def test_image_exists_with_labels(engine: Engine, trixie_base: str) -> None:
    assert engine.image_exists(trixie_base)
    labels = engine.image_labels(trixie_base)
    assert labels[LABEL_BOOTSTRAPPED] == "true"
    assert labels[LABEL_DISTRO] == "debian"
    assert labels[LABEL_SUITE] == "trixie"


def test_second_call_does_not_bootstrap(engine: Engine, trixie_base: str) -> None:
    result = ensure_base(
        engine,
        trixie_base,
        "debian",
        "trixie",
        version="13",
        mirror=None,
        keyring=None,
        force=False,
        log=print,
    )
    assert not result.bootstrapped
    assert result.image_id == engine.image_id(trixie_base)


def test_default_command_is_bash(
    engine: Engine, trixie_base: str, run_container: RunContainer
) -> None:
    info = engine.inspect_image(trixie_base)
    assert info is not None
    assert info["Config"]["Cmd"] == ["bash"]
    # Like `docker run --rm debian:trixie`: bash without a tty reads EOF and exits 0.
    assert run_container(trixie_base, None) == (0, "")


def test_it_is_trixie(trixie_base: str, run_container: RunContainer) -> None:
    code, output = run_container(trixie_base, ["cat", "/etc/os-release"])
    assert code == 0
    assert "VERSION_CODENAME=trixie" in output


def test_no_apt_lists_or_caches_left(trixie_base: str, run_container: RunContainer) -> None:
    code, output = run_container(trixie_base, ["find", "/var/lib/apt/lists", "-type", "f"])
    assert code == 0
    assert set(output.split()) <= {"/var/lib/apt/lists/lock"}
    code, output = run_container(
        trixie_base, ["find", "/var/cache/apt", "-maxdepth", "1", "-name", "*.bin"]
    )
    assert (code, output) == (0, "")


def test_trixie_lists_updates_and_security_and_keeps_no_apt_cache(
    engine: Engine, trixie_base: str
) -> None:
    code, out = run_networked(
        engine, trixie_base, "apt-get update -qq && apt-cache policy && du -sk /var/cache/apt"
    )
    assert code == 0, out[-3000:]
    for suite in ("trixie/main", "trixie-updates/main", "trixie-security/main"):
        assert f" {suite} amd64 Packages" in out, out[-3000:]
    assert int(out.split()[-2]) < 1024, out[-200:]


def test_both_names_of_the_release_are_one_image(engine: Engine, trixie_base: str) -> None:
    assert engine.image_id("debian:13") == engine.image_id(trixie_base)


# -- a user in the docker group, without root or sudo ------------------------------------------

# (distro, codename, version, the apt sources file, its suites line)
ROOTLESS = {
    "trixie": ("debian", "trixie", "13", "debian.sources", "Suites: trixie trixie-updates"),
    "noble": (
        "ubuntu",
        "noble",
        "24.04",
        "ubuntu.sources",
        "Suites: noble noble-updates noble-backports",
    ),
}
BOOTSTRAP_AS_USER = """
import sys
from devenv.container.base import BaseSource, ensure_base
from devenv.container.engine import Engine
ref, distro, codename, version = sys.argv[1:]
with Engine.connect() as engine:
    result = ensure_base(engine, ref, distro, codename, version=version,
        mirror=None, keyring=None, force=True, log=print, source=BaseSource.BOOTSTRAP)
print("made", result.how, result.image_id)
"""


# (the host's image fixture, the release bootstrapped): Debian 13 makes both distros; an
# Ubuntu 24.04 host makes Debian's.
ROOTLESS_CASES = [
    ("bare_host_image", "trixie"),
    ("bare_host_image", "noble"),
    ("bare_noble_host_image", "trixie"),
]


@pytest.mark.parametrize(
    ("host_image", "release"),
    ROOTLESS_CASES,
    ids=["debian13-host-trixie", "debian13-host-noble", "ubuntu-host-trixie"],
)
def test_a_docker_group_user_without_sudo_bootstraps_a_base(
    request: pytest.FixtureRequest,
    engine: Engine,
    run_container: RunContainer,
    host_image: str,
    release: str,
) -> None:
    """On a bare host with debootstrap and fakeroot (what dev-setup installs), `nosudo` (no
    sudo rights, only the engine's socket) gets a working base: debootstrap's first stage runs
    under fakeroot, the second in a container; Ubuntu's keyring, which a Debian host lacks, is
    fetched as that user."""
    distro, codename, version, sources, suites = ROOTLESS[release]
    ref = f"devenv-test/rootless-{codename}-{host_image.split('_')[1]}:latest"
    image = str(request.getfixturevalue(host_image))
    # init: fakeroot waits for its daemon to be reaped, which a bare `sleep` PID 1 never does.
    box = start_host(engine, image, user="nosudo", project="/", docker_socket=True, init=True)
    try:
        code, out = box.run(
            ["sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install "
             "-y -qq --no-install-recommends debootstrap fakeroot debian-archive-keyring "
             ">/dev/null"],
            user="root", timeout=600,
        )  # fmt: skip
        assert code == 0, out[-3000:]
        code, out = box.run(["stat", "-c", "%g", DOCKER_SOCKET], user="root")
        gid = out.strip()
        code, out = box.run(
            ["sh", "-c", f"groupadd -g {gid} enginesock 2>/dev/null || true; "
             f"usermod -aG $(getent group {gid} | cut -d: -f1) nosudo"],
            user="root",
        )  # fmt: skip
        assert code == 0, out
        code, out = box.run(["sudo", "-n", "true"])
        assert code != 0, "nosudo must not have sudo rights"
        if host_image == "bare_host_image":
            code, out = box.run(["test", "-e", "/usr/share/keyrings/ubuntu-archive-keyring.gpg"])
            assert code != 0, "the bare Debian host must lack Ubuntu's keyring"
        code, out = box.run(
            ["/opt/devenv-tool/bin/python", "-c", BOOTSTRAP_AS_USER, ref, distro, codename, version]
        )
        assert code == 0, out[-5000:]
        assert "made bootstrapped" in out and "--foreign" in out, out[-3000:]
        if distro == "ubuntu" and host_image == "bare_host_image":
            assert "fetching ubuntu-keyring" in out, out[-3000:]
    finally:
        stop_host(box)
    try:
        labels = engine.image_labels(ref)
        assert labels[LABEL_BOOTSTRAPPED] == "true" and labels[LABEL_SUITE] == codename
        code, out = run_container(
            ref,
            ["sh", "-c", "stat -c '%U %a' /etc/passwd /usr/bin/su /root; dpkg --audit; "
             f"grep -h Suites /etc/apt/sources.list.d/{sources}; ls /debootstrap 2>&1"],
        )  # fmt: skip
        lines = out.splitlines()
        assert lines[:3] == ["root 644", "root 4755", "root 700"], out  # owners, setuid kept
        assert suites in out and f"Suites: {codename}-security" in out, out
        assert "No such file or directory" in out  # the second stage removed /debootstrap
    finally:
        engine.remove_image(ref)
