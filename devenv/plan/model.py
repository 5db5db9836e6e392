"""The plan: devenv.toml loaded once into typed, frozen data, or a PlanError that says where.

Every value is validated as devenv.plan.schema declares it, so renderers and runners can trust
what they are given; the checks that span keys (the base's release and Python, PostgreSQL's
packages, the project and its requirements) are here.
"""

from __future__ import annotations

import dataclasses
import enum
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv.errors import DevenvError, PlanError
from devenv.fs import safety
from devenv.plan import schema
from devenv.plan.local import LocalOverrides, read_local
from devenv.plan.lockfile import Lock, read_lock
from devenv.plan.read import PlanFile, Values, parse_toml, read_text, read_values
from devenv.plan.schema import Installer
from devenv.project import project_lock, pyproject, smoke
from devenv.project.requirements import RequirementsError, RequirementsSet, read_requirements
from devenv.rules import distro, validate

PLAN_FILE = "devenv.toml"


class Target(str, enum.Enum):
    """The two images a plan builds: the development environment and its database."""

    DEV = "dev"
    DB = "db"

    def __str__(self) -> str:  # in image names, labels and messages, the plan's own word
        return self.value


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
    smoke_derived: bool = False  # no `smoke` key: derived from the requirements (project.smoke)
    # A pyproject project (devenv.project.pyproject): its folder, the groups installed with it,
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
        """The plan with devenv.local.toml merged over it: what runs on this machine, each key
        as its declaration's `local` rule says."""
        if self.local is None:
            return self
        merged: dict[str, dict[str, Any]] = {}
        for key in schema.LOCAL_KEYS:
            team = getattr(getattr(self, key.section), key.name)
            mine = getattr(self.local, key.name)
            merged.setdefault(key.section, {})[key.name] = key.local.merge(team, mine)
        sections = {s: dataclasses.replace(getattr(self, s), **v) for s, v in merged.items()}
        return dataclasses.replace(self, **sections)

    def image(self, target: Target | str) -> str:
        """The tag of the `dev` or `db` image: what compose, build and verify agree on."""
        return f"devenv/{self.environment.name}-{Target(target).value}:latest"


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
    return dataclasses.replace(plan, local=read_local(project_dir))


def plan_from_dict(
    data: dict[str, Any],
    *,
    project_dir: Path,
    source: Path,
    text: str = "",
    lock: Lock | None = None,
) -> Plan:
    file = PlanFile(path=source, text=text)
    values = read_values(data, file)
    env, pg, py = values["environment"], values["postgres"], values["python"]
    _check_image_paths(values, file)
    release = _release(env["base"], file)
    root = project_dir.resolve()
    project = _pyproject(root, py["project"], file)
    wrong_python = pyproject.python_problem(project, release) if project else None
    if wrong_python:
        raise file.error("environment", "base", wrong_python)
    packages = _postgres_packages(release, pg, file)
    if py["groups"] and py["project"] is None:
        message = "groups are a pyproject project's: set [python] project"
        raise file.error("python", "groups", message)
    exported = _project_pins(root, project, py, release, file)
    given = data.get("python", {}).get("requirements")  # with a project: extra files, if any
    roots = (*(py["requirements"] if given is not None else ()), project_lock.GENERATED)
    py = {**py, "requirements": py["requirements"] if exported is None else roots}
    requirements = _requirements(project_dir, py["requirements"], py["allow_index_options"], file)
    installer = _installer(requirements, py["installer"], file)
    pins = lock.python_pins() if lock else None
    _check_init_folders(project_dir, pg["init"], file)
    return Plan(
        project_dir=root,
        environment=_environment(env, root, release),
        system=System(**values["system"]),
        postgres=Postgres(**pg, packages=packages),
        python=_python(py, installer, requirements, pins, project, exported),
        devcontainer=Devcontainer(**values["devcontainer"]),
        requirements=requirements,
        lock=lock,
        tasks=Tasks(**values["tasks"]),
        env=Env(**values["env"]),
    )


def _python(
    py: dict[str, Any],
    installer: tuple[Installer, str | None],
    requirements: RequirementsSet,
    pins: dict[str, str] | None,
    project: pyproject.Project | None,
    exported: project_lock.Export | None,
) -> Python:
    derived = py["smoke"] is None  # from what the requirements (and the lock's pins) name
    chosen = smoke.derive(requirements, pins) if derived else py["smoke"]
    return Python(
        **{**py, "installer": installer[0], "smoke": chosen},
        installer_note=installer[1],
        smoke_derived=derived,
        import_root=project.import_root if exported and project else None,
        project_pins=exported.text if exported else None,
        project_source=exported.source if exported else None,
    )


def _environment(env: dict[str, Any], root: Path, release: distro.Release) -> Environment:
    name = env["name"] if env["name"] is not None else validate.slug(root.name)
    keyring = None if env["keyring"] is None else root / env["keyring"]
    return Environment(**{**env, "name": name, "keyring": keyring}, release=release)


