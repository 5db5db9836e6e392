"""`devenv run -- CMD…` and `devenv shell`: a command in the environment, whichever mode it is.

Container: in the app container, as the plan's user, in the workspace (`docker compose exec`),
starting the services first when they are not running. Host (`--host`, and the default where no
engine answers): in the project folder with the host venv first on PATH, DATABASE_URL for the
database `host-install --with-db` made, and the env files and `[env] vars` (devenv.plan.envfiles
gives the precedence, the same in both modes).

The command's exit code is devenv's (127: not found, 126: not executable, as a shell says); it
gets a TTY when stdin is one. On the host devenv execs the command, so it is the process:
signals and the terminal reach it directly. In the container the command runs as you: your UID
and GID (render.scripts.AS_USER maps the image's user to them), so what it writes in the
workspace is yours. A signal sent to devenv (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1,
SIGUSR2) is passed on with `kill` to the command itself (its PID inside the container is
recorded by a one-line wrapper), not to the `docker` process between them.

Only devenv decides the environment of docker and compose: the user's own, never a value of the
project. The env files' values reach the command through a file devenv writes for the run
(.devenv/run/, mode 0600, removed as it is read), never an argv or docker's environment.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from devenv.container.compose import Compose
from devenv.container.engine import Engine
from devenv.errors import DevenvError, EngineError, UsageError
from devenv.files.local import write_local_compose
from devenv.fs import safety
from devenv.host import db as host_db
from devenv.host.execute import Executor
from devenv.plan import envfiles
from devenv.plan.model import Plan
from devenv.render.files import COMPOSE
from devenv.render.scripts import as_user

Log = Callable[[str], None]
APP = "app"
FORWARDED = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
RUN_DIR = f"{safety.STATE_DIR}/run"  # the per-run env files, inside the project


@dataclass(frozen=True, kw_only=True)
class HostDatabase:
    env: tuple[tuple[str, str], ...]  # DATABASE_URL, PGHOST, PGPORT, PGDATABASE
    note: str  # one line for stderr when there is none


def choose_mode(host: bool, container: bool) -> str:
    if host and container:
        raise UsageError("--host and --container exclude each other", hint="pass one of them")
    if host:
        return "host"
    if container:
        return "container"
    if shutil.which("docker") is None:
        return "host"
    try:
        with Engine.connect():
            return "container"
    except EngineError:
        return "host"


def host_database(plan: Plan) -> HostDatabase:
    """The database `host-install --with-db` made for this user, if a cluster of the plan's
    major is there (found the way host-install finds it)."""
    executor = Executor(echo=lambda _: None, dry_run=True)
    cluster = host_db.find_cluster(executor, plan.postgres.version)
    if cluster is None:
        return HostDatabase(
            env=(),
            note=f"devenv: no local PostgreSQL {plan.postgres.version} cluster, so DATABASE_URL "
            "is not set (`devenv host-install --with-db` makes one)",
        )
    database = host_db.Database(
        user=host_db.role_name(executor), name=plan.postgres.database, port=cluster.port
    )
    return HostDatabase(env=(("DATABASE_URL", database.url), *database.env()), note="")


def host_environment(plan: Plan, base: Mapping[str, str], database: HostDatabase) -> dict[str, str]:
    """Your environment, then the env files and [env] vars, the venv, the database."""
    venv = plan.project_dir / plan.python.venv
    if not (venv / "bin" / "python").exists():
        raise DevenvError(
            f"{venv}: there is no host venv yet",
            hint="run `devenv host-install` (`--with-db` for a local database) first",
        )
    env = dict(base)
    env.update(envfiles.layered(plan.project_dir, plan.env.files, plan.env.vars))
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{base.get('PATH', os.defpath)}"
    env.pop("PYTHONHOME", None)
    env.update(database.env)
    return env


def run_on_host(plan: Plan, argv: Sequence[str], log: Log) -> int:
    """Replace devenv with the command (exit code, TTY and signals are then its own)."""
    database = host_database(plan)
    env = host_environment(plan, os.environ, database)
    if database.note:
        log(database.note)
    found = shutil.which(argv[0], path=env["PATH"]) if "/" not in argv[0] else argv[0]
    # A path is the project folder's (the command runs there), not devenv's working folder.
    where = os.path.join(plan.project_dir, found) if found is not None else ""
    if found is not None and not os.path.lexists(where):
        found = None
    if found is None:
        log(f"devenv: error: {argv[0]}: command not found (in the host venv or on PATH)")
        return EXIT_NOT_FOUND
    if os.path.isdir(where) or not os.access(where, os.X_OK):
        log(f"devenv: error: {argv[0]}: not an executable file")
        return EXIT_NOT_EXECUTABLE
    os.chdir(plan.project_dir)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(found, list(argv), env)  # noqa: S606 (an argv, as given: no shell)
    except FileNotFoundError:  # a script whose interpreter is missing
        log(f"devenv: error: {argv[0]}: its interpreter was not found")
        return EXIT_NOT_FOUND
    except OSError as exc:
        log(f"devenv: error: {argv[0]}: can't run it: {exc.strerror}")
        return EXIT_NOT_EXECUTABLE
    raise AssertionError("unreachable")  # pragma: no cover


def ensure_services(compose: Compose, log: Log, timeout: float) -> None:
    """Start the services (from the built images) when the app is not running."""
    compose.version()  # one line when the Compose plugin is missing
    running = {s.service for s in compose.services() if s.running}
    if APP in running and "db" in running:
        return
    if not (compose.root / COMPOSE).is_file():
        raise DevenvError(
            f"{compose.root}: no compose.yaml, so there are no services to run in",
            hint="run `devenv up` once (it generates, builds and starts them)",
        )
    log("devenv: the services are not running: starting them (docker compose up)")
    Compose(compose.plan, log=log).up(timeout=timeout)


def container_argv(
    compose: Compose,
    plan: Plan,
    argv: Sequence[str],
    *,
    pidfile: str,
    envfile: str,
    tty: bool,
    uid: int | None = None,
    gid: int | None = None,
) -> list[str]:
    exec_args = [
        "exec",
        *([] if tty else ["-T"]),
        "--user",
        "root",
        "--workdir",
        plan.devcontainer.workspace,
        APP,
        *as_user(
            plan.environment.user,
            argv,
            pidfile=pidfile,
            envfile=envfile,
            uid=os.getuid() if uid is None else uid,
            gid=os.getgid() if gid is None else gid,
        ),
    ]
    return compose.argv(*exec_args)


def env_script(values: Mapping[str, str], container_path: str) -> str:
    """The env file of one run, for AS_USER_COMMAND to read: `export KEY='value'` lines (keys
    are shell names, values quoted), then a line removing the file."""
    lines = [f"export {key}={shlex.quote(value)}\n" for key, value in sorted(values.items())]
    return "".join(lines) + f"/bin/rm -f -- {shlex.quote(container_path)}\n"


def write_run_env(plan: Plan, values: Mapping[str, str]) -> tuple[Path, str]:
    """(host path, container path) of this run's env file, written 0600 in .devenv/run/."""
    safety.check_real_dirs(plan.project_dir, [RUN_DIR])
    safety.inside(plan.project_dir, RUN_DIR, what="run folder")
    folder = plan.project_dir / RUN_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"{secrets.token_hex(8)}.env"
    container_path = f"{plan.devcontainer.workspace}/{RUN_DIR}/{name}"
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(env_script(values, container_path))
    return path, container_path


