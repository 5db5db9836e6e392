"""compile_steps: the plan and its requirements review -> the one ordered list of steps every
renderer and runner consumes.

Pure: data in, data out. What the requirements need from the system (uv asked about the
target's Python, the host's python3 probed, the requirements files read) is the review, which
the caller computes before (steps.recipe) and passes in. Each step comes from one small
function below, in the order the steps run.
"""

from __future__ import annotations

from devenv.plan.db_init import DB_INIT_DIR
from devenv.plan.lockfile import LOCK_FILE, Lock
from devenv.plan.model import Plan
from devenv.project import smoke
from devenv.project.requirements import native_needs
from devenv.review import native
from devenv.review.source_builds import Review
from devenv.rules.distro import EXTENSION_SQL_NAMES
from devenv.steps import native_libs
from devenv.steps.installers import installer as installer_spec
from devenv.steps.model import (
    CERTS_DIR,
    CERTS_IMAGE_DIR,
    CONTAINER_ONLY,
    DB_DATA,
    DB_ENTRYPOINT,
    DB_ENTRYPOINT_IMAGE,
    DEV_UID,
    HOST_ONLY,
    REQUIREMENTS_DIR,
    USER_SCRIPT,
    USER_SCRIPT_IMAGE,
    Command,
    Kind,
    Mode,
    Phase,
    Place,
    Role,
    Scope,
    Step,
    python_path,
    venv_path,
)

APT_ENV = (("DEBIAN_FRONTEND", "noninteractive"),)
# Wait for another apt/dpkg to finish rather than fail at once (seconds).
APT_LOCK_WAIT = ("-o", "DPkg::Lock::Timeout=120")
# What init scripts need on both paths (gzip is essential, xz and zstd are not), initdb as an
# arbitrary --user (nss_wrapper), and the locale the contract names. The host gets them too,
# so both paths install the same packages.
DB_SEED_TOOLS = ("xz-utils", "zstd")
DB_IMAGE_PACKAGES = ("libnss-wrapper", "locales")
CREATECLUSTER = "/etc/postgresql-common/createcluster.conf"
PROJECT_PTH = "devenv-project.pth"
# Writes a .pth into the venv's site-packages: argv[1] names it, argv[2] is the folder it adds.
_WRITE_PTH = (
    "import pathlib, sys, sysconfig; "
    "pathlib.Path(sysconfig.get_path('purelib'), sys.argv[1]).write_text(sys.argv[2] + '\\n')"
)


def compile_steps(
    plan: Plan, mode: Mode, review: Review, *, venv: str | None = None
) -> tuple[Step, ...]:
    """`mode`'s shared steps, in order. `review` is the requirements review for `mode`'s
    Python; `venv` overrides where the venv goes (the host runner builds each venv generation
    in its own folder, then points the plan's venv path at it)."""
    venv = venv or venv_path(plan, mode)
    python = python_path(venv)
    in_image = mode is Mode.CONTAINER
    # In the image the venv's files go to the user's home (see venv_store); `venv` is the path
    # everything else uses.
    store = venv_store(plan) if in_image and venv == plan.python.container_venv else venv
    steps = (
        # prerequisites: what every later step stands on
        _trust_ca(),
        *_pgdg(plan),
        # system packages
        _system_packages_step(plan, review),
        _postgres_server(plan),
        _db_runtime(plan),
        _dev_user(plan, venv, store),
        # python environment
        _venv(venv, store),
        _pip_bootstrap(plan, python, in_image=in_image),
        *_project_path(plan, python, in_image=in_image),
        *_requirements(plan, venv, in_image=in_image),
        # verification
        _pip_check(python),
        _native_libs(plan, python),
        *_smoke_imports(plan, python),
        *_extension_checks(plan),
    )
    return tuple(s for s in steps if mode in s.modes)


def host_only_steps(plan: Plan) -> tuple[Step, ...]:
    """What only host-install does, around the shared steps: a local cluster with a role and
    database (`--with-db`), the plan's init scripts on it, the setup tasks. The places are
    what the host says when it runs (the user, the cluster found, the script's file)."""
    return (_db_cluster(plan), *_db_init(plan), *_setup_tasks(plan))


def venv_store(plan: Plan) -> str:
    """Where the image's venv files live: in its user's home. VS Code's updateRemoteUserUID
    gives that user the host user's UID and re-owns the home, and only the home, so a venv
    there stays writable; container_venv links to it unless it is in the home already."""
    home = f"/home/{plan.environment.user}"
    venv = plan.python.container_venv
    return venv if venv.startswith(f"{home}/") else f"{home}/.local/share/devenv/venv"


