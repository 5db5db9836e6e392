"""Distro knowledge as data: which apt packages give PostgreSQL N + pgvector on which release.

One table, read by the plan loader (to reject impossible combinations) and by the step
compiler (to name packages). Nothing else in devenv knows release names or package names.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCES = ("distro", "pgdg")
# Majors the PostgreSQL apt repository (PGDG) publishes for every release below.
PGDG_MAJORS = (13, 14, 15, 16, 17, 18)


@dataclass(frozen=True, kw_only=True)
class Release:
    distro: str  # "ubuntu" | "debian"
    version: str  # "24.04", "13"
    codename: str  # "noble", "trixie"
    archive_postgres: int  # the PostgreSQL major the distro archive ships
    archive_pgvector: bool  # whether the archive has postgresql-N-pgvector
    python: str  # the release's python3: the lock resolves Python packages for it

    @property
    def label(self) -> str:
        return f"{self.distro.capitalize()} {self.version} ({self.codename})"


def _release(distro: str, version: str, codename: str, pg: int, pgvector: bool, py: str) -> Release:
    return Release(
        distro=distro,
        version=version,
        codename=codename,
        archive_postgres=pg,
        archive_pgvector=pgvector,
        python=py,
    )


# distro, version, codename, archive PostgreSQL, archive has pgvector, python3
RELEASES: tuple[Release, ...] = (
    _release("ubuntu", "22.04", "jammy", 14, False, "3.10"),
    _release("ubuntu", "24.04", "noble", 16, True, "3.12"),
    _release("debian", "12", "bookworm", 15, False, "3.11"),
    _release("debian", "13", "trixie", 17, True, "3.13"),
)


@dataclass(frozen=True, kw_only=True)
class PostgresPackages:
    server: str
    client: str
    dev: str  # headers + libpq for building drivers (psycopg[c], psycopg2)
    extensions: tuple[str, ...]  # apt packages, one per plan extension
    needs_pgdg_repo: bool


# Plan extension name -> apt package, formatted with the PostgreSQL major.
EXTENSION_PACKAGES = {"pgvector": "postgresql-{major}-pgvector"}
# Plan extension name -> the name given to CREATE EXTENSION.
EXTENSION_SQL_NAMES = {"pgvector": "vector"}


def find_release(distro: str, tag: str) -> Release | None:
    """Match an image tag ('24.04', 'noble', 'trixie-slim', '13.1') to a release."""
    for release in RELEASES:
        if release.distro != distro:
            continue
        stem = tag.split("-", 1)[0]
        if stem in (release.version, release.codename) or stem.startswith(release.version + "."):
            return release
    return None


def available(release: Release, source: str) -> tuple[int, ...]:
    """PostgreSQL majors with pgvector that `source` offers on `release`."""
    if source == "pgdg":
        return PGDG_MAJORS
    return (release.archive_postgres,) if release.archive_pgvector else ()


def postgres_packages(
    release: Release, major: int, source: str, extensions: tuple[str, ...]
) -> PostgresPackages:
    """Apt packages for PostgreSQL `major` on `release`; ValueError says what would work."""
    offered = available(release, source)
    if major not in offered:
        raise ValueError(_impossible(release, major, source))
    return PostgresPackages(
        server=f"postgresql-{major}",
        client=f"postgresql-client-{major}",
        dev="libpq-dev",
        extensions=tuple(EXTENSION_PACKAGES[e].format(major=major) for e in extensions),
        needs_pgdg_repo=source == "pgdg",
    )


def _impossible(release: Release, major: int, source: str) -> str:
    pgdg = f'source = "pgdg" for {", ".join(map(str, PGDG_MAJORS))}'
    if source == "distro" and release.archive_pgvector:
        return (
            f"{release.label} cannot provide PostgreSQL {major} with pgvector from the distro "
            f'archive; use version = {release.archive_postgres} with source = "distro", or {pgdg}'
        )
    if source == "distro":
        return (
            f"{release.label} has no PostgreSQL with pgvector in its archive (it ships "
            f"PostgreSQL {release.archive_postgres} without pgvector); use {pgdg}"
        )
    return (
        f"the PostgreSQL apt repository has no PostgreSQL {major}; "
        f"use one of {', '.join(map(str, PGDG_MAJORS))}"
    )


def supported_bases() -> str:
    return ", ".join(f"{r.distro}:{r.version}" for r in RELEASES)
