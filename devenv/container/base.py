"""The base image (e.g. ``ubuntu:24.04``): pulled where a registry answers, else made locally.

Bootstrapping is ``debootstrap --variant=minbase`` into a temporary directory (with the
release's archive keyring, fetched when the host lacks it), the official images' apt sources
(every component, -updates and -security) and apt settings (no caches kept in layers), no apt
lists, then ``tar -c`` of the root filesystem streamed into the engine's image import, tagged
with every name of the release, labelled ``dev.devenv.bootstrapped=true``, ``CMD ["bash"]``.
"""

from __future__ import annotations

import enum
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devenv.container.bootstrap.apt_sources import APT_DIR as APT_DIR
from devenv.container.bootstrap.apt_sources import AptSource as AptSource
from devenv.container.bootstrap.apt_sources import host_apt_sources as host_apt_sources
from devenv.container.bootstrap.apt_sources import is_mirror_for as is_mirror_for
from devenv.container.bootstrap.apt_sources import mirror_from_host as mirror_from_host
from devenv.container.bootstrap.keyring import keyring_for
from devenv.container.bootstrap.rootfs import Sources, debootstrap_mirror, files_for, sources_for
from devenv.container.engine import Engine, split_ref
from devenv.container.labels import LABEL_PREFIX
from devenv.errors import DevenvError, EngineError, PlanError
from devenv.plan.model import Plan
from devenv.support.process import stop_process

Log = Callable[[str], None]

#: Where the temporary root filesystem is made (on disk, not tmpfs: it is a few hundred MB).
WORK_ROOT = Path("/var/tmp")  # noqa: S108 - only a parent for mkdtemp()
VARIANT = "minbase"
SUPPORTED_DISTROS = ("debian", "ubuntu")

LABEL_BOOTSTRAPPED = f"{LABEL_PREFIX}bootstrapped"
LABEL_DISTRO = f"{LABEL_PREFIX}bootstrap.distro"
LABEL_SUITE = f"{LABEL_PREFIX}bootstrap.suite"
LABEL_VARIANT = f"{LABEL_PREFIX}bootstrap.variant"
LABEL_MIRROR = f"{LABEL_PREFIX}bootstrap.mirror"
#: What a bootstrapped base holds; a base labelled with an older layout is made again.
LABEL_LAYOUT = f"{LABEL_PREFIX}bootstrap.layout"
LAYOUT = "2"  # 2: the official images' sources (updates, security) and apt settings
#: A pull where no registry answers fails at once here; a hanging one is cut off (seconds).
PULL_TIMEOUT = 20.0

_CODENAME = re.compile(r"^[a-z][a-z0-9-]*$")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_MIRROR_SCHEMES = ("http", "https", "file")


class BootstrapError(DevenvError):
    """The base image could not be made here (tool missing, debootstrap or tar failed)."""


@dataclass(frozen=True)
class BaseResult:
    ref: str
    image_id: str
    #: "present", "pulled" or "bootstrapped"
    how: str
    #: The mirror this call passed to debootstrap; None if it used debootstrap's default or
    #: did not bootstrap.
    mirror: str | None
    seconds: float

    @property
    def bootstrapped(self) -> bool:
        """True if this call made the image; False if it existed or was pulled."""
        return self.how == "bootstrapped"


# -- subprocesses ----------------------------------------------------------------------------


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        stop_process(proc)


#: No bootstrap command may hang forever: debootstrap of a release takes about a minute here.
RUN_TIMEOUT = 1800.0


def _run(argv: Sequence[str], log: Log, timeout: float = RUN_TIMEOUT) -> int:
    """Run ``argv`` with its output shown live; stop it if we are interrupted or it outlives
    ``timeout`` seconds (then BootstrapError)."""
    log("+ " + shlex.join(argv))
    # Their live output is progress, like our log lines: stderr, keeping stdout for the result.
    try:
        progress: int | None = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        progress = None
    proc = subprocess.Popen(list(argv), stdout=progress)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise BootstrapError(
            f"a bootstrap step did not finish within {timeout:.0f}s: {shlex.join(argv)[:200]}",
            hint="check the network to the mirror and free space, then run `devenv base` again",
        ) from None
    except BaseException:
        _stop(proc)
        raise


