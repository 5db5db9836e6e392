"""Every plan key, declared once: its type, default, check, what it means, whether
devenv.local.toml may set it and how `devenv init` writes it.

The loaders (plan.model, plan.local) read these, `devenv init`'s template (plan.init) and
README's key table (plan.docs) are made from them.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devenv.plan import checks
from devenv.rules import distro, validate

Check = Callable[[Any], Any]


class Installer(str, enum.Enum):
    """What installs the requirements into the venv (devenv.steps.installers says how)."""

    PIP = "pip"
    UV = "uv"

    def __str__(self) -> str:  # in messages and f-strings, the plan's own word
        return self.value


class Local(enum.Enum):
    """Whether devenv.local.toml may set a key, and how its value meets the plan's."""

    NO = "no"  # the team's: only devenv.toml sets it
    REPLACE = "replaces the plan's"
    ADD = "added to the plan's"
    MERGE = "merged over the plan's (a key here wins)"

    def merge(self, team: Any, mine: Any) -> Any:
        """The value on this machine: the plan's, with devenv.local.toml's (None or empty:
        not set there) over it."""
        if self is Local.REPLACE:
            return team if mine is None else mine
        if self is Local.ADD:
            return (*team, *(x for x in mine if x not in team))
        if self is Local.MERGE:
            return tuple({**dict(team), **dict(mine)}.items())
        return team


class Shown(enum.Enum):
    """How `devenv init` writes a key into the plan it makes."""

    SET = "set"  # `key = default`, or what init chose
    COMMENTED = "commented"  # `# key = default` (or the example): left to its default
    CHOSEN = "chosen"  # only when init chose a value for it


@dataclass(frozen=True, kw_only=True)
class Template:
    shown: Shown
    note: str = ""  # the comment after it; a newline continues it on a line of its own
    example: str | None = None  # TOML shown for a key whose default is no literal value
    gap: int | None = None  # spaces before the note; None: the note starts at column 35
    before: str | None = None  # written before that key of its section, not in its own place


@dataclass(frozen=True, kw_only=True)
class Key:
    section: str
    name: str
    kind: type  # what TOML gives: str, int, bool, list or dict
    default: Any  # as TOML would give it; None: derived when the plan is loaded
    check: Check  # TOML's value -> the plan's, or ValueError
    doc: str  # what it means, one line (README's key table)
    default_doc: str | None = None  # the default in words; None: `default` as TOML
    item: type = str  # a list's items
    local: Local = Local.NO
    init: Template | None = None  # None: `devenv init` leaves it out

    @property
    def title(self) -> str:
        return f"[{self.section}] {self.name}"

    def toml_default(self) -> str:
        return json.dumps(self.default, ensure_ascii=False)


def _key(section: str, name: str, kind: type, default: Any, check: Check, doc: str,
         **more: Any) -> Key:  # fmt: skip
    return Key(section=section, name=name, kind=kind, default=default, check=check, doc=doc, **more)


_SET, _COMMENTED, _CHOSEN = Shown.SET, Shown.COMMENTED, Shown.CHOSEN

