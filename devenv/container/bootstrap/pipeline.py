"""Bootstrapping a base image: ``debootstrap --variant=minbase`` into a temporary directory
(with the release's archive keyring, fetched when the host lacks it), the official images' apt
sources (every component, -updates and -security) and apt settings (no caches kept in layers),
no apt lists, then ``tar -c`` of the root filesystem streamed into the engine's image import,
labelled ``dev.devenv.bootstrapped=true``, ``CMD ["bash"]``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from devenv.container.bootstrap.apt_sources import host_apt_sources, mirror_from_host
from devenv.container.bootstrap.debootstrap import (
    debootstrap_command,
    debootstrap_dir_with,
    debootstrap_script,
    log_tail,
)
from devenv.container.bootstrap.image import (
    configure_rootfs,
    import_rootfs,
    second_stage_in_container,
    strip_rootfs,
)
from devenv.container.bootstrap.keyring import keyring_for
from devenv.container.bootstrap.privilege import privilege_for
from devenv.container.bootstrap.process import BootstrapError, Log, run_logged
from devenv.container.bootstrap.rootfs import debootstrap_mirror, sources_for
from devenv.container.bootstrap.workdir import remove_workdir
from devenv.container.engine import Engine
from devenv.render.labels import (
    LABEL_BOOTSTRAPPED,
    LABEL_DISTRO,
    LABEL_LAYOUT,
    LABEL_MIRROR,
    LABEL_SUITE,
    LABEL_VARIANT,
)

#: Where the temporary root filesystem is made (on disk, not tmpfs: it is a few hundred MB).
WORK_ROOT = Path("/var/tmp")  # noqa: S108 - only a parent for mkdtemp()
VARIANT = "minbase"
#: What a bootstrapped base holds (its LABEL_LAYOUT); a base labelled with an older one is made
#: again. 2: the official images' sources (updates, security) and apt settings.
LAYOUT = "2"


def bootstrap_image(
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
    scripts, stand_in = debootstrap_script(codename, distro)
    used_mirror = mirror if mirror is not None else mirror_from_host(distro, apt_dir)
    where = "debootstrap's default mirror" if used_mirror is None else used_mirror
    workdir = _make_workdir(work_root)
    prefix: list[str] = []
    try:
        privilege = privilege_for(workdir)
        prefix = list(privilege.prefix)
        keyring_path = keyring_for(
            distro, keyring, workdir / "keyring", log, as_root=not prefix, apt_dir=apt_dir
        )
        log(f"bootstrapping {ref} from {distro} {codename} ({VARIANT}, {where})")
        rootfs = workdir / "rootfs"
        env_prefix = _stand_in_env(workdir, scripts, codename, stand_in, log)
        command = _debootstrap_and_options(keyring_path, foreign=privilege.in_container)
        argv = [*prefix, *env_prefix, *command, codename, str(rootfs)]
        argv += [] if used_mirror is None else [used_mirror]
        _run_debootstrap(argv, rootfs, f"{distro} {codename}", where, log)
        archive = _archive_of(rootfs, used_mirror)
        sources = sources_for(distro, codename, archive, host_apt_sources(apt_dir))
        configure_rootfs(rootfs, workdir / "files", sources, prefix, log)
        labels = _base_labels(distro, codename, archive)
        image_id = _image_from_rootfs(
            engine, rootfs, ref, labels, prefix, log, in_container=privilege.in_container
        )
    finally:
        remove_workdir(workdir, prefix, log)
    return image_id, used_mirror


def _make_workdir(work_root: Path) -> Path:
    """A new temporary folder under ``work_root`` for the root filesystem."""
    try:
        return Path(tempfile.mkdtemp(prefix="devenv-base-", dir=work_root))
    except OSError as exc:
        raise BootstrapError(
            f"cannot create a temporary directory under {work_root}: {exc.strerror}",
            hint=f"make {work_root} writable, with ~500 MB free",
        ) from exc


def _stand_in_env(
    workdir: Path, scripts: Path, codename: str, stand_in: Path | None, log: Log
) -> list[str]:
    """The ``env`` prefix that points debootstrap at a stand-in script for a release newer
    than it knows; none when it knows the release."""
    if stand_in is None:
        return []
    overlay = debootstrap_dir_with(workdir, scripts, codename, stand_in)
    log(f"this debootstrap predates {codename}: using its {stand_in.name} script")
    return ["env", f"DEBOOTSTRAP_DIR={overlay}"]


def _debootstrap_and_options(keyring_path: Path | None, *, foreign: bool) -> list[str]:
    """debootstrap and its options, up to the release, target and mirror."""
    debootstrap = debootstrap_command() or "debootstrap"
    command = [debootstrap, f"--variant={VARIANT}"]
    if foreign:
        command.append("--foreign")  # unpack only; the second stage runs in a container
    if keyring_path is not None:
        command.append(f"--keyring={keyring_path}")
    return command


def _run_debootstrap(argv: list[str], rootfs: Path, release: str, where: str, log: Log) -> None:
    """Runs ``argv``; on failure shows the end of debootstrap's own log and raises."""
    code = run_logged(argv, log)
    if code != 0:
        log_tail(rootfs / "debootstrap" / "debootstrap.log", log)
        raise BootstrapError(
            f"debootstrap of {release} from {where} failed with exit code {code}",
            hint="see its output above; check the mirror answers, or set another mirror "
            "for the base image in the plan",
        )


def _archive_of(rootfs: Path, used_mirror: str | None) -> str:
    """The archive the new root filesystem installs from (what debootstrap wrote, else the
    mirror it was given)."""
    archive = debootstrap_mirror(rootfs) or used_mirror
    if archive is None:
        raise BootstrapError(
            f"debootstrap left no archive in {rootfs}/etc/apt/sources.list",
            hint="set [environment] mirror in the plan",
        )
    return archive


def _base_labels(distro: str, codename: str, archive: str) -> dict[str, str]:
    """The labels a bootstrapped base carries."""
    return {
        LABEL_BOOTSTRAPPED: "true",
        LABEL_DISTRO: distro,
        LABEL_SUITE: codename,
        LABEL_VARIANT: VARIANT,
        LABEL_LAYOUT: LAYOUT,
        LABEL_MIRROR: archive,
    }


def _image_from_rootfs(
    engine: Engine,
    rootfs: Path,
    ref: str,
    labels: dict[str, str],
    prefix: list[str],
    log: Log,
    *,
    in_container: bool,
) -> str:
    """The root filesystem imported as ``ref``: debootstrap's second stage run in a container
    when it was only unpacked, else stripped and imported as it is."""
    if in_container:
        return second_stage_in_container(engine, rootfs, ref, labels, prefix, log)
    strip_rootfs(rootfs, prefix, log)
    return import_rootfs(engine, rootfs, ref, labels, prefix, log)
