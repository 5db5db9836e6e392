"""How debootstrap gets root here: as root, through passwordless sudo, or faked."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devenv.container.bootstrap.process import BootstrapError


@dataclass(frozen=True)
class Privilege:
    """How debootstrap gets root: as root, through ``sudo -n``, or faked (fakeroot) by a user
    who only reaches the engine (the docker group): debootstrap's first stage then unpacks
    the packages here and its second stage configures them in a container."""

    prefix: tuple[str, ...]
    in_container: bool = False


def sudo_works() -> bool:
    if shutil.which("sudo") is None:
        return False
    try:
        done = subprocess.run(["sudo", "-n", "true"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def privilege_for(workdir: Path) -> Privilege:
    if os.geteuid() == 0:
        return Privilege(prefix=())
    if sudo_works():
        return Privilege(prefix=("sudo", "-n"))
    if shutil.which("fakeroot") is not None:
        state = workdir / "fakeroot.state"
        state.touch()
        return Privilege(prefix=("fakeroot", "-i", str(state), "-s", str(state)), in_container=True)
    raise BootstrapError(
        "bootstrapping a base image needs root, passwordless sudo, or fakeroot (for a user "
        "in the docker group), and this user has none of them",
        hint="install fakeroot (apt-get install fakeroot), or run `sudo devenv base` once; "
        "where a registry answers, `devenv base --pull` needs none of them",
    )