@dataclass(frozen=True)
class Privilege:
    """How debootstrap gets root: as root, through ``sudo -n``, or faked (fakeroot) by a user
    who only reaches the engine (the docker group): debootstrap's first stage then unpacks
    the packages here and its second stage configures them in a container."""

    prefix: tuple[str, ...]
    in_container: bool = False


def _sudo_works() -> bool:
    if shutil.which("sudo") is None:
        return False
    try:
        done = subprocess.run(["sudo", "-n", "true"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _privilege(workdir: Path) -> Privilege:
    if os.geteuid() == 0:
        return Privilege(prefix=())
    if _sudo_works():
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


def debootstrap_command() -> str | None:
    """debootstrap lives in /usr/sbin, which is not on an ordinary user's PATH on Debian."""
    found = shutil.which("debootstrap")
    if found is None and Path("/usr/sbin/debootstrap").is_file():
        found = "/usr/sbin/debootstrap"
    return found


def _debootstrap_script(codename: str, distro: str = "debian") -> tuple[Path, Path | None]:
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


def _log_tail(path: Path, log: Log, lines: int = 15) -> None:
    try:
        tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return
    log(f"last lines of {path}:")
    for line in tail:
        log(f"  {line}")


# -- the entry point -------------------------------------------------------------------------


class BaseSource(str, enum.Enum):
    """Where a missing base image comes from."""

    AUTO = "auto"  # a short, bounded pull; bootstrap when no registry answers
    PULL = "pull"  # a registry only
    BOOTSTRAP = "bootstrap"  # debootstrap only (air-gapped machines: no pull is tried)


def alias_refs(ref: str, distro: str, version: str, codename: str) -> tuple[str, ...]:
    """``ref`` and the other names of the same release image: ``debian:13`` is
    ``debian:trixie``, ``ubuntu:24.04`` is ``ubuntu:noble`` (one image, both tags)."""
    repository, tag = split_ref(ref)
    if repository != distro or tag not in (version, codename):
        return (ref,)
    return (ref, *(f"{distro}:{t}" for t in (version, codename) if t and t != tag))


def _current(engine: Engine, refs: tuple[str, ...], log: Log) -> dict[str, Any] | None:
    """The first of ``refs`` the engine has, unless devenv bootstrapped it with an older
    layout (no updates/security sources): that one is made again."""
    for ref in refs:
        info = engine.inspect_image(ref)
        if info is None:
            continue
        labels = (info.get("Config") or {}).get("Labels") or {}
        if labels.get(LABEL_BOOTSTRAPPED) == "true" and labels.get(LABEL_LAYOUT) != LAYOUT:
            log(
                f"{ref} was bootstrapped by an older devenv (no updates/security sources); "
                "bootstrapping it again"
            )
            return None
        return info
    return None


def _tag_all(engine: Engine, image_id: str, refs: tuple[str, ...], log: Log) -> None:
    for ref in refs:
        if engine.tag_image(image_id, ref):
            log(f"tagged {image_id[:19]} as {ref}")


def ensure_base(
    engine: Engine,
    ref: str,
    distro: str,
    codename: str,
    *,
    mirror: str | None,
    keyring: Path | None,
    force: bool,
    log: Log,
    version: str = "",
    source: BaseSource = BaseSource.AUTO,
    pull_timeout: float = PULL_TIMEOUT,
    apt_dir: Path = APT_DIR,
    work_root: Path = WORK_ROOT,
) -> BaseResult:
    """Make sure image ``ref`` exists on ``engine``. A missing one is pulled (``AUTO``: one
    short, bounded try) or bootstrapped from ``distro``/``codename``. ``mirror`` (from the
    plan) wins over a matching mirror from the host's apt configuration, which wins over
    debootstrap's default. The image gets every alias tag of its release."""
    started = time.monotonic()
    _check_request(ref, distro, codename, mirror)
    refs = alias_refs(ref, distro, version, codename)

    def done(image_id: str, how: str, used_mirror: str | None = None) -> BaseResult:
        _tag_all(engine, image_id, refs, log)
        return BaseResult(
            ref=ref,
            image_id=image_id,
            how=how,
            mirror=used_mirror,
            seconds=time.monotonic() - started,
        )

    old = None if force else _current(engine, refs, log)
    if old is not None:
        log(f"base image {ref} exists ({str(old['Id'])[:19]}); not bootstrapping")
        return done(str(old["Id"]), "present")
    if source is not BaseSource.BOOTSTRAP:
        log(f"trying to pull {ref} (for at most {pull_timeout:g}s)")
        error = engine.pull_image(ref, timeout=pull_timeout)
        if error is None:
            log(f"pulled {ref}")
            return done(engine.image_id(ref), "pulled")
        if source is BaseSource.PULL:
            raise BootstrapError(
                f"pulling the base image {ref} failed: {error}",
                hint="check the registry and your `docker login`, or run `devenv base "
                "--bootstrap` to make it locally",
            )
        log(f"no registry answered for {ref} ({error}); bootstrapping it instead")
    previous = engine.inspect_image(ref)
    image_id, used_mirror = _bootstrap(
        engine, ref, distro, codename, mirror, keyring, log, apt_dir, work_root
    )
    if previous is not None and str(previous["Id"]) != image_id:
        try:
            if engine.remove_image(str(previous["Id"])):
                log(f"removed the previous {ref} image {str(previous['Id'])[:19]}")
        except EngineError as exc:
            log(f"kept the previous {ref} image {str(previous['Id'])[:19]}: {exc.message}")
    result = done(image_id, "bootstrapped", used_mirror)
    log(f"bootstrapped {ref} ({image_id[:19]}) in {result.seconds:.1f}s")
    return result


def _bootstrap(
    engine: Engine,
    ref: str,
    distro: str,
    codename: str,
    mirror: str | None,
    keyring: Path | None,
    log: Log,
    apt_dir: Path,
    work_root: Path,
) -> tuple[str, str | None]:
    """debootstrap into a temporary folder, give it the official images' apt sources and
    settings, import it as ``ref``. Returns (image id, the mirror passed to debootstrap)."""
    scripts, stand_in = _debootstrap_script(codename, distro)
    used_mirror = mirror if mirror is not None else mirror_from_host(distro, apt_dir)
    where = "debootstrap's default mirror" if used_mirror is None else used_mirror
    try:
        workdir = Path(tempfile.mkdtemp(prefix="devenv-base-", dir=work_root))
    except OSError as exc:
        raise BootstrapError(
            f"cannot create a temporary directory under {work_root}: {exc.strerror}",
            hint=f"make {work_root} writable, with ~500 MB free",
        ) from exc
    prefix: list[str] = []
    try:
        privilege = _privilege(workdir)
        prefix = list(privilege.prefix)
        keyring_path = keyring_for(
            distro, keyring, workdir / "keyring", log, as_root=not prefix, apt_dir=apt_dir
        )
        log(f"bootstrapping {ref} from {distro} {codename} ({VARIANT}, {where})")
        rootfs = workdir / "rootfs"
        env_prefix: list[str] = []
        if stand_in is not None:
            overlay = _debootstrap_dir_with(workdir, scripts, codename, stand_in)
            log(f"this debootstrap predates {codename}: using its {stand_in.name} script")
            env_prefix = ["env", f"DEBOOTSTRAP_DIR={overlay}"]
        debootstrap = debootstrap_command() or "debootstrap"
        argv = [*prefix, *env_prefix, debootstrap, f"--variant={VARIANT}"]
        if privilege.in_container:
            argv.append("--foreign")  # unpack only; the second stage runs in a container
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
        archive = debootstrap_mirror(rootfs) or used_mirror
        if archive is None:
            raise BootstrapError(
                f"debootstrap left no archive in {rootfs}/etc/apt/sources.list",
                hint="set [environment] mirror in the plan",
            )
        sources = sources_for(distro, codename, archive, host_apt_sources(apt_dir))
        _configure_rootfs(rootfs, workdir / "files", sources, prefix, log)
        labels = {
            LABEL_BOOTSTRAPPED: "true",
            LABEL_DISTRO: distro,
            LABEL_SUITE: codename,
            LABEL_VARIANT: VARIANT,
            LABEL_LAYOUT: LAYOUT,
            LABEL_MIRROR: archive,
        }
        if privilege.in_container:
            image_id = _second_stage_in_container(engine, rootfs, ref, labels, prefix, log)
        else:
            _strip_rootfs(rootfs, prefix, log)
            image_id = _import_rootfs(engine, rootfs, ref, labels, prefix, log)
    finally:
        _cleanup(workdir, prefix, log)
    return image_id, used_mirror


#: What a base keeps none of, as the official images: (folder, `find` tests) of files to
#: delete — the apt lists (~90 MB, stale by the time the image is used), apt's binary caches and
#: the .deb files debootstrap downloaded. Images run `apt-get update` before installing.
STRIPPED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("var/lib/apt/lists", ("-mindepth", "1", "-type", "f", "!", "-name", "lock")),
    ("var/cache/apt", ("-maxdepth", "1", "-type", "f", "-name", "*.bin")),
    ("var/cache/apt/archives", ("-type", "f", "-name", "*.deb")),
)

#: Run in the first stage's image: configure the packages, then drop what STRIPPED names. A
#: fixed script, no value of the plan's in it.
SECOND_STAGE = " && ".join(
    [
        "/debootstrap/debootstrap --second-stage",
        *(shlex.join(["find", f"/{folder}", *tests, "-delete"]) for folder, tests in STRIPPED),
    ]
)


def _second_stage_in_container(
    engine: Engine,
    rootfs: Path,
    ref: str,
    labels: dict[str, str],
    prefix: list[str],
    log: Log,
) -> str:
    """Import the first stage, run the second in a container of it, commit that as ``ref``."""
    stage = f"devenv-bootstrap/{ref.replace(':', '-').replace('/', '-')}:first-stage"
    _import_rootfs(engine, rootfs, stage, {LABEL_BOOTSTRAPPED: "first-stage"}, prefix, log)
    log(f"+ (in a container of {stage}) {SECOND_STAGE}")
    try:
        return engine.commit_run(
            stage, ["sh", "-c", SECOND_STAGE], ref, labels=labels, log=log, timeout=RUN_TIMEOUT
        )
    except EngineError as exc:
        raise BootstrapError(
            f"debootstrap's second stage for {ref} failed: {exc.message}",
            hint="see its output above",
        ) from exc
    finally:
        try:
            engine.remove_image(stage)
        except EngineError as exc:
            log(f"could not remove {stage}: {exc.message}")


def _configure_rootfs(
    rootfs: Path, staging: Path, sources: Sources, prefix: list[str], log: Log
) -> None:
    """Write the official images' apt sources and settings into the (root-owned) rootfs."""
    staging.mkdir(parents=True)
    for index, (relative, mode, content) in enumerate(files_for(sources)):
        staged = staging / str(index)
        staged.write_text(content, encoding="utf-8")
        target = rootfs / relative
        argv = [*prefix, "install", "-D", "-m", f"{mode:o}", str(staged), str(target)]
        if _run(argv, log) != 0:
            raise BootstrapError(
                f"could not write {relative} into the bootstrapped root filesystem",
                hint="see the install error above",
            )
    log(
        f"apt sources: {sources.mirror} {' '.join(sources.suites)} and "
        f"{sources.security} {sources.codename}-security"
    )
    # The host's resolver settings are not the image's: the engine provides them at run time.
    _run([*prefix, "rm", "-f", str(rootfs / "etc" / "resolv.conf")], log)


def _strip_rootfs(rootfs: Path, prefix: list[str], log: Log) -> None:
    """Delete what STRIPPED names from the (root-owned) rootfs."""
    for folder, tests in STRIPPED:
        if _run([*prefix, "find", str(rootfs / folder), *tests, "-delete"], log) != 0:
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
    engine: Engine,
    plan: Plan,
    *,
    log: Log,
    force: bool = False,
    source: BaseSource = BaseSource.AUTO,
) -> BaseResult:
    """ensure_base for the plan's base image, from the plan's mirror (or the host's) and the
    plan's keyring (or the host's, or one fetched)."""
    release = plan.environment.release
    return ensure_base(
        engine,
        plan.environment.base,
        release.distro,
        release.codename,
        version=release.version,
        mirror=plan.environment.mirror,
        keyring=plan.environment.keyring,
        force=force,
        log=log,
        source=source,
    )