def pinned(packages: tuple[str, ...], lock: Lock | None) -> tuple[str, ...]:
    """devenv.lock pins every package the plan does not pin itself."""
    if not lock:
        return packages
    return tuple(
        f"{p}={lock.apt_version(p)}" if "=" not in p and lock.apt_version(p) else p
        for p in packages
    )


def apt_install(packages: tuple[str, ...]) -> tuple[str, ...]:
    return ("apt-get", *APT_LOCK_WAIT, "install", "-y", "--no-install-recommends", *packages)


def system_packages(plan: Plan, review: Review) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(packages of the dev environment, review notes): the plan's, PostgreSQL's client, what
    the requirements need at run time, and what their source builds need on the reviewed
    Python, without duplicates, in a stable order."""
    notes = []
    own = []
    for spec in plan.system.packages:  # one name per release, so both modes install the same
        named = native.apt_name(spec, plan.environment.release.codename)
        if named != spec:
            notes.append(f"{spec} is named {named} on {plan.environment.release.label}")
        own.append(named)
    wanted = ["python3", "python3-venv", *own, plan.postgres.packages.client]
    covered = set(review.packages())
    for need in native_needs(plan.requirements):
        if set(need.packages) <= covered:
            continue  # the source-build review says it, with the version and the reason
        missing = [p for p in need.packages if p not in wanted]
        wanted.extend(missing)
        added = f"; added {', '.join(missing)}" if missing else ""
        notes.append(
            f"{need.requirement}: {need.why}, so it needs {', '.join(need.packages)}{added}"
        )
    notes[:0] = review.notes()
    wanted.extend(review.packages())
    return tuple(dict.fromkeys(wanted)), tuple(notes)


def _apt(
    step_id: str,
    phase: Phase,
    title: str,
    scope: Scope,
    packages: tuple[str, ...],
    before: tuple[Command, ...] = (),
    extra: tuple[Command, ...] = (),
    notes: tuple[str, ...] = (),
    lock: Lock | None = None,
) -> Step:
    """An apt step: update, `before`, install `packages` (ca-certificates first), `extra`.
    Each image's apt step installs ca-certificates itself and trusts the host's extra CAs
    there (copied in by the shared stage), so the shared stage runs no apt at all: the two
    images' package lists are fetched side by side, never one after the other."""
    packages = pinned(tuple(dict.fromkeys(("ca-certificates", *packages))), lock)
    return Step(
        id=step_id,
        phase=phase,
        title=title,
        kind=Kind.APT,
        scope=scope,
        root=True,
        packages=packages,
        notes=notes,
        commands=(
            Command(argv=("apt-get", *APT_LOCK_WAIT, "update"), role=Role.APT_UPDATE),
            *before,
            Command(argv=apt_install(packages), env=APT_ENV, role=Role.APT_INSTALL),
            # Explicit: ca-certificates' postinst does it only when it installs the package.
            Command(argv=("update-ca-certificates",), modes=CONTAINER_ONLY),
            *extra,
            # Lists are 40-90 MB and stale by the next build: images keep none.
            Command(
                argv=("find", "/var/lib/apt/lists", "-type", "f", "-delete"), modes=CONTAINER_ONLY
            ),
        ),
    )


# -- prerequisites ---------------------------------------------------------------------------


def _trust_ca() -> Step:
    return Step(
        id="trust-ca",
        phase=Phase.PREREQUISITES,
        kind=Kind.CA,
        scope=Scope.BASE,
        root=True,
        title="The host's extra CA certificates, trusted by each image's apt step",
        modes=CONTAINER_ONLY,
        copies=((f"{CERTS_DIR}/", f"{CERTS_IMAGE_DIR}/"),),
        commands=(),
    )


def _pgdg(plan: Plan) -> tuple[Step, ...]:
    if not plan.postgres.packages.needs_pgdg_repo:
        return ()
    script = "/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh"
    return (
        _apt(
            "pgdg",
            Phase.PREREQUISITES,
            "PostgreSQL apt repository (PGDG)",
            Scope.BASE,
            ("postgresql-common",),
            extra=(Command(argv=(script, "-y")),),
            lock=plan.lock,
        ),
    )


# -- system packages -------------------------------------------------------------------------


def _system_packages_step(plan: Plan, review: Review) -> Step:
    packages, notes = system_packages(plan, review)
    return _apt(
        "system-packages",
        Phase.SYSTEM,
        "System packages",
        Scope.DEV,
        packages,
        notes=notes,
        lock=plan.lock,
    )