def _check_image_paths(values: Values, file: PlanFile) -> None:
    problem = validate.image_paths(
        venv=values["python"]["container_venv"],
        workspace=values["devcontainer"]["workspace"],
        user=values["environment"]["user"],
    )
    if problem:
        key, message = problem
        raise file.error("python" if key == "container_venv" else "devcontainer", key, message)


def _release(base: str, file: PlanFile) -> distro.Release:
    family, tag = validate.split_image_ref(base)
    release = distro.find_release(family, tag)
    if release is None:
        supported = distro.supported_bases()
        message = f"{base!r} is not a supported base; supported: {supported}"
        raise file.error("environment", "base", message)
    return release


def _pyproject(root: Path, folder: str | None, file: PlanFile) -> pyproject.Project | None:
    """The plan's pyproject project, or a requirements.txt project's pyproject (whose Python
    is checked all the same), or None."""
    where = folder if folder is not None else "."
    for rel in (
        where,
        *(f"{where}/{name}" for name in (pyproject.PYPROJECT, "uv.lock", "poetry.lock")),
        f"{where}/{pyproject.PYTHON_VERSION_FILE}",
        pyproject.PYTHON_VERSION_FILE,
    ):  # read below (and the lock by uv): never through a symlink out of the project
        try:
            safety.inside(root, rel, what="[python] project file")
        except DevenvError as exc:
            raise file.error("python", "project", exc.message) from None
    if folder is not None:
        try:
            return pyproject.read_project(root, folder)
        except ValueError as exc:
            raise file.error("python", "project", str(exc)) from None
    if (root / pyproject.PYPROJECT).is_file():
        try:
            return pyproject.read_project(root, ".")
        except ValueError:
            return None  # not the plan's to read: pyproject tools will say
    return None


def _postgres_packages(
    release: distro.Release, pg: dict[str, Any], file: PlanFile
) -> distro.PostgresPackages:
    try:
        return distro.postgres_packages(release, pg["version"], pg["source"], pg["extensions"])
    except ValueError as exc:
        raise file.error("postgres", "version", str(exc)) from None


def _project_pins(
    root: Path,
    project: pyproject.Project | None,
    py: dict[str, Any],
    release: distro.Release,
    file: PlanFile,
) -> project_lock.Export | None:
    """The plan's pyproject project's pins, written where the review and the installers read
    them (review.project_lock.GENERATED); None without a `[python] project`."""
    if project is None or py["project"] is None:
        return None
    try:
        exported = project_lock.export(root, project, py["groups"], release.python)
    except project_lock.ExportError as exc:
        raise file.error("python", "project", str(exc)) from None
    try:  # the review and the installers read it as a file, so it is there before them
        project_lock.materialise(root, exported)
    except project_lock.ExportError as exc:
        raise file.error("python", "project", str(exc)) from None
    except OSError as exc:
        message = f"can't write {project_lock.GENERATED}: {exc}"
        raise file.error("python", "project", message) from None
    return exported


def _requirements(
    project_dir: Path, roots: tuple[str, ...], allow_index_options: bool, file: PlanFile
) -> RequirementsSet:
    try:
        return read_requirements(project_dir, roots, allow_index_options=allow_index_options)
    except RequirementsError as exc:
        raise file.error("python", "requirements", str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise file.error("python", "requirements", f"can't read: {exc}") from None


def _installer(
    requirements: RequirementsSet, chosen: str | None, file: PlanFile
) -> tuple[Installer, str | None]:
    """The installer, and why it is pip when the plan names none (an option only pip reads)."""
    pip_only = requirements.pip_only[0] if requirements.pip_only else None
    if pip_only and chosen == Installer.UV.value:
        raise file.error(
            "python",
            "installer",
            f"uv does not read {pip_only.where()} as pip does: it ignores or refuses that "
            "option in a requirements file, or (an extra index) picks files another way",
            hint='set installer = "pip" (or leave the key out), or drop the option',
        )
    installer = Installer(chosen or (Installer.PIP if pip_only else Installer.UV))
    if pip_only and chosen is None:
        return installer, f"pip, not the default uv: only pip reads {pip_only.where()} as written"
    return installer, None


def _check_init_folders(project_dir: Path, folders: tuple[str, ...], file: PlanFile) -> None:
    for folder in folders:
        if not (project_dir.resolve() / folder).is_dir():
            raise file.error(
                "postgres",
                "init",
                f"{folder!r} is not a folder in {project_dir}",
                hint="create it (with *.sql, *.sql.gz or *.sh files) or remove it from the list",
            )
        try:
            safety.files_in(project_dir.resolve(), folder, what="[postgres] init folder")
        except DevenvError as exc:
            raise file.error("postgres", "init", exc.message, hint=exc.hint) from None