KEYS: tuple[Key, ...] = (
    # [environment]
    _key("environment", "name", str, None, validate.env_name,
         "names the images (`devenv/NAME-dev:latest`, `devenv/NAME-db:latest`), the compose "
         "project and its volume",
         default_doc="the folder name",
         init=Template(shown=_CHOSEN, note="names images, compose project and volumes", gap=18)),
    _key("environment", "base", str, "ubuntu:24.04", validate.image_ref,
         "base image reference; distro and release come from it. Supported: ubuntu:22.04, "
         "ubuntu:24.04, debian:12, debian:13 (also by codename, e.g. `debian:trixie`)",
         init=Template(shown=_SET, note="image reference; distro and release come from it")),
    _key("environment", "mirror", str, None, checks.mirror,
         "archive URL `devenv base` bootstraps from",
         default_doc="host apt config, else debootstrap's default",
         init=Template(shown=_COMMENTED, example='"http://…/ubuntu"',
                       note="archive for `devenv base` (default: host apt config)")),
    _key("environment", "keyring", str, None, checks.keyring,
         "keyring file (`.gpg`/`.asc`, project-relative or absolute) `devenv base` verifies "
         "that archive with",
         default_doc="the host's, else fetched",
         init=Template(shown=_COMMENTED, example='"keys/archive.gpg"',
                       note="keyring for that archive (default: found or fetched)")),
    _key("environment", "user", str, "dev", validate.user_name,
         "the dev image's non-root user (UID 1000; takes over Ubuntu's `ubuntu` user)",
         init=Template(shown=_COMMENTED, note="the non-root user of the dev image")),
    _key("environment", "registry", str, None, validate.registry,
         "`HOST[:PORT]/NAMESPACE` the team's prebuilt images are pushed to and pulled from "
         "(see Team prebuilds); no scheme, tag or credentials",
         default_doc="none"),
    # [system]
    _key("system", "packages", list, ["build-essential", "libpq-dev"],
         checks.each(validate.deb_package_spec),
         "apt packages for the dev environment, `name` or `name=version`",
         local=Local.ADD,
         init=Template(shown=_SET, note="apt packages, `name` or `name=version`", gap=3)),
    # [postgres]
    _key("postgres", "version", int, 16, checks.postgres_major,
         "PostgreSQL major; must be one the base's archive (or PGDG) ships with pgvector",
         init=Template(shown=_SET)),
    _key("postgres", "extensions", list, ["pgvector"],
         checks.each(checks.choice(tuple(distro.EXTENSION_PACKAGES))),
         "extensions installed in the db image and checked by `verify`",
         init=Template(shown=_SET)),
    _key("postgres", "source", str, "distro", checks.choice(distro.SOURCES),
         '`"distro"` (the release\'s archive) or `"pgdg"` (the PostgreSQL apt repository)',
         init=Template(shown=_SET)),
    _key("postgres", "host_port", int, 5432, validate.port,
         "port published for the db service, on 127.0.0.1 only",
         local=Local.REPLACE,
         init=Template(shown=_COMMENTED, note="published on 127.0.0.1 only")),
    _key("postgres", "user", str, "postgres", validate.pg_role,
         "role the db service creates",
         init=Template(shown=_COMMENTED)),
    _key("postgres", "database", str, "app", validate.pg_database,
         "database the db service creates",
         init=Template(shown=_COMMENTED)),
    _key("postgres", "init", list, [], checks.init_folders,
         "folders of init scripts (`*.sql`, `*.sql.gz`, `*.sql.xz`, `*.sql.zst`, `*.sh`) run "
         "once, on a new database: compose and `verify` mount them into the db container's "
         "`/docker-entrypoint-initdb.d`, `host-install --with-db` runs them with the same "
         "functions on the database it creates. Order: the folders as listed, in each its files "
         "by byte order of their names. `verify` checks the entrypoint ran every file, in that "
         "order, without error"),
    # [python]
    _key("python", "venv", str, ".venv", checks.venv_path,
         "host venv path, inside the project",
         init=Template(shown=_SET, note="the host venv; the image's is /opt/venv")),
    _key("python", "container_venv", str, "/opt/venv", checks.absolute_path,
         "image venv path, outside the workspace so the bind mount can't hide it"),
    _key("python", "requirements", list, ["requirements.txt"],
         checks.each(checks.requirements_path),
         "requirements files, inside the project (`-r`/`-c` includes are followed)",
         init=Template(shown=_SET)),
    _key("python", "project", str, None, checks.project_folder,
         "a pyproject.toml project to install: its folder (`\".\"`, `\"backend\"`, `\"py\"`). "
         "Its lock's exact set — `uv.lock` through `uv export --frozen` (hashes kept), "
         "`poetry.lock` read as TOML (lock 2.1's groups and markers; a 2.0 lock walked from the "
         "pyproject's dependencies, extras and markers carried) — or, without a lock, its "
         "`[project] dependencies` (then `devenv lock` pins them) becomes "
         "`docker/requirements.lock.txt`, a generated requirements file everything else reads "
         "as one (review, image, host-install, `devenv lock`, content tags). The plan loader "
         "rewrites it whenever the lock changes. The project itself is editable in both modes: "
         "a `.pth` in the venv names its source folder (`src/` when it has one) — in the image "
         "the mounted workspace (`/workspace/backend`), so no project file enters the image and "
         "VS Code's interpreter imports it with nothing to run at start; on the host the "
         "checkout. Its console scripts are not installed",
         default_doc="none",
         init=Template(shown=_CHOSEN, before="requirements")),
    _key("python", "groups", list, [], checks.each(checks.group_name),
         "the project's dependency groups installed with it (PEP 735 `[dependency-groups]`, "
         "uv's `dev-dependencies` as `dev`, Poetry's groups); an undeclared group is a plan "
         "error",
         init=Template(shown=_CHOSEN, note="dependency groups installed with it",
                       before="requirements")),
    _key("python", "installer", str, None, checks.choice(tuple(i.value for i in Installer)),
         'what installs the requirements into the venv: `"uv"` (`uv pip install -r`; the venv '
         "keeps its Python's pip for `pip check`) or `\"pip\"` (`pip install -r`, after "
         "upgrading pip, setuptools and wheel). Both are tested. uv is the default because a "
         "requirements edit rebuilds in about a third of pip's time (see Performance) — unless "
         "a requirements file uses an option only pip reads as written (`--pre`, which uv "
         "ignores; `--trusted-host`, `--extra-index-url`, `--prefer-binary`, `--use-feature`, "
         "`--global-option`, `--config-settings`, an abbreviated option, `-rFILE`): then the "
         "default is pip and `devenv plan` says which line chose it, and `installer = \"uv\"` "
         "is a plan error naming that line",
         default_doc='`"uv"`, or `"pip"` when the files need it',
         init=Template(shown=_COMMENTED, example='"pip"',
                       note="default uv; pip when a requirements file needs pip")),
    _key("python", "smoke", list, None, checks.each(validate.module_name),
         "modules imported after install, as written when set. Unset, devenv derives them from "
         "what the requirements (and `devenv.lock`'s pins) name, from a table of well-known "
         "distributions (`devenv/project/smoke.py`): the framework and server (fastapi, flask, "
         "django, starlette, uvicorn), the ORM (sqlalchemy, sqlmodel, alembic), pydantic, the "
         "PostgreSQL driver (psycopg, psycopg2, asyncpg) and pgvector's module for each driver "
         "or ORM installed, where the pgvector version has it (`pgvector.psycopg`, "
         "`pgvector.psycopg2`, `pgvector.asyncpg`, `pgvector.sqlalchemy`, …), and packages whose "
         "import loads a system library (`magic`, `cv2`, `PIL`, `numpy`, `lxml`); anything else "
         "adds nothing. `devenv plan` says when the list is derived. A failed import names the "
         "module and the requirement that should provide it: `import pgvector.asyncpg failed: "
         "ModuleNotFoundError: No module named 'asyncpg' (expected from requirement "
         "pgvector==0.3.6 in requirements.txt)`",
         default_doc="derived from the requirements",
         init=Template(shown=_COMMENTED, example='["app"]',
                       note="modules imported after install. Default: derived from the\n"
                       "requirements (framework, ORM, driver, pgvector integration)")),
    _key("python", "allow_index_options", bool, False, checks.same,
         "allow `--index-url`, `--extra-index-url`, `--trusted-host`, `--find-links` in "
         "requirements",
         init=Template(shown=_COMMENTED,
                       note="allow --index-url & co. in requirements files")),
    # [devcontainer]
    _key("devcontainer", "forward_ports", list, [8000], checks.each(validate.port),
         "ports VS Code forwards",
         item=int, local=Local.ADD, init=Template(shown=_SET)),
    _key("devcontainer", "extensions", list, ["ms-python.python"],
         checks.each(checks.vscode_extension),
         "VS Code extensions installed in the container",
         local=Local.ADD, init=Template(shown=_COMMENTED)),
    _key("devcontainer", "workspace", str, "/workspace", checks.absolute_path,
         "where the project is mounted in the app container"),
    _key("devcontainer", "settings", dict, {}, checks.vscode_settings,
         "VS Code settings for the container (over `python.defaultInterpreterPath`)",
         local=Local.MERGE),
    _key("devcontainer", "engine_access", bool, False, checks.same,
         "the app container may use the Docker engine, so tests that start containers "
         "(testcontainers) run inside it; see Day two for what it means"),
    # [tasks]
    _key("tasks", "setup", list, [], checks.each(checks.task),
         "commands run in order once the environment is up and the database healthy (see "
         "Day two)"),
    # [env]
    _key("env", "files", list, [], checks.each(checks.env_file),
         "env files besides `.env`, project-relative, read when the app runs (never built in)"),
    _key("env", "vars", dict, {}, checks.env_vars,
         "variables for the app container and `devenv run` (over the env files)"),
)  # fmt: skip

SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(k.section for k in KEYS))
LOCAL_KEYS: tuple[Key, ...] = tuple(k for k in KEYS if k.local is not Local.NO)
# The order devenv.local.toml's messages (and README's example) name its sections in.
LOCAL_SECTIONS = ("postgres", "devcontainer", "system")


def in_section(section: str, keys: tuple[Key, ...] = KEYS) -> tuple[Key, ...]:
    return tuple(k for k in keys if k.section == section)


def find(section: str, name: str, keys: tuple[Key, ...] = KEYS) -> Key | None:
    return next((k for k in keys if k.section == section and k.name == name), None)
