"""The host's debootstrap: where it is, and the script it uses for a release."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from devenv.container.bootstrap.process import BootstrapError, Log

# Every Ubuntu release since 7.10 uses debootstrap's `gutsy` script: an older debootstrap
# (Debian 12's has no `noble`) can still bootstrap a newer Ubuntu through it.
UBUNTU_SCRIPT = "gutsy"


def debootstrap_command() -> str | None:
    """debootstrap lives in /usr/sbin, which is not on an ordinary user's PATH on Debian."""
    found = shutil.which("debootstrap")
    if found is None and Path("/usr/sbin/debootstrap").is_file():
        found = "/usr/sbin/debootstrap"
    return found


def debootstrap_script(codename: str, distro: str = "debian") -> tuple[Path, Path | None]:
    """Check debootstrap is installed and can bootstrap ``codename``. Returns its scripts
    folder and, for an Ubuntu release this debootstrap predates, the script to use instead."""
    if debootstrap_command() is None:
        raise BootstrapError(
            "cannot bootstrap a base image: debootstrap is not installed on this host",
            hint="run 'apt-get install -y debootstrap' (scripts/engine.sh start installs it too)",
        )
    scripts = Path(os.environ.get("DEBOOTSTRAP_DIR", "/usr/share/debootstrap")) / "scripts"
    script = scripts / codename
    if script.exists():
        return scripts, None
    if distro == "ubuntu" and (scripts / UBUNTU_SCRIPT).exists():
        return scripts, scripts / UBUNTU_SCRIPT
    raise BootstrapError(
        f"this host's debootstrap does not know the release {codename!r} ({script} is missing)",
        hint="install a newer debootstrap (e.g. from the next Debian release or backports), "
        "or pick a release listed in " + str(scripts),
    )


def debootstrap_dir_with(workdir: Path, scripts: Path, codename: str, script: Path) -> Path:
    """A DEBOOTSTRAP_DIR that is the host's, plus `codename` as another name for `script`."""
    overlay = workdir / "debootstrap"
    (overlay / "scripts").mkdir(parents=True)
    for entry in scripts.parent.iterdir():
        if entry.name != "scripts":
            (overlay / entry.name).symlink_to(entry)
    for entry in scripts.iterdir():
        (overlay / "scripts" / entry.name).symlink_to(entry)
    (overlay / "scripts" / codename).symlink_to(script)
    return overlay


def log_tail(path: Path, log: Log, lines: int = 15) -> None:
    try:
        tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return
    log(f"last lines of {path}:")
    for line in tail:
        log(f"  {line}")