def _postgres_server(plan: Plan) -> Step:
    pg = plan.postgres.packages
    # postgresql-common is named (the server pulls it in anyway) so devenv.lock pins it too.
    server_packages = (
        "postgresql-common",
        pg.server,
        pg.client,
        *pg.extensions,
        *DB_SEED_TOOLS,
        *DB_IMAGE_PACKAGES,
    )
    return _apt(
        "postgres-server",
        Phase.SYSTEM,
        f"PostgreSQL {plan.postgres.version} server with {', '.join(plan.postgres.extensions)}",
        Scope.DB,
        server_packages,
        before=_no_main_cluster(plan.lock),
        extra=_db_image_only(),
        lock=plan.lock,
    )


def _no_main_cluster(lock: Lock | None) -> tuple[Command, ...]:
    """postgresql-common makes a 'main' cluster when a server installs; the image's entrypoint
    makes its own in PGDATA, so the image turns that off first, as the official image does
    (no initdb at build time). The host keeps it."""
    return (
        Command(
            argv=apt_install(pinned(("postgresql-common",), lock)),
            env=APT_ENV,
            modes=CONTAINER_ONLY,
        ),
        Command(
            argv=("sed", "-ri", r"s/^#?\s*(create_main_cluster)\s*=.*$/\1 = false/", CREATECLUSTER),
            modes=CONTAINER_ONLY,
        ),
        Command(
            argv=("grep", "-qx", "create_main_cluster = false", CREATECLUSTER),
            modes=CONTAINER_ONLY,
        ),
    )


def _db_image_only() -> tuple[Command, ...]:
    """The db image's locale, and no .deb files, apt caches or documentation (copyright files
    stay); /usr/share/i18n stays, so derived images can localedef other locales (as documented
    for the official image)."""
    locale = ("-i", "en_US", "-c", "-f", "UTF-8", "-A", "/usr/share/locale/locale.alias")
    return tuple(
        Command(argv=argv, modes=CONTAINER_ONLY)
        for argv in (
            ("localedef", *locale, "en_US.UTF-8"),
            ("apt-get", "clean"),
            ("find", "/usr/share/doc", "-type", "f", "!", "-name", "copyright", "-delete"),
            ("find", "/usr/share/man", "/usr/share/info", "-mindepth", "1", "-delete"),
            # Message translations (about 29 MB here): LANG is en_US, messages stay English.
            ("find", "/usr/share/locale", "-type", "f", "-name", "*.mo", "-delete"),
        )
    )


def _db_runtime(plan: Plan) -> Step:
    sample = f"/usr/share/postgresql/{plan.postgres.version}/postgresql.conf.sample"

    def folder(mode: str, path: str, owner: str = "postgres") -> Command:
        return Command(argv=("install", "-d", "-o", owner, "-g", owner, "-m", mode, path))

    return Step(
        id="db-runtime",
        phase=Phase.SYSTEM,
        kind=Kind.IMAGE,
        scope=Scope.DB,
        root=True,
        title="Database folders and the entrypoint, as in the official postgres image",
        notes=(
            "PGDATA and the socket folder are open to any --user; the entrypoint, started "
            "as root, hands them to postgres",
        ),
        modes=CONTAINER_ONLY,
        copies=((DB_ENTRYPOINT, DB_ENTRYPOINT_IMAGE),),
        commands=(
            folder("1777", DB_DATA),
            folder("3777", "/var/run/postgresql"),
            folder("0755", DB_INIT_DIR, owner="root"),
            Command(argv=("chmod", "0755", DB_ENTRYPOINT_IMAGE)),
            # The official image's old path, for compose files that name it.
            Command(argv=("ln", "-s", DB_ENTRYPOINT_IMAGE[1:], "/docker-entrypoint.sh")),
            # Every cluster initdb makes listens on all addresses (pg_hba.conf decides who).
            Command(argv=("sed", "-ri", r"s/^#?(listen_addresses)\s*=\s*\S+.*/\1 = '*'/", sample)),
            Command(argv=("grep", "-qF", "listen_addresses = '*'", sample)),
        ),
    )


def _dev_user(plan: Plan, venv: str, store: str) -> Step:
    user = plan.environment.user
    return Step(
        id="dev-user",
        phase=Phase.SYSTEM,
        kind=Kind.IMAGE,
        scope=Scope.DEV,
        root=True,
        title=f"Non-root user {user!r} owning {venv}",
        modes=CONTAINER_ONLY,
        copies=((USER_SCRIPT, USER_SCRIPT_IMAGE),),
        commands=(Command(argv=("sh", USER_SCRIPT_IMAGE, user, str(DEV_UID), venv, store)),),
    )


