"""The plan's [postgres] init folders: where the db container sees them, and what runs.

One order on every path: the folders in the plan's order; in each, its files (not its
sub-folders, not dot-files) in byte order of their names, which is what the entrypoint's glob
gives under LC_ALL=C. The container mounts folder N at /docker-entrypoint-initdb.d/NN-NAME,
so the folders keep the plan's order there too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devenv.fs import safety
from devenv.plan.model import Plan

DB_INIT_DIR = "/docker-entrypoint-initdb.d"  # the official image's entrypoint runs what is here


@dataclass(frozen=True, kw_only=True)
class InitMount:
    source: str  # project-relative folder
    target: str  # where the db container sees it


@dataclass(frozen=True, kw_only=True)
class InitFile:
    host: Path
    container: str


def mounts(plan: Plan) -> tuple[InitMount, ...]:
    return tuple(
        InitMount(source=folder, target=f"{DB_INIT_DIR}/{n:02d}-{folder.replace('/', '-')}")
        for n, folder in enumerate(plan.postgres.init, start=1)
    )


def files(plan: Plan) -> tuple[InitFile, ...]:
    """Every file the entrypoint will be given, in the order it runs them."""
    found: list[InitFile] = []
    for mount in mounts(plan):
        folder = plan.project_dir / mount.source
        names = safety.files_in(plan.project_dir, mount.source, what="[postgres] init folder")
        found += [InitFile(host=folder / n, container=f"{mount.target}/{n}") for n in names]
    return tuple(found)
