"""Make the base image (e.g. ``debian:trixie``) locally when no registry can be pulled from.

``debootstrap --variant=minbase`` into a temporary directory, drop the apt lists and caches,
and stream ``tar -c`` of the root filesystem into the engine's image import, tagged with the
plan's base reference, labelled ``dev.devenv.bootstrapped=true`` and with ``CMD ["bash"]``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from devenv.engine import LABEL_PREFIX, Engine, split_ref
from devenv.errors import DevenvError, EngineError, PlanError
from devenv.plan import Plan
from devenv.process import stop_process

Log = Callable[[str], None]

#: The host's apt configuration, read for a mirror of the distro being bootstrapped.
APT_DIR = Path("/etc/apt")
#: Where the temporary root filesystem is made (on disk, not tmpfs: it is a few hundred MB).
WORK_ROOT = Path("/var/tmp")  # noqa: S108 - only a parent for mkdtemp()
UBUNTU_KEYRING = Path("/usr/share/keyrings/ubuntu-archive-keyring.gpg")
VARIANT = "minbase"
SUPPORTED_DISTROS = ("debian", "ubuntu")

LABEL_BOOTSTRAPPED = f"{LABEL_PREFIX}bootstrapped"
LABEL_DISTRO = f"{LABEL_PREFIX}bootstrap.distro"
LABEL_SUITE = f"{LABEL_PREFIX}bootstrap.suite"
LABEL_VARIANT = f"{LABEL_PREFIX}bootstrap.variant"
LABEL_MIRROR = f"{LABEL_PREFIX}bootstrap.mirror"

_CODENAME = re.compile(r"^[a-z][a-z0-9-]*$")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_MIRROR_SCHEMES = ("http", "https", "file")


class BootstrapError(DevenvError):
    """The base image could not be made here (tool missing, debootstrap or tar failed)."""


@dataclass(frozen=True)
class BaseResult:
    ref: str
    image_id: str
    #: True if this call made the image; False if it existed (or was pulled).
    bootstrapped: bool
    #: The mirror this call passed to debootstrap; None if it used debootstrap's default or
    #: did not bootstrap.
    mirror: str | None
    seconds: float


# -- the host's apt sources ------------------------------------------------------------------


@dataclass(frozen=True)
class AptSource:
    """One binary (``deb``) archive URI from the host's apt configuration."""

    uri: str
    suites: tuple[str, ...]
    file: Path


def _one_line_sources(path: Path) -> list[AptSource]:
    found: list[AptSource] = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        words = line.split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):
            # Options: "[arch=amd64 signed-by=...]" or "[ arch=amd64 ]", possibly spaced.
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            found.append(AptSource(uri=words[0], suites=(words[1],), file=path))
    return found


def _deb822_sources(path: Path) -> list[AptSource]:
    found: list[AptSource] = []
    text = path.read_text(encoding="utf-8", errors="replace")
    for paragraph in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        key: str | None = None
        for raw in paragraph.splitlines():
            if raw.startswith("#") or not raw.strip():
                continue
            if raw[0] in " \t" and key is not None:
                fields[key] += " " + raw.strip()
                continue
            name, sep, value = raw.partition(":")
            if not sep:
                continue
            key = name.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").strip().lower() in {"no", "false", "0"}:
            continue
        suites = tuple(fields.get("suites", "").split())
        found.extend(
            AptSource(uri=u, suites=suites, file=path) for u in fields.get("uris", "").split()
        )
    return found


def host_apt_sources(apt_dir: Path = APT_DIR) -> tuple[AptSource, ...]:
    """All ``deb`` entries of ``apt_dir``'s ``sources.list`` and ``sources.list.d/*.list`` /
    ``*.sources`` (deb822), in the order apt reads them. Unreadable files are skipped."""
    files: list[Path] = [apt_dir / "sources.list"]
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in {".list", ".sources"})
    found: list[AptSource] = []
    for path in files:
        try:
            if not path.is_file():
                continue
            if path.suffix == ".sources":
                found += _deb822_sources(path)
            else:
                found += _one_line_sources(path)
        except OSError:
            continue
    return tuple(found)


