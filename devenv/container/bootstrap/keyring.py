"""The archive keyring debootstrap verifies a release with.

Debian hosts verify Debian releases with their own ``debian-archive-keyring``. An Ubuntu
release needs Ubuntu's keyring, which Debian 12 does not package and Debian 13 ships in
``ubuntu-keyring``. Rather than ask the user to install a package (or trust an unverified
download), devenv fetches that package from the Debian archive the host already uses, with apt
itself (which checks the archive's signature and the package's hash), into a private folder:
the host's apt state, lists and installed packages are never touched.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

from devenv.container.bootstrap.apt_sources import APT_DIR, mirror_from_host
from devenv.errors import DevenvError

Log = Callable[[str], None]

UBUNTU_KEYRING = Path("/usr/share/keyrings/ubuntu-archive-keyring.gpg")
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
#: The Debian release (or any later one) whose archive has the ``ubuntu-keyring`` package.
KEYRING_SUITE = "trixie"
KEYRING_PACKAGE = "ubuntu-keyring"
#: apt's own network timeout, and a bound on each whole apt run (seconds).
APT_NET_TIMEOUT = 30
APT_RUN_TIMEOUT = 300


class KeyringError(DevenvError):
    """The archive keyring for the base image could not be found or fetched."""


def _apt_options(work: Path, as_root: bool) -> list[str]:
    """apt-get options that keep every file apt writes inside ``work``."""
    options = {
        "Dir::Etc::SourceList": str(work / "sources.list"),
        "Dir::Etc::SourceParts": str(work / "empty"),
        "Dir::Etc::Preferences": str(work / "empty" / "preferences"),
        "Dir::Etc::PreferencesParts": str(work / "empty"),
        "Dir::State": str(work / "state"),
        "Dir::State::status": str(work / "status"),
        "Dir::Cache": str(work / "cache"),
        "Debug::NoLocking": "true",
        "Acquire::Languages": "none",
        "Acquire::http::Timeout": str(APT_NET_TIMEOUT),
        "Acquire::https::Timeout": str(APT_NET_TIMEOUT),
        "Acquire::Retries": "2",
    }
    if as_root:
        # apt would drop to its _apt user, who cannot write our private (0700) folder.
        options["APT::Sandbox::User"] = "root"
    return [arg for key, value in options.items() for arg in ("-o", f"{key}={value}")]


def _run(argv: list[str], log: Log, cwd: Path | None = None) -> None:
    log("+ " + shlex.join(argv))
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=APT_RUN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise KeyringError(
            f"{argv[0]} did not finish within {APT_RUN_TIMEOUT}s while fetching the Ubuntu "
            "archive keyring",
            hint="check that the host reaches its Debian archive, or set [environment] keyring",
        ) from None
    except OSError as exc:
        raise KeyringError(
            f"cannot run {argv[0]} to fetch the Ubuntu archive keyring: {exc.strerror}",
            hint="set [environment] keyring to the path of ubuntu-archive-keyring.gpg",
        ) from None
    if done.returncode != 0:
        tail = " | ".join(done.stdout.decode("utf-8", "replace").strip().splitlines()[-3:])
        raise KeyringError(
            f"fetching the Ubuntu archive keyring failed: {argv[0]} exited with "
            f"{done.returncode}: {tail}",
            hint="set [environment] keyring to the path of ubuntu-archive-keyring.gpg, or "
            "install Ubuntu's keyring package on this host",
        )


def fetch_ubuntu_keyring(work: Path, log: Log, *, as_root: bool, apt_dir: Path = APT_DIR) -> Path:
    """Download ``ubuntu-keyring`` from the host's Debian archive into ``work`` and unpack it;
    return the keyring file's path inside ``work``."""
    mirror = mirror_from_host("debian", apt_dir)
    if mirror is None:
        raise KeyringError(
            f"cannot verify the Ubuntu archive: {UBUNTU_KEYRING} is missing, and this host's "
            "apt configuration names no Debian archive to fetch it from",
            hint="set [environment] keyring to the path of ubuntu-archive-keyring.gpg",
        )
    if not DEBIAN_KEYRING.is_file():
        raise KeyringError(
            f"cannot fetch the Ubuntu archive keyring: {DEBIAN_KEYRING} is missing",
            hint="install debian-archive-keyring, or set [environment] keyring",
        )
    for folder in ("empty", "state/lists/partial", "cache/archives/partial", "debs", "unpacked"):
        (work / folder).mkdir(parents=True, exist_ok=True)
    (work / "status").write_text("")
    (work / "sources.list").write_text(
        f"deb [signed-by={DEBIAN_KEYRING}] {mirror} {KEYRING_SUITE} main\n"
    )
    log(f"fetching {KEYRING_PACKAGE} from {mirror} ({KEYRING_SUITE}) to verify the Ubuntu archive")
    options = _apt_options(work, as_root)
    _run(["apt-get", "-q", *options, "update"], log)
    _run(["apt-get", "-q", *options, "download", KEYRING_PACKAGE], log, cwd=work / "debs")
    debs = sorted((work / "debs").glob(f"{KEYRING_PACKAGE}_*.deb"))
    if not debs:
        raise KeyringError(
            f"apt-get download {KEYRING_PACKAGE} left no .deb in {work / 'debs'}",
            hint="set [environment] keyring to the path of ubuntu-archive-keyring.gpg",
        )
    _run(["dpkg-deb", "-x", str(debs[-1]), str(work / "unpacked")], log)
    keyring = work / "unpacked" / UBUNTU_KEYRING.relative_to("/")
    if not keyring.is_file():
        raise KeyringError(
            f"{debs[-1].name} has no {UBUNTU_KEYRING}",
            hint="set [environment] keyring to the path of ubuntu-archive-keyring.gpg",
        )
    return keyring


def keyring_for(
    distro: str,
    explicit: Path | None,
    work: Path,
    log: Log,
    *,
    as_root: bool,
    apt_dir: Path = APT_DIR,
) -> Path | None:
    """The keyring to pass to debootstrap: the plan's, else the host's Ubuntu keyring, else
    one fetched into ``work``. None for Debian: debootstrap uses the host's Debian keyring."""
    if explicit is not None:
        if not explicit.is_file():
            raise KeyringError(
                f"the keyring {explicit} named by [environment] keyring does not exist",
                hint="fix the path (relative to the project, or absolute), or remove the key",
            )
        return explicit
    if distro != "ubuntu":
        if not DEBIAN_KEYRING.is_file():  # an Ubuntu host without Debian's keyring
            raise KeyringError(
                f"cannot verify the Debian archive: {DEBIAN_KEYRING} is missing",
                hint="install debian-archive-keyring (apt-get install debian-archive-keyring), "
                "or set [environment] keyring",
            )
        return None
    if UBUNTU_KEYRING.is_file():
        return UBUNTU_KEYRING
    return fetch_ubuntu_keyring(work, log, as_root=as_root, apt_dir=apt_dir)
