"""`devenv run -- CMD…` and `devenv shell`: a command in the environment, whichever mode it is.

Container: in the app container, as the plan's user, in the workspace (`docker compose exec`),
starting the services first when they are not running. Host (`--host`, and the default where no
engine answers): in the project folder with the host venv first on PATH, DATABASE_URL for the
database `host-install --with-db` made, and the env files and `[env] vars` (devenv.plan.envfiles
gives the precedence, the same in both modes).

The command's exit code is devenv's; it gets a TTY when stdin is one. On the host devenv
execs the command, so it is the process: signals and the terminal reach it directly. In the
container a signal sent to devenv (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) is
passed on with `kill` to the command itself (its PID inside the container is recorded by a
one-line wrapper), not to the `docker` process between them. Values of env files travel in the
environment of `docker compose exec` (`-e NAME` without a value), never in an argv.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType

from devenv.container.compose import Compose
from devenv.errors import DevenvError, UsageError
from devenv.plan import envfiles
from devenv.plan.model import Plan

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
# Records the command's PID (inside the container) in $0, then becomes the command.
WRAPPER = 'echo $$ > "$0" && exec "$@"'
EXIT_NOT_FOUND = 127


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
    from devenv.container.engine import Engine
    from devenv.errors import EngineError

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
    from devenv.host import db as host_db
    from devenv.host.execute import Executor

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
    if found is None:
        log(f"devenv: error: {argv[0]}: command not found (in the host venv or on PATH)")
        return EXIT_NOT_FOUND
    os.chdir(plan.project_dir)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(found, list(argv), env)  # noqa: S606 (an argv, as given: no shell)
    raise AssertionError("unreachable")  # pragma: no cover


def ensure_services(compose: Compose, log: Log, timeout: float) -> None:
    """Start the services (from the built images) when the app is not running."""
    from devenv.render.files import COMPOSE

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
    compose: Compose, plan: Plan, argv: Sequence[str], names: Sequence[str], pidfile: str, tty: bool
) -> list[str]:
    exec_args = [
        "exec",
        *([] if tty else ["-T"]),
        "--user",
        plan.environment.user,
        "--workdir",
        plan.devcontainer.workspace,
        *(arg for name in names for arg in ("-e", name)),
        APP,
        "sh",
        "-c",
        WRAPPER,
        pidfile,
        *argv,
    ]
    return compose.argv(*exec_args)


def run_in_container(plan: Plan, argv: Sequence[str], log: Log, timeout: float = 120.0) -> int:
    from devenv.files.local import write_local_compose

    compose = Compose(plan, log=lambda _: None)
    write_local_compose(plan)
    ensure_services(compose, log, timeout)
    # Re-read now, so an edit since the container started counts (compose read them then).
    files = envfiles.layered(plan.project_dir, plan.env.files, plan.env.vars)
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    # In the container's own /tmp, under a name nobody can guess, written by the command's user.
    pidfile = f"/tmp/devenv-run-{secrets.token_hex(8)}.pid"  # noqa: S108
    full = container_argv(compose, plan, argv, sorted(files), pidfile, tty)
    env = {**os.environ, **files}
    # Without a TTY the docker process gets a session of its own, so a Ctrl-C reaches only
    # devenv, which passes it to the command; with one, the terminal is docker's (raw mode).
    proc = subprocess.Popen(full, env=env, start_new_session=not tty)

    def forward(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name.removeprefix("SIG")
        kill = compose.argv(
            "exec", "-T", APP, "sh", "-c", 'kill -s "$1" "$(cat "$0")"', pidfile, name
        )
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