# -- python environment ----------------------------------------------------------------------


def _venv(venv: str, store: str) -> Step:
    return Step(
        id="venv",
        phase=Phase.PYTHON,
        kind=Kind.VENV,
        scope=Scope.DEV,
        root=False,
        title=f"Virtual environment at {venv}",
        notes=(
            (f"its files live in {store}, so VS Code's updateRemoteUserUID re-owns them",)
            if store != venv
            else ()
        ),
        commands=(Command(argv=("python3", "-m", "venv", store)),),
    )


def _pip_bootstrap(plan: Plan, python: str, *, in_image: bool) -> Step:
    bootstrap = list(installer_spec(plan.python.installer).tools)
    if plan.lock:  # the installers come from the lock too
        pins = plan.lock.python_pins()
        bootstrap = [f"{t}=={pins[t]}" if t in pins else t for t in bootstrap]
    no_cache = ("--no-cache-dir",) if in_image else ()  # images keep no pip cache
    return Step(
        id="pip-bootstrap",
        phase=Phase.PYTHON,
        kind=Kind.PIP_BOOTSTRAP,
        scope=Scope.DEV,
        root=False,
        title=f"Install {', '.join(bootstrap)} with the venv's pip",
        commands=(
            Command(argv=(python, "-m", "pip", "install", *no_cache, "--upgrade", *bootstrap)),
        ),
    )


def _project_path(plan: Plan, python: str, *, in_image: bool) -> tuple[Step, ...]:
    """The pyproject project, editable: a .pth naming its source folder, as an editable
    install's own .pth does. In the image that folder is the workspace VS Code and compose
    mount at run time, so the line is written at build time without any source in the image:
    a source edit re-runs nothing, and there is no start-up install for VS Code to wait on."""
    if plan.python.import_root is None:
        return ()
    rel = plan.python.import_root or "."
    project = plan.python.project or "."
    pyproject = "pyproject.toml" if project == "." else f"{project}/pyproject.toml"
    if in_image:
        folder = plan.devcontainer.workspace + ("" if rel == "." else f"/{rel}")
    else:
        folder = str(plan.project_dir if rel == "." else plan.project_dir / rel)
    step = Step(
        id="project-path",
        phase=Phase.PYTHON,
        kind=Kind.PIP_BOOTSTRAP,
        scope=Scope.DEV,
        root=False,
        title=f"The project of {pyproject} importable from {folder} (editable)",
        commands=(Command(argv=(python, "-c", _WRITE_PTH, PROJECT_PTH, folder)),),
    )
    return (step,)


def _requirements(plan: Plan, venv: str, *, in_image: bool) -> tuple[Step, ...]:
    lock = plan.lock
    # With a lock, the lock is the requirements file: every package pinned, every hash checked.
    sources = (LOCK_FILE,) if lock else plan.python.requirements
    if not sources:  # nothing to install (an installer given no files refuses to run)
        return ()
    base = REQUIREMENTS_DIR if in_image else str(plan.project_dir)
    dash_r = tuple(arg for f in sources for arg in ("-r", f"{base}/{f}"))
    if lock or plan.requirements.hashed:
        # pip turns hash-checking on for the whole install when any line has --hash; uv only
        # when told. Said outright, both refuse an unhashed or unpinned package alike.
        dash_r = ("--require-hashes", *dash_r)
    spec = installer_spec(plan.python.installer)
    argv, env = spec.install(venv, dash_r, in_image=in_image)
    step = Step(
        id="requirements",
        phase=Phase.PYTHON,
        kind=Kind.PIP_INSTALL,
        scope=Scope.DEV,
        root=False,
        title=f"Install {', '.join(sources)} with {spec.name.value}",
        notes=(plan.python.installer_note,) if plan.python.installer_note else (),
        copies=tuple(
            (f, f"{REQUIREMENTS_DIR}/{f}") for f in (sources if lock else plan.requirements.files)
        ),
        commands=(Command(argv=argv, env=env),),
    )
    return (step,)


# -- verification ----------------------------------------------------------------------------


def _check(step_id: str, title: str, argv: tuple[str, ...], notes: tuple[str, ...] = ()) -> Step:
    """A check of the dev environment: runs in the venv, changes nothing."""
    return Step(
        id=step_id,
        phase=Phase.VERIFY,
        kind=Kind.CHECK,
        scope=Scope.DEV,
        root=False,
        title=title,
        notes=notes,
        commands=(Command(argv=argv),),
    )


