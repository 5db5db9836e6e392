"""The plan: devenv.toml loaded once into typed, frozen data, or a PlanError that says where.

Every value is validated here, so renderers and runners can trust what they are given.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import json
import posixpath
import re
import shlex
import sys
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from devenv.errors import DevenvError, PlanError
from devenv.files import safety
from devenv.lock.file import Lock, read_lock
from devenv.plan import distro, pyproject, validate
from devenv.review import project_lock, smoke
from devenv.review.requirements import RequirementsError, RequirementsSet, read_requirements

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PLAN_FILE = "devenv.toml"


class Installer(str, enum.Enum):
    """What installs the requirements into the venv (devenv.steps.installers says how)."""

    PIP = "pip"
    UV = "uv"

    def __str__(self) -> str:  # in messages and f-strings, the plan's own word
        return self.value


class Target(str, enum.Enum):
    """The two images a plan builds: the development environment and its database."""

    DEV = "dev"
    DB = "db"

    def __str__(self) -> str:  # in image names, labels and messages, the plan's own word
        return self.value


INSTALLERS = tuple(i.value for i in Installer)
EXTENSIONS = tuple(distro.EXTENSION_PACKAGES)


@dataclass(frozen=True, kw_only=True)
class Environment:
    name: str
    base: str
    release: distro.Release
    mirror: str | None  # archive used by `devenv base`; None: host apt config / tool default
    keyring: Path | None  # keyring `devenv base` verifies the archive with; None: found/fetched
    user: str  # the non-root user of the dev image
    # HOST[:PORT]/NAMESPACE the team's prebuilt images are pushed to and pulled from; None: none
    registry: str | None = None


@dataclass(frozen=True, kw_only=True)
class System:
    packages: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Postgres:
    version: int
    extensions: tuple[str, ...]
    source: str
    packages: distro.PostgresPackages
    host_port: int  # published on 127.0.0.1 only
    user: str
    database: str
    # Folders of init scripts (project-relative), run in order on a new database: by the db
    # image's entrypoint (compose and verify mount them) and by host-install --with-db.
    init: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Python:
    venv: str  # host venv, project-relative
    container_venv: str  # absolute, outside the workspace so a bind mount can't hide it
    requirements: tuple[str, ...]
    installer: Installer
    smoke: tuple[str, ...]
    allow_index_options: bool
    installer_note: str | None = None  # why the default installer is pip for these files
    smoke_derived: bool = False  # no `smoke` key: derived from the requirements (review.smoke)
    # A pyproject project (devenv.plan.pyproject): its folder, the groups installed with it,
    # the folder put on the venv's path (the editable install), and its lock's pins, which
    # generate writes to review.project_lock.GENERATED, a requirements file like any other.
    project: str | None = None
    groups: tuple[str, ...] = ()
    import_root: str | None = None
    project_pins: str | None = None
    project_source: str | None = None


@dataclass(frozen=True, kw_only=True)
class Devcontainer:
    forward_ports: tuple[int, ...]
    extensions: tuple[str, ...]
    workspace: str
    settings: tuple[tuple[str, Any], ...] = ()  # VS Code settings, by name (JSON values)
    # The app container may use the engine (its socket mounted, the dev user let in,
    # testcontainers pointed at the host): root on the host for whoever runs code there.
    engine_access: bool = False


@dataclass(frozen=True, kw_only=True)
class Tasks:
    # Command lines (split like a shell would, run without one) that run once the environment
    # is up and the database healthy: by `devenv up`, VS Code and `host-install --with-db`.
    setup: tuple[str, ...] = ()

    def argvs(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(shlex.split(task)) for task in self.setup)


@dataclass(frozen=True, kw_only=True)
class Env:
    # Env files beside `.env` (project-relative; read at run time, never built into an image)
    # and variables, over them (see devenv.plan.envfiles for the precedence).
    files: tuple[str, ...] = ()
    vars: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class Plan:
    project_dir: Path
    environment: Environment
    system: System
    postgres: Postgres
    python: Python
    devcontainer: Devcontainer
    requirements: RequirementsSet
    lock: Lock | None = None  # devenv.lock, when the project has one
    tasks: Tasks = Tasks()
    env: Env = Env()
    # devenv.local.toml (git-ignored, personal): kept apart, so the files generated from the
    # plan (and committed) are the same for the whole team; personal() merges it in.
    local: LocalOverrides | None = None

    def personal(self) -> Plan:
        """The plan with devenv.local.toml merged over it: what runs on this machine."""
        local = self.local
        if local is None:
            return self
        dc = self.devcontainer
        return dataclasses.replace(
            self,
            system=System(packages=_union(self.system.packages, local.packages)),
            postgres=dataclasses.replace(
                self.postgres, host_port=local.host_port or self.postgres.host_port
            ),
            devcontainer=dataclasses.replace(
                dc,
                forward_ports=_union(dc.forward_ports, local.forward_ports),
                extensions=_union(dc.extensions, local.extensions),
                settings=tuple({**dict(dc.settings), **dict(local.settings)}.items()),
            ),
        )

    def image(self, target: Target | str) -> str:
        """The tag of the `dev` or `db` image: what compose, build and verify agree on."""
        return f"devenv/{self.environment.name}-{Target(target).value}:latest"

    def digest(self, target: Target | str = Target.DEV) -> str:
        """The `target` image's fingerprint (devenv.steps.recipe): a caller that has the
        compiled recipe asks it instead of compiling again."""
        from devenv.steps.recipe import compile_plan

        return compile_plan(self).fingerprint(Target(target))


@dataclass(frozen=True, kw_only=True)
class LocalOverrides:
    """What devenv.local.toml sets: a port, extra ports/extensions/packages, settings."""

    path: Path
    host_port: int | None = None
    forward_ports: tuple[int, ...] = ()
    extensions: tuple[str, ...] = ()
    settings: tuple[tuple[str, Any], ...] = ()
    packages: tuple[str, ...] = ()


def _union(first: tuple[Any, ...], more: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*first, *(x for x in more if x not in first))


# --- the schema: section -> key -> (type, default, validator) --------------------------------

Check = Callable[[Any], Any]


def _each(check: Check) -> Check:
    def run(values: list[Any]) -> tuple[Any, ...]:
        return tuple(check(v) for v in values)

    return run


def _choice(options: tuple[str, ...]) -> Check:
    def run(value: str) -> str:
        if value not in options:
            raise ValueError(
                f"{value!r} is not one of {', '.join(map(repr, options))}{_near(value, options)}"
            )
        return value

    return run


def _relative_path(value: str) -> str:
    validate.no_control(value)
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or not value:
        raise ValueError(f"{value!r} must be a relative path inside the project folder")
    return value


def _init_folder(value: str) -> str:
    """A folder of init scripts, normalised (`db`, `db/`, `./db`, `db/.` are one folder), not
    one of devenv's or git's own."""
    _relative_path(value)
    normal = posixpath.normpath(value)
    if normal == "." or not re.fullmatch(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*", normal):
        raise ValueError(f"{value!r} must be a folder path of plain names (like db/init)")
    problem = safety.protected_part(normal)
    if problem:
        raise ValueError(f"{value!r} {problem}; init scripts need a folder of their own")
    return normal


def _init_folders(values: list[str]) -> tuple[str, ...]:
    folders = tuple(_init_folder(v) for v in values)
    for n, folder in enumerate(folders):
        if folder in folders[:n]:
            raise ValueError(f"{values[n]!r} is {folder!r} again: each folder runs once")
        for other in folders[:n]:
            if folder.startswith(other + "/") or other.startswith(folder + "/"):
                raise ValueError(f"{values[n]!r} and {other!r} overlap: one holds the other")
    return folders


def _project_folder(value: str) -> str:
    normal = posixpath.normpath(value) if value else value
    if normal != ".":
        _relative_path(value)
        if not re.fullmatch(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*", normal):
            raise ValueError(f"{value!r} must be a folder path of plain names (like backend)")
        problem = safety.protected_part(normal)
        if problem:
            raise ValueError(f"{value!r} {problem}")
    return normal


def _group_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", value):
        raise ValueError(f"{value!r} is not a dependency group name (like dev)")
    return value


def _venv_path(value: str) -> str:
    _relative_path(value)
    problem = safety.protected_part(value)
    if problem:
        raise ValueError(f"{value!r} {problem}; the venv needs a folder of its own (like .venv)")
    return value


def _requirements_path(value: str) -> str:
    _relative_path(value)
    problem = validate.secret_or_protected(value) or validate.copyable_path(value)
    if problem:
        raise ValueError(f"{value!r} {problem}")
    return value


def _absolute_path(value: str) -> str:
    validate.no_control(value)
    parts = value.split("/")[1:]
    if not re.fullmatch(r"(/[A-Za-z0-9._-]+)+", value) or {".", ".."} & set(parts):
        raise ValueError(f"{value!r} must be an absolute path of plain names (like /opt/venv)")
    return value


def _postgres_major(value: int) -> int:
    if not 10 <= value <= 99:
        raise ValueError(f"{value} is not a PostgreSQL major version (like 16)")
    return value


def _mirror(value: str) -> str:
    validate.no_control(value)
    problem = not re.fullmatch(r"(https?|file)://[^\s'\"\\]+", value)
    if not problem:
        try:
            url = urllib.parse.urlsplit(value)
            port = url.port  # ValueError when it is not a number in range
        except ValueError:
            problem = True
        else:
            host = url.hostname or ""
            host_ok = bool(re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+", host))
            problem = (url.scheme == "file" and url.netloc not in ("", "localhost")) or (
                url.scheme != "file" and (not host_ok or port == 0)
            )
    if problem:
        raise ValueError(f"{value!r} is not an http(s):// or file:// archive URL")
    return value


def _keyring(value: str) -> str:
    validate.no_control(value)
    if not value or not re.fullmatch(r"[^\s'\"\\]+\.(gpg|asc|pgp)", value):
        raise ValueError(
            f"{value!r} is not a keyring file path (a .gpg, .asc or .pgp file, without spaces)"
        )
    return value


def _vscode_extension(value: str) -> str:
    validate.no_control(value)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*\.[A-Za-z0-9][A-Za-z0-9.-]*", value):
        raise ValueError(f"{value!r} is not a VS Code extension id (like ms-python.python)")
    return value


def _env_file(value: str) -> str:
    _relative_path(value)
    if not re.fullmatch(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*", value):
        raise ValueError(f"{value!r} must be a file path of plain names (like .env.shared)")
    problem = safety.protected_part(posixpath.normpath(value))
    if problem:
        raise ValueError(f"{value!r} {problem}; an env file is the project's own")
    return value


def _env_vars(value: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    from devenv.plan import envfiles

    for key, item in value.items():
        if not envfiles.KEY.fullmatch(key):
            raise ValueError(f"{key!r} is not a variable name (letters, digits, _)")
        if key in envfiles.RESERVED:
            raise ValueError(f"{key} is set by devenv ({envfiles.reserved_why(key)})")
        if not isinstance(item, str):
            raise ValueError(f"{key} must be a string, not {_kind(type(item))}")
        validate.no_control(item)
        if len(key.encode()) + len(item.encode()) > envfiles.MAX_VALUE:
            raise ValueError(f"{key}: the value is over 128 KiB, more than an environment holds")
    # A `$` is literal in both modes: compose.yaml writes it `$$` (render.compose.escape).
    return tuple(value.items())


MAX_TASK = 4096  # a command line, not a script: longer is a mistake (and slow to split)
# Words a shell runs itself: a task is exec'd as a program in every mode, so none of them can
# mean there what it means in a shell (`exit 0` would end VS Code's script early, `cd` leak).
SHELL_BUILTINS = frozenset(
    {
        ".", ":", "alias", "bg", "break", "builtin", "cd", "command", "continue", "declare",
        "eval", "exec", "exit", "export", "fg", "function", "hash", "jobs", "local", "read",
        "readonly", "return", "set", "shift", "source", "trap", "typeset", "ulimit", "umask",
        "unalias", "unset", "wait", "if", "then", "else", "fi", "for", "while", "until", "do",
        "done", "case", "esac", "!", "{", "}", "[[", "]]", "time",
    }
)  # fmt: skip


def _task(value: str) -> str:
    validate.no_control(value)
    if len(value) > MAX_TASK:
        raise ValueError(
            f"a task is over {MAX_TASK} characters; put a long command in a script and run that"
        )
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a command line: {exc}") from None
    if not words:
        raise ValueError("a task is an empty command line")
    lexer = shlex.shlex(value, posix=True, punctuation_chars=True)
    operators = [t for t in lexer if t and set(t) <= set("();<>|&")]
    if operators or "$" in value or "`" in value:
        raise ValueError(
            f"{value!r}: tasks run without a shell, so {(operators or ['$'])[0]!r} would not mean "
            "what it does in one; put a pipeline or variables in a script and run that"
        )
    if shlex.split(value, comments=True) != words:
        raise ValueError(
            f"{value!r}: tasks run without a shell, so '#' would be passed as an argument, not "
            "start a comment; remove the comment (or quote the '#')"
        )
    if words[0] in SHELL_BUILTINS or "=" in words[0]:
        what = "sets a variable" if "=" in words[0] else f"starts with {words[0]!r}, a shell word"
        raise ValueError(
            f"{value!r} {what}; tasks run as programs without a shell in every mode, so it "
            "would not do there what it does in a shell; put it in a script and run that"
        )
    return value


def _vscode_settings(value: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    for key, item in value.items():
        validate.no_control(key)
        if not re.fullmatch(r"[A-Za-z0-9_.\[\]-]+", key):
            raise ValueError(f"{key!r} is not a VS Code setting name (like editor.tabSize)")
        try:
            json.dumps(item, allow_nan=False)
        except (ValueError, TypeError):  # NaN, or a TOML date/time: JSON has neither
            raise ValueError(f"{key}: the value is not JSON (a TOML date or time is not)") from None
    return tuple(value.items())


_UNSET = object()
SCHEMA: dict[str, dict[str, tuple[type, Any, Check]]] = {
    "environment": {
        "name": (str, _UNSET, validate.env_name),
        "base": (str, "ubuntu:24.04", validate.image_ref),
        "mirror": (str, None, _mirror),
        "keyring": (str, None, _keyring),
        "user": (str, "dev", validate.user_name),
        "registry": (str, None, validate.registry),
    },
    "system": {
        "packages": (list, ["build-essential", "libpq-dev"], _each(validate.deb_package_spec)),
    },
    "postgres": {
        "version": (int, 16, _postgres_major),
        "extensions": (list, ["pgvector"], _each(_choice(EXTENSIONS))),
        "source": (str, "distro", _choice(distro.SOURCES)),
        "host_port": (int, 5432, validate.port),
        "user": (str, "postgres", validate.pg_role),
        "database": (str, "app", validate.pg_database),
        "init": (list, [], _init_folders),
    },
    "python": {
        "venv": (str, ".venv", _venv_path),
        "container_venv": (str, "/opt/venv", _absolute_path),
        "requirements": (list, ["requirements.txt"], _each(_requirements_path)),
        # None: requirements files only. A folder ("." or "backend") holding pyproject.toml:
        # its lock's pins (uv.lock, poetry.lock; else its dependencies) are installed.
        "project": (str, None, _project_folder),
        "groups": (list, [], _each(_group_name)),  # the project's dependency groups installed
        # None: uv (a third of pip's time for an edit, bench/build.py), unless the requirement
        # files use an option only pip reads as written; then pip.
        "installer": (str, None, _choice(INSTALLERS)),
        # None: derived from what the requirements name (devenv.review.smoke)
        "smoke": (list, None, _each(validate.module_name)),
        "allow_index_options": (bool, False, lambda v: v),
    },
    "devcontainer": {
        "forward_ports": (list, [8000], _each(validate.port)),
        "extensions": (list, ["ms-python.python"], _each(_vscode_extension)),
        "workspace": (str, "/workspace", _absolute_path),
        "settings": (dict, {}, _vscode_settings),
        "engine_access": (bool, False, lambda v: v),
    },
    "tasks": {
        "setup": (list, [], _each(_task)),
    },
    "env": {
        "files": (list, [], _each(_env_file)),
        "vars": (dict, {}, _env_vars),
    },
}


def load_plan(project_dir: Path) -> Plan:
    try:
        project_dir = project_dir.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise PlanError(f"{project_dir}: the project folder can't be resolved: {exc}") from None
    path = project_dir / PLAN_FILE
    if not path.is_file():
        raise PlanError(
            f"{path}: no plan here", hint="run `devenv init` to write one, or pass -C DIR"
        )
    text = read_text(path, what="plan")
    data = parse_toml(text, path)
    lock = read_lock(project_dir)
    plan = plan_from_dict(data, project_dir=project_dir, source=path, text=text, lock=lock)
    from devenv.plan.local import read_local

    return dataclasses.replace(plan, local=read_local(project_dir, plan))


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:  # tables or arrays nested thousands deep
        raise PlanError(f"{path}: invalid TOML: nested too deep") from None


MAX_TEXT = 1024 * 1024  # a plan is configuration: bigger is a mistake (or /dev/zero)


def read_text(path: Path, *, what: str) -> str:
    """A UTF-8 file devenv reads, or one line: exit 1 when it can't be read, 2 when it is not
    UTF-8 text."""
    data = safety.read_bounded(path, limit=MAX_TEXT, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError(
            f"{path}: the {what} is not UTF-8 text (byte {exc.start})", hint="save it as UTF-8"
        ) from None


def plan_from_dict(
    data: dict[str, Any],
    *,
    project_dir: Path,
    source: Path,
    text: str = "",
    lock: Lock | None = None,
) -> Plan:
    def fail(section: str, key: str | None, message: str, hint: str | None = None) -> PlanError:
        where = f"[{section}] {key}" if key else f"[{section}]"
        line = _line_of(text, section, key)
        return PlanError(f"{source}{f':{line}' if line else ''}: {where}: {message}", hint=hint)

    values: dict[str, dict[str, Any]] = {}
    for section, table in data.items():
        if section not in SCHEMA:
            raise fail(section, None, f"unknown section{_near(section, tuple(SCHEMA))}")
        if not isinstance(table, dict):
            raise fail(section, None, "must be a table")
    for section, keys in SCHEMA.items():
        table = data.get(section, {})
        values[section] = {}
        for key in table:
            if key not in keys:
                raise fail(section, key, f"unknown key{_near(key, tuple(keys))}")
        for key, (kind, default, check) in keys.items():
            value = table.get(key, default)
            if value is _UNSET or value is None:
                values[section][key] = value
                continue
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise fail(section, key, f"must be {_kind(kind)}, not {_kind(type(value))}")
            if isinstance(value, list):
                inner = type(default[0]) if default else str
                for item in value:
                    if not isinstance(item, inner) or (isinstance(item, bool) and inner is int):
                        raise fail(section, key, f"items must be {_kind(inner)}, got {item!r}")
                if len(set(value)) != len(value):
                    raise fail(section, key, "lists a value twice")
            try:
                values[section][key] = check(value)
            except ValueError as exc:
                raise fail(section, key, str(exc)) from None

    env, pg, py, dc = (values[s] for s in ("environment", "postgres", "python", "devcontainer"))
    name = env["name"] if env["name"] is not _UNSET else validate.slug(project_dir.resolve().name)
    problem = validate.image_paths(
        venv=py["container_venv"], workspace=dc["workspace"], user=env["user"]
    )
    if problem:
        key, message = problem
        section = "python" if key == "container_venv" else "devcontainer"
        raise fail(section, key, message)
    family, tag = validate.split_image_ref(env["base"])
    release = distro.find_release(family, tag)
    if release is None:
        raise fail(
            "environment",
            "base",
            f"{env['base']!r} is not a supported base; supported: {distro.supported_bases()}",
        )
    root = project_dir.resolve()
    project = None
    folder = py["project"] if py["project"] is not None else "."
    for rel in (
        folder,
        *(f"{folder}/{name}" for name in (pyproject.PYPROJECT, "uv.lock", "poetry.lock")),
        f"{folder}/{pyproject.PYTHON_VERSION_FILE}",
        pyproject.PYTHON_VERSION_FILE,
    ):  # read below (and the lock by uv): never through a symlink out of the project
        try:
            safety.inside(root, rel, what="[python] project file")
        except DevenvError as exc:
            raise fail("python", "project", exc.message) from None
    if py["project"] is not None:
        try:
            project = pyproject.read_project(root, py["project"])
        except ValueError as exc:
            raise fail("python", "project", str(exc)) from None
    elif (root / pyproject.PYPROJECT).is_file():
        try:  # a requirements.txt project's pyproject: its Python is checked all the same
            project = pyproject.read_project(root, ".")
        except ValueError:
            project = None  # not the plan's to read: pyproject tools will say
    wrong_python = pyproject.python_problem(project, release) if project else None
    if wrong_python:
        raise fail("environment", "base", wrong_python)
    try:
        packages = distro.postgres_packages(release, pg["version"], pg["source"], pg["extensions"])
    except ValueError as exc:
        raise fail("postgres", "version", str(exc)) from None
    if py["groups"] and py["project"] is None:
        raise fail("python", "groups", "groups are a pyproject project's: set [python] project")
    exported = None
    roots = py["requirements"]
    if project is not None and py["project"] is not None:
        try:
            exported = project_lock.export(root, project, py["groups"], release.python)
        except project_lock.ExportError as exc:
            raise fail("python", "project", str(exc)) from None
        given = data.get("python", {}).get("requirements")
        roots = (*(py["requirements"] if given is not None else ()), project_lock.GENERATED)
        try:  # the review and the installers read it as a file, so it is there before them
            project_lock.materialise(root, exported)
        except project_lock.ExportError as exc:
            raise fail("python", "project", str(exc)) from None
        except OSError as exc:
            message = f"can't write {project_lock.GENERATED}: {exc}"
            raise fail("python", "project", message) from None
    try:
        requirements = read_requirements(
            project_dir,
            roots,
            allow_index_options=py["allow_index_options"],
        )
    except RequirementsError as exc:
        raise fail("python", "requirements", str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail("python", "requirements", f"can't read: {exc}") from None
    chosen = py["installer"]
    pip_only = requirements.pip_only[0] if requirements.pip_only else None
    if pip_only and chosen == Installer.UV.value:
        raise fail(
            "python",
            "installer",
            f"uv does not read {pip_only.where()} as pip does: it ignores or refuses that "
            "option in a requirements file, or (an extra index) picks files another way",
            hint='set installer = "pip" (or leave the key out), or drop the option',
        )
    installer = Installer(chosen or (Installer.PIP if pip_only else Installer.UV))
    installer_note = (
        f"pip, not the default uv: only pip reads {pip_only.where()} as written"
        if pip_only and chosen is None
        else None
    )
    pins = lock.python_pins() if lock else None
    for folder in pg["init"]:
        path = project_dir.resolve() / folder
        if not path.is_dir():
            raise fail(
                "postgres",
                "init",
                f"{folder!r} is not a folder in {project_dir}",
                hint="create it (with *.sql, *.sql.gz or *.sh files) or remove it from the list",
            )
        try:
            safety.files_in(project_dir.resolve(), folder, what="[postgres] init folder")
        except DevenvError as exc:
            raise fail("postgres", "init", exc.message, hint=exc.hint) from None

    return Plan(
        project_dir=project_dir.resolve(),
        environment=Environment(
            name=name,
            base=env["base"],
            release=release,
            mirror=env["mirror"],
            keyring=None if env["keyring"] is None else project_dir.resolve() / env["keyring"],
            user=env["user"],
            registry=env["registry"],
        ),
        system=System(packages=values["system"]["packages"]),
        postgres=Postgres(
            version=pg["version"],
            extensions=pg["extensions"],
            source=pg["source"],
            packages=packages,
            host_port=pg["host_port"],
            user=pg["user"],
            database=pg["database"],
            init=pg["init"],
        ),
        python=Python(
            venv=py["venv"],
            container_venv=py["container_venv"],
            requirements=roots,
            installer=installer,
            installer_note=installer_note,
            smoke=py["smoke"] if py["smoke"] is not None else smoke.derive(requirements, pins),
            smoke_derived=py["smoke"] is None,
            allow_index_options=py["allow_index_options"],
            project=py["project"],
            groups=py["groups"],
            import_root=project.import_root if exported and project else None,
            project_pins=exported.text if exported else None,
            project_source=exported.source if exported else None,
        ),
        devcontainer=Devcontainer(
            forward_ports=dc["forward_ports"],
            extensions=dc["extensions"],
            workspace=dc["workspace"],
            settings=dc["settings"],
            engine_access=dc["engine_access"],
        ),
        requirements=requirements,
        lock=lock,
        tasks=Tasks(setup=values["tasks"]["setup"]),
        env=Env(files=values["env"]["files"], vars=values["env"]["vars"]),
    )


def _near(word: str, options: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(options)}"


def _kind(kind: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        bool: "true or false",
        list: "a list",
        dict: "a table",
        float: "a number",
    }.get(kind, kind.__name__)


def _line_of(text: str, section: str, key: str | None) -> int | None:
    """Best-effort line number of `key` in `[section]`, for messages (tomllib has no positions)."""
    current = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.fullmatch(r"\[\s*([A-Za-z0-9_-]+)\s*\](?:\s*#.*)?", stripped)
        if header:
            current = header.group(1)
            if key is None and current == section:
                return number
        elif current == section and key and re.match(rf"{re.escape(key)}\s*=", stripped):
            return number
    return None
