"""The base image (e.g. ``ubuntu:24.04``): present, pulled where a registry answers, else
bootstrapped (container/bootstrap/); then tagged with every name of its release.
"""

from __future__ import annotations

import enum
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devenv.container.bootstrap.apt_sources import APT_DIR
from devenv.container.bootstrap.pipeline import LAYOUT, WORK_ROOT, bootstrap_image
from devenv.container.bootstrap.process import BootstrapError, Log
from devenv.container.engine import Engine, split_ref
from devenv.errors import EngineError, PlanError
from devenv.plan.model import Plan
from devenv.render.labels import LABEL_BOOTSTRAPPED, LABEL_LAYOUT

SUPPORTED_DISTROS = ("debian", "ubuntu")
#: A pull where no registry answers fails at once here; a hanging one is cut off (seconds).
PULL_TIMEOUT = 20.0

_CODENAME = re.compile(r"^[a-z][a-z0-9-]*$")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_MIRROR_SCHEMES = ("http", "https", "file")


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
    image_id = None if force else _present_id(engine, ref, refs, log)
    how = "present"
    used_mirror: str | None = None
    if image_id is None and source is not BaseSource.BOOTSTRAP:
        how = "pulled"
        image_id = _pulled_id(engine, ref, source, pull_timeout, log)
    if image_id is None:
        how = "bootstrapped"
        image_id, used_mirror = _bootstrap_replacing(
            engine, ref, distro, codename, mirror, keyring, log, apt_dir, work_root
        )
    _tag_all(engine, image_id, refs, log)
    seconds = time.monotonic() - started
    if how == "bootstrapped":
        log(f"bootstrapped {ref} ({image_id[:19]}) in {seconds:.1f}s")
    return BaseResult(ref=ref, image_id=image_id, how=how, mirror=used_mirror, seconds=seconds)


def _present_id(engine: Engine, ref: str, refs: tuple[str, ...], log: Log) -> str | None:
    """The id of the image the engine has under one of ``refs``, or None (see _current)."""
    old = _current(engine, refs, log)
    if old is None:
        return None
    log(f"base image {ref} exists ({str(old['Id'])[:19]}); not bootstrapping")
    return str(old["Id"])


def _pulled_id(
    engine: Engine, ref: str, source: BaseSource, timeout: float, log: Log
) -> str | None:
    """The id of ``ref`` after one pull bounded by ``timeout``, or None to bootstrap it
    (``AUTO``); under ``PULL`` a failed pull is an error."""
    log(f"trying to pull {ref} (for at most {timeout:g}s)")
    error = engine.pull_image(ref, timeout=timeout)
    if error is None:
        log(f"pulled {ref}")
        return engine.image_id(ref)
    if source is BaseSource.PULL:
        raise BootstrapError(
            f"pulling the base image {ref} failed: {error}",
            hint="check the registry and your `docker login`, or run `devenv base "
            "--bootstrap` to make it locally",
        )
    log(f"no registry answered for {ref} ({error}); bootstrapping it instead")
    return None


def _bootstrap_replacing(
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
    """Bootstrap ``ref`` (its image id and the mirror used), then remove the image the name
    had before, if it was another one."""
    previous = engine.inspect_image(ref)
    image_id, used_mirror = bootstrap_image(
        engine, ref, distro, codename, mirror, keyring, log, apt_dir, work_root
    )
    if previous is not None and str(previous["Id"]) != image_id:
        _remove_previous(engine, ref, str(previous["Id"]), log)
    return image_id, used_mirror


def _remove_previous(engine: Engine, ref: str, previous_id: str, log: Log) -> None:
    """Remove the image ``ref`` named before; one the engine refuses to remove (a container
    uses it) is kept, and the log says why."""
    try:
        if engine.remove_image(previous_id):
            log(f"removed the previous {ref} image {previous_id[:19]}")
    except EngineError as exc:
        log(f"kept the previous {ref} image {previous_id[:19]}: {exc.message}")


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