def _pip_check(python: str) -> Step:
    return _check(
        "pip-check",
        "pip check: installed packages have compatible dependencies",
        (python, "-m", "pip", "check"),
    )


def _native_libs(plan: Plan, python: str) -> Step:
    release = plan.environment.release
    return _check(
        "native-libs",
        "Every library the venv's extension modules link is on the system",
        native_libs.argv(python, release.codename, release.label),
    )


def _smoke_imports(plan: Plan, python: str) -> tuple[Step, ...]:
    """One program imports each module and names, for a failure, the requirement that should
    have provided it (devenv.project.smoke)."""
    if not plan.python.smoke:
        return ()
    pins = plan.lock.python_pins() if plan.lock else None
    derived = (
        "smoke (derived from requirements): the framework, ORM, driver and pgvector modules "
        "they name; [python] smoke sets the list"
    )
    step = _check(
        "smoke-imports",
        f"Import {', '.join(plan.python.smoke)}",
        (
            python,
            "-c",
            smoke.PROGRAM,
            *smoke.arguments(plan.python.smoke, plan.requirements, pins),
        ),
        notes=(derived,) if plan.python.smoke_derived else (),
    )
    return (step,)


def _extension_checks(plan: Plan) -> tuple[Step, ...]:
    """Each extension, created in a running database and used: `devenv verify` and
    host-install --with-db, never an image build."""
    return tuple(
        Step(
            id=f"extension-{ext}",
            phase=Phase.VERIFY,
            kind=Kind.DB_CHECK,
            scope=Scope.DB,
            root=False,
            at_build=False,
            title=f"CREATE EXTENSION {EXTENSION_SQL_NAMES[ext]} and a vector query",
            commands=(
                Command(
                    argv=(
                        "psql",
                        "-v",
                        "ON_ERROR_STOP=1",
                        "-c",
                        f"CREATE EXTENSION IF NOT EXISTS {EXTENSION_SQL_NAMES[ext]}",
                        "-c",
                        "SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector",
                    )
                ),
            ),
        )
        for ext in plan.postgres.extensions
    )


# -- host only -------------------------------------------------------------------------------


def _db_cluster(plan: Plan) -> Step:
    major = str(plan.postgres.version)
    port, user = Place.PORT.value, Place.USER.value
    return Step(
        id="db-cluster",
        phase=Phase.SYSTEM,
        kind=Kind.DB_CLUSTER,
        scope=Scope.DB,
        root=True,
        modes=HOST_ONLY,
        title=(
            f"Local PostgreSQL {plan.postgres.version} cluster, a role and the "
            f"{plan.postgres.database!r} database for the current user"
        ),
        notes=("each command runs only when what it makes is missing",),
        commands=(
            Command(argv=("pg_createcluster", major, "main"), role=Role.CREATE_CLUSTER),
            Command(
                argv=("pg_ctlcluster", major, Place.CLUSTER.value, "start"),
                role=Role.START_CLUSTER,
            ),
            Command(argv=("createuser", "-p", port, "--superuser", user), role=Role.CREATE_ROLE),
            Command(
                argv=("createdb", "-p", port, "-O", user, plan.postgres.database),
                role=Role.CREATE_DATABASE,
            ),
        ),
    )


def _db_init(plan: Plan) -> tuple[Step, ...]:
    if not plan.postgres.init:
        return ()
    folders = tuple(str(plan.project_dir / folder) for folder in plan.postgres.init)
    step = Step(
        id="db-init",
        phase=Phase.SYSTEM,
        kind=Kind.DB_INIT,
        scope=Scope.DB,
        root=False,
        modes=HOST_ONLY,
        title=f"Init scripts of [postgres] init ({', '.join(plan.postgres.init)})",
        notes=("only on a database this run created, as the db image's entrypoint",),
        commands=(Command(argv=("bash", Place.DB_INIT_SCRIPT.value, *folders)),),
    )
    return (step,)


def _setup_tasks(plan: Plan) -> tuple[Step, ...]:
    if not plan.tasks.setup:
        return ()
    step = Step(
        id="setup-tasks",
        phase=Phase.TASKS,
        kind=Kind.TASKS,
        scope=Scope.DEV,
        root=False,
        modes=HOST_ONLY,
        title=f"Setup tasks of [tasks] setup ({len(plan.tasks.setup)})",
        commands=tuple(Command(argv=argv) for argv in plan.tasks.argvs()),
    )
    return (step,)