def is_mirror_for(distro: str, source: AptSource) -> bool:
    """Whether ``source`` is a main archive of ``distro``: an http(s) URI whose path ends with
    ``/<distro>`` (so not ``/debian-security`` or ``/ubuntu-ports``), not a security archive."""
    parts = urlsplit(source.uri)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return False
    if not parts.path.rstrip("/").endswith(f"/{distro}"):
        return False
    if parts.hostname.startswith("security."):
        return False
    return not (source.suites and all(s.endswith("-security") for s in source.suites))


def mirror_from_host(distro: str, apt_dir: Path = APT_DIR) -> str | None:
    """The first URI of the host's apt configuration that is a main archive of ``distro``,
    without a trailing slash; None if there is none (debootstrap then uses its default)."""
    for source in host_apt_sources(apt_dir):
        if is_mirror_for(distro, source):
            return source.uri.rstrip("/")
    return None


# -- subprocesses ----------------------------------------------------------------------------


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        stop_process(proc)


def _run(argv: Sequence[str], log: Log) -> int:
    """Run ``argv`` with inherited stdout/stderr (live output); stop it if we are interrupted."""
    log("+ " + shlex.join(argv))
    proc = subprocess.Popen(list(argv))
    try:
        return proc.wait()
    except BaseException:
        _stop(proc)
        raise


