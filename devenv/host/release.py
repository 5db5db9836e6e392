"""Which release the host runs, and the plan as it applies to it.

Host mode installs from the host's own archive, so package names and their versions follow the
host's release, not the plan's base. A plan the host's archive cannot provide (Debian 12 has
no PostgreSQL 16 with pgvector) is refused before anything changes, and so is a lock resolved
for another release: apt pins are per release.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from devenv.errors import PlanError
from devenv.plan.model import Plan
from devenv.rules import distro

#: Where the release is read from; DEVENV_OS_RELEASE overrides it (a test's fake machine).
OS_RELEASE = Path("/etc/os-release")
FALLBACK_OS_RELEASE = Path("/usr/lib/os-release")


class HostReleaseError(PlanError):
    """This host's release cannot provide the plan natively."""


@dataclass(frozen=True, kw_only=True)
class HostRelease:
    label: str  # PRETTY_NAME, e.g. "Debian GNU/Linux 12 (bookworm)"
    release: distro.Release | None  # None: not a release in the distro table


def read_os_release(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def detect(path: Path | None = None) -> HostRelease:
    if path is None:
        override = os.environ.get("DEVENV_OS_RELEASE")
        path = Path(override) if override else OS_RELEASE
        if not override and not path.is_file():
            path = FALLBACK_OS_RELEASE
    info = read_os_release(path)
    distro_id, version = info.get("ID", "?"), info.get("VERSION_ID", "")
    codename = info.get("VERSION_CODENAME", "")
    release = distro.find_release(distro_id, version or codename or "?") or (
        distro.find_release(distro_id, codename) if codename else None
    )
    label = info.get("PRETTY_NAME") or f"{distro_id} {version}".strip() or "an unknown system"
    return HostRelease(label=label, release=release)


def _what_would_work(plan: Plan, host: distro.Release) -> str:
    options = []
    if host.archive_pgvector:
        options.append(f'[postgres] version = {host.archive_postgres} with source = "distro"')
    if plan.postgres.version in distro.PGDG_MAJORS:
        options.append('[postgres] source = "pgdg" (the PostgreSQL apt repository)')
    options.append(f"`devenv up` (the {plan.environment.release.label} image)")
    return "use " + ", or ".join(options)


def for_host(plan: Plan, host: HostRelease) -> Plan:
    """The plan with the host's release and package names; HostReleaseError if this host
    cannot provide it (what it is, what the plan needs, what would work)."""
    wanted = plan.environment.release
    pg = plan.postgres
    if host.release is None:
        raise HostReleaseError(
            f"this host is {host.label}, which devenv has no package table for; the plan needs "
            f"PostgreSQL {pg.version} with {', '.join(pg.extensions)} from apt",
            hint=f"use a host running one of {distro.supported_bases()}, or `devenv up` "
            f"(the {wanted.label} image)",
        )
    if host.release == wanted:
        return plan
    try:
        packages = distro.postgres_packages(host.release, pg.version, pg.source, pg.extensions)
    except ValueError:
        source = "its archive" if pg.source == "distro" else "the PostgreSQL apt repository"
        raise HostReleaseError(
            f"this host is {host.release.label}: {source} has no PostgreSQL {pg.version} "
            f"with {', '.join(pg.extensions)}, which the plan needs (it is written for "
            f"{wanted.label})",
            hint=_what_would_work(plan, host.release),
        ) from None
    if plan.lock is not None:
        raise HostReleaseError(
            f"devenv.lock pins apt versions for {wanted.label} (the plan's base); this host is "
            f"{host.release.label}, whose archive has other versions",
            hint=f"run host-install on {wanted.label}, or set [environment] base to "
            f'"{host.release.distro}:{host.release.version}" and run `devenv lock` again',
        )
    return dataclasses.replace(
        plan,
        environment=dataclasses.replace(plan.environment, release=host.release),
        postgres=dataclasses.replace(pg, packages=packages),
    )