def run_in_container(plan: Plan, argv: Sequence[str], log: Log, timeout: float = 120.0) -> int:
    compose = Compose(plan, log=lambda _: None)
    write_local_compose(plan)
    ensure_services(compose, log, timeout)
    # Re-read now, so an edit since the container started counts (compose read them then).
    files = envfiles.layered(plan.project_dir, plan.env.files, plan.env.vars)
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    # In the container's own /tmp, under a name nobody can guess, written by the command's user.
    pidfile = f"/tmp/devenv-run-{secrets.token_hex(8)}.pid"  # noqa: S108
    host_env, container_env = write_run_env(plan, files) if files else (None, "")
    full = container_argv(compose, plan, argv, pidfile=pidfile, envfile=container_env, tty=tty)
    try:
        return _wait(compose, full, pidfile, tty)
    finally:
        if host_env is not None:
            host_env.unlink(missing_ok=True)


def _wait(compose: Compose, full: list[str], pidfile: str, tty: bool) -> int:
    # docker gets the user's environment as it is: no value of the project's reaches it.
    # Without a TTY the docker process gets a session of its own, so a Ctrl-C reaches only
    # devenv, which passes it to the command; with one, the terminal is docker's (raw mode).
    proc = subprocess.Popen(full, start_new_session=not tty)

    def forward(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name.removeprefix("SIG")
        # As root: the command runs as the caller's UID, which the image's user may not be.
        kill = compose.argv(
            "exec", "-T", "--user", "root", APP, "sh", "-c", 'kill -s "$1" "$(cat "$0")"',
            pidfile, name,
        )  # fmt: skip
        subprocess.run(kill, capture_output=True, check=False, timeout=30)

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        while True:
            try:
                code = proc.wait()
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries for us
                continue
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code if code >= 0 else 128 - code