def _root_prefix() -> list[str]:
    """debootstrap, and reading/removing what it made, needs root: nothing, or ``sudo -n``."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        return ["sudo", "-n"]
    raise BootstrapError(
        "bootstrapping a base image needs root (debootstrap), and this user is not root and "
        "has no sudo",
        hint="run as root, or install sudo with passwordless access for this user",
    )


def _unescape_mount(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def _mounts_under(directory: Path) -> list[str]:
    try:
        lines = Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    top = str(directory)
    points = [_unescape_mount(line.split()[1]) for line in lines if len(line.split()) > 1]
    return [p for p in points if p == top or p.startswith(top + "/")]


def _cleanup(workdir: Path, prefix: list[str], log: Log) -> None:
    """Remove the temporary directory; unmount what debootstrap may have left mounted first,
    and never cross into another file system."""
    for point in sorted(_mounts_under(workdir), key=len, reverse=True):
        _run([*prefix, "umount", "--lazy", point], log)
    left = _mounts_under(workdir)
    if left:
        log(f"warning: not removing {workdir}: still mounted: {', '.join(left)}")
        return
    if _run([*prefix, "rm", "-rf", "--one-file-system", "--", str(workdir)], log) != 0:
        log(f"warning: could not remove {workdir}; remove it by hand")


# -- checks ----------------------------------------------------------------------------------


def _check_request(ref: str, distro: str, codename: str, mirror: str | None) -> None:
    try:
        split_ref(ref)
    except EngineError as exc:
        raise PlanError(exc.message, hint=exc.hint) from exc
    if distro not in SUPPORTED_DISTROS:
        raise PlanError(
            f"cannot bootstrap a base image for distro {distro!r}",
            hint=f"use one of: {', '.join(SUPPORTED_DISTROS)}",
        )
    if not _CODENAME.match(codename):
        raise PlanError(
            f"invalid release codename {codename!r} for the base image",
            hint="use a lowercase codename such as trixie, bookworm or noble",
        )
    if mirror is not None and (
        _CONTROL.search(mirror) or urlsplit(mirror).scheme not in _MIRROR_SCHEMES
    ):
        raise PlanError(
            f"invalid base image mirror {mirror!r}",
            hint="use an http://, https:// or file:// URL of the archive, without spaces",
        )


# Every Ubuntu release since 7.10 uses debootstrap's `gutsy` script: an older debootstrap
# (Debian 12's has no `noble`) can still bootstrap a newer Ubuntu through it.
UBUNTU_SCRIPT = "gutsy"


def _debootstrap_script(codename: str, distro: str = "debian") -> tuple[Path, Path | None]:
    """Check debootstrap is installed and can bootstrap ``codename``. Returns its scripts
    folder and, for an Ubuntu release this debootstrap predates, the script to use instead."""
    if shutil.which("debootstrap") is None:
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


def _debootstrap_dir_with(workdir: Path, scripts: Path, codename: str, script: Path) -> Path:
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


def _keyring_for(distro: str, keyring: str | None) -> str | None:
    if keyring is not None:
        if not Path(keyring).is_file():
            raise BootstrapError(
                f"the keyring {keyring} given for the {distro} base image does not exist",
                hint="fix the keyring path in the plan, or leave it out to use the default",
            )
        return keyring
    if distro == "ubuntu":
        if not UBUNTU_KEYRING.is_file():
            raise BootstrapError(
                f"cannot verify the Ubuntu archive: {UBUNTU_KEYRING} is missing",
                hint="install the 'ubuntu-archive-keyring' package "
                "(Debian 13 ships it: apt-get install -y ubuntu-archive-keyring)",
            )
        return str(UBUNTU_KEYRING)
    return None


def _log_tail(path: Path, log: Log, lines: int = 15) -> None:
    try:
        tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return
    log(f"last lines of {path}:")
    for line in tail:
        log(f"  {line}")


# -- the entry point -------------------------------------------------------------------------


def ensure_base(
    engine: Engine,
    ref: str,
    distro: str,
    codename: str,
    *,
    mirror: str | None,
    keyring: str | None,
    force: bool,
    log: Log,
    try_pull: bool = False,
    pull_timeout: float = 20.0,
    apt_dir: Path = APT_DIR,
    work_root: Path = WORK_ROOT,
) -> BaseResult:
    """Make sure image ``ref`` exists on ``engine``; bootstrap it from ``distro``/``codename``
    if it is missing (or ``force``). ``mirror`` (from the plan) wins over a matching mirror
    from the host's apt configuration, which wins over debootstrap's default. Pulling is tried
    first only if ``try_pull`` (no registry answers on our machines, and a pull can hang)."""
    started = time.monotonic()
    _check_request(ref, distro, codename, mirror)

    old = engine.inspect_image(ref)
    if old is not None and not force:
        log(f"base image {ref} exists ({str(old['Id'])[:19]}); not bootstrapping")
        return BaseResult(
            ref=ref,
            image_id=str(old["Id"]),
            bootstrapped=False,
            mirror=None,
            seconds=time.monotonic() - started,
        )
    if old is None and try_pull:
        log(f"trying to pull {ref} (for at most {pull_timeout:g}s)")
        error = engine.pull_image(ref, timeout=pull_timeout)
        if error is None:
            return BaseResult(
                ref=ref,
                image_id=engine.image_id(ref),
                bootstrapped=False,
                mirror=None,
                seconds=time.monotonic() - started,
            )
        log(f"pulling {ref} failed ({error}); bootstrapping it instead")

    scripts, stand_in = _debootstrap_script(codename, distro)
    keyring_path = _keyring_for(distro, keyring)
    used_mirror = mirror if mirror is not None else mirror_from_host(distro, apt_dir)
    prefix = _root_prefix()
    labels = {
        LABEL_BOOTSTRAPPED: "true",
        LABEL_DISTRO: distro,
        LABEL_SUITE: codename,
        LABEL_VARIANT: VARIANT,
    }
    if used_mirror is not None:
        labels[LABEL_MIRROR] = used_mirror
    where = "debootstrap's default mirror" if used_mirror is None else used_mirror
    log(f"bootstrapping {ref} from {distro} {codename} ({VARIANT}, {where})")

    try:
        workdir = Path(tempfile.mkdtemp(prefix="devenv-base-", dir=work_root))
    except OSError as exc:
        raise BootstrapError(
            f"cannot create a temporary directory under {work_root}: {exc.strerror}",
            hint=f"make {work_root} writable, with ~500 MB free",
        ) from exc
    try:
        rootfs = workdir / "rootfs"
        env_prefix: list[str] = []
        if stand_in is not None:
            overlay = _debootstrap_dir_with(workdir, scripts, codename, stand_in)
            log(f"this debootstrap predates {codename}: using its {stand_in.name} script")
            env_prefix = ["env", f"DEBOOTSTRAP_DIR={overlay}"]
        argv = [*prefix, *env_prefix, "debootstrap", f"--variant={VARIANT}"]
        if keyring_path is not None:
            argv.append(f"--keyring={keyring_path}")
        argv += [codename, str(rootfs)]
        if used_mirror is not None:
            argv.append(used_mirror)
        code = _run(argv, log)
        if code != 0:
            _log_tail(rootfs / "debootstrap" / "debootstrap.log", log)
            raise BootstrapError(
                f"debootstrap of {distro} {codename} from {where} failed with exit code {code}",
                hint="see its output above; check the mirror answers, or set another mirror "
                "for the base image in the plan",
            )
        _strip_rootfs(rootfs, prefix, log)
        image_id = _import_rootfs(engine, rootfs, ref, labels, prefix, log)
    finally:
        _cleanup(workdir, prefix, log)

    if old is not None and str(old["Id"]) != image_id:
        try:
            if engine.remove_image(str(old["Id"])):
                log(f"removed the previous {ref} image {str(old['Id'])[:19]}")
        except EngineError as exc:
            log(f"kept the previous {ref} image {str(old['Id'])[:19]}: {exc.message}")
    seconds = time.monotonic() - started
    log(f"bootstrapped {ref} ({image_id[:19]}) in {seconds:.1f}s")
    return BaseResult(
        ref=ref, image_id=image_id, bootstrapped=True, mirror=used_mirror, seconds=seconds
    )


def _strip_rootfs(rootfs: Path, prefix: list[str], log: Log) -> None:
    """Drop the apt lists (~90 MB, stale by the time the image is used) and apt's binary
    caches, as the official images do; images run ``apt-get update`` before installing."""
    lists = rootfs / "var" / "lib" / "apt" / "lists"
    cache = rootfs / "var" / "cache" / "apt"
    for argv in (
        [*prefix, "find", str(lists), "-mindepth", "1", "-type", "f", "!", "-name", "lock"],
        [*prefix, "find", str(cache), "-maxdepth", "1", "-type", "f", "-name", "*.bin"],
    ):
        if _run([*argv, "-delete"], log) != 0:
            raise BootstrapError(
                f"could not clean apt files in the bootstrapped root filesystem {rootfs}",
                hint="see the find error above",
            )


def _import_rootfs(
    engine: Engine,
    rootfs: Path,
    ref: str,
    labels: dict[str, str],
    prefix: list[str],
    log: Log,
) -> str:
    """Stream ``tar -c`` of ``rootfs`` into the engine's import (never in memory)."""
    argv = [*prefix, "tar", "--numeric-owner", "-C", str(rootfs), "-c", "."]
    log("+ " + shlex.join(argv) + f" | (import into {engine.where} as {ref})")
    tar = subprocess.Popen(argv, stdout=subprocess.PIPE)
    try:
        if tar.stdout is None:  # pragma: no cover - stdout=PIPE always sets it
            raise BootstrapError("tar has no output pipe")
        with tar.stdout:
            image_id = engine.import_image(tar.stdout, ref, labels=labels)
    except BaseException:
        _stop(tar)
        raise
    code = tar.wait()
    if code >= 2 or code < 0:
        # A truncated tar can still import: do not leave a broken base behind.
        try:
            engine.remove_image(ref)
        except EngineError as exc:
            log(f"could not remove the incomplete image {ref}: {exc.message}")
        raise BootstrapError(
            f"tar of the bootstrapped root filesystem {rootfs} failed with exit code {code}",
            hint="see tar's error above; check free space and that debootstrap finished",
        )
    if code == 1:
        log("warning: tar reported files that changed while being read (exit code 1)")
    return image_id


def ensure_plan_base(
    engine: Engine, plan: Plan, *, log: Log, force: bool = False, try_pull: bool = False
) -> BaseResult:
    """ensure_base for the plan's base image, from the plan's mirror (or the host's)."""
    release = plan.environment.release
    return ensure_base(
        engine,
        plan.environment.base,
        release.distro,
        release.codename,
        mirror=plan.environment.mirror,
        keyring=None,
        force=force,
        log=log,
        try_pull=try_pull,
    )
