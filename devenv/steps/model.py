"""The words of a recipe: what a step and a command are, the enums every part joins on, the
places only a runner knows, and the paths the images and the files generated agree on.

A step is data: argv lists, never shell strings. The Dockerfile renderer joins a step's
commands into one RUN; the host runner executes the same argv natively. Where the two modes
must differ (paths, apt-list cleanup, the image's user), the difference is a field here, so
parity between modes is something a test can check rather than hope for.
"""

from __future__ import annotations

import dataclasses
import enum
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devenv.plan.model import Plan


class Phase(str, enum.Enum):
    PREREQUISITES = "prerequisites"
    SYSTEM = "system packages"
    PYTHON = "python environment"
    VERIFY = "verification"
    TASKS = "setup tasks"


class Mode(str, enum.Enum):
    CONTAINER = "container"
    HOST = "host"


class Scope(str, enum.Enum):
    DEV = "dev"  # the development environment: the `dev` image, plain host-install
    DB = "db"  # the database: the `db` image, host-install --with-db
    BASE = "base"  # both images (their shared stage) and every host-install


class Kind(str, enum.Enum):
    APT = "apt"  # host runner installs only what dpkg lacks
    PGDG = "pgdg"  # adds the PostgreSQL apt repository
    CA = "ca"  # trust the host's extra CA certificates (container only)
    IMAGE = "image"  # image-only setup: its user, its folders (container only)
    VENV = "venv"
    PIP_BOOTSTRAP = "pip-bootstrap"
    PIP_INSTALL = "pip-install"  # host runner skips it when the requirements stamp matches
    CHECK = "check"  # verification: changes nothing
    DB_CHECK = "db-check"  # needs a running server: `devenv verify`, host-install --with-db
    DB_CLUSTER = "db-cluster"  # host only: a local cluster, role and database (host.db)
    DB_INIT = "db-init"  # host only: [postgres] init on a new database
    TASKS = "tasks"  # [tasks] setup, once the environment is up


class Role(str, enum.Enum):
    """What the host runner may do with a command besides running it as is."""

    RUN = "run"
    APT_UPDATE = "apt-update"  # host: at most once per run, only when a package is missing
    APT_INSTALL = "apt-install"  # host: its trailing `Step.packages` narrowed to what dpkg lacks
    # The local cluster's commands: each runs only when what it makes is missing.
    CREATE_CLUSTER = "create-cluster"
    START_CLUSTER = "start-cluster"
    CREATE_ROLE = "create-role"
    CREATE_DATABASE = "create-database"


class Place(str, enum.Enum):
    """A value only the runner knows. An argument that is a place, or (the venv) starts with
    one, is resolved by the runner: `Step.resolved`."""

    VENV = "{venv}"  # the venv's folder: the host builds each generation in its own
    USER = "{user}"  # the user host-install makes the database role for
    CLUSTER = "{cluster}"  # the local cluster's name, and its port: what pg_lsclusters says
    PORT = "{port}"
    DB_INIT_SCRIPT = "{db-init-script}"  # the init runner, written to a private file


Places = dict[Place, str]


def resolve_arg(arg: str, places: Places) -> str:
    for place, value in places.items():
        if arg == place.value:
            return value
        if place is Place.VENV and arg.startswith(f"{place.value}/"):
            return value + arg[len(place.value) :]
    return arg


BOTH = frozenset({Mode.CONTAINER, Mode.HOST})
CONTAINER_ONLY = frozenset({Mode.CONTAINER})
HOST_ONLY = frozenset({Mode.HOST})


@dataclass(frozen=True, kw_only=True)
class Command:
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    modes: frozenset[Mode] = BOTH
    role: Role = Role.RUN

    def display(self) -> str:
        return shlex.join([f"{k}={v}" for k, v in self.env] + list(self.argv))

    def resolved(self, places: Places) -> Command:
        argv = tuple(resolve_arg(a, places) for a in self.argv)
        return dataclasses.replace(self, argv=argv) if argv != self.argv else self


@dataclass(frozen=True, kw_only=True)
class Step:
    id: str
    phase: Phase
    title: str
    kind: Kind
    scope: Scope
    commands: tuple[Command, ...]
    root: bool  # runs as root (the host runner adds `sudo -n` when not root)
    packages: tuple[str, ...] = ()  # apt steps: what the host checks with dpkg first
    copies: tuple[tuple[str, str], ...] = ()  # (project path, image path) the image needs first
    modes: frozenset[Mode] = BOTH
    at_build: bool = True  # False: needs a running database, so not part of an image build
    notes: tuple[str, ...] = field(default=())

    def commands_for(self, mode: Mode) -> tuple[Command, ...]:
        return tuple(c for c in self.commands if mode in c.modes)

    def command(self, role: Role) -> Command:
        return next(c for c in self.commands if c.role is role)

    def resolved(self, places: Places) -> Step:
        """The step with its places filled in (setup tasks are the user's words: left as is)."""
        if self.kind is Kind.TASKS or not places:
            return self
        venv = places.get(Place.VENV)
        return dataclasses.replace(
            self,
            title=self.title.replace(Place.VENV.value, venv) if venv else self.title,
            commands=tuple(c.resolved(places) for c in self.commands),
        )


# Paths the steps, the generated files and the runners agree on.
REQUIREMENTS_DIR = "/opt/devenv/requirements"
USER_SCRIPT = "docker/create-user.sh"
USER_SCRIPT_IMAGE = "/usr/local/lib/devenv/create-user.sh"
DB_ENTRYPOINT = "docker/db-entrypoint.sh"
DB_ENTRYPOINT_IMAGE = "/usr/local/bin/docker-entrypoint.sh"  # the official image's name
DB_DATA = "/var/lib/postgresql/data"
DB_LOCALE = "en_US.utf8"  # the official image's LANG, so initdb's default locale is the same
CERTS_DIR = "docker/certs"
CERTS_IMAGE_DIR = "/usr/local/share/ca-certificates/devenv"
DEV_UID = 1000


def venv_path(plan: Plan, mode: Mode) -> str:
    if mode is Mode.CONTAINER:
        return plan.python.container_venv
    return str(plan.project_dir / plan.python.venv)


def python_path(venv: str) -> str:
    """The venv's interpreter: every step, check and probe runs this one."""
    return f"{venv}/bin/python"
