"""`host-install --with-db`: a local cluster of the plan's PostgreSQL major, and a role and
database for the current user.

Debian's postgresql-common does the work: pg_lsclusters, pg_createcluster, pg_ctlcluster
(which starts the server directly where systemd is not running, as in containers). The role
and database are made as the `postgres` user (runuser as root, `sudo -n -u postgres`
otherwise). The user connects over the unix socket with peer authentication: no password
exists, so none can leak into argv, files or logs.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from dataclasses import dataclass
from urllib.parse import quote

from devenv.errors import HostError
from devenv.host.execute import Env, Executor
from devenv.plan.model import Plan
from devenv.render.scripts import HOST_DB_INIT
from devenv.steps.model import Place, Role, Step

SOCKET_DIR = "/var/run/postgresql"  # Debian's unix_socket_directories
DEFAULT_PORT = 5432
_ROLE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,62}")


@dataclass(frozen=True, kw_only=True)
class Cluster:
    version: int
    name: str
    port: int
    status: str  # "online", "down", "online,recovery", ...

    @property
    def online(self) -> bool:
        return self.status.split(",")[0] == "online"


@dataclass(frozen=True, kw_only=True)
class Database:
    user: str
    name: str
    port: int
    created: bool = False  # by this run: the plan's init scripts run on it

    @property
    def url(self) -> str:
        user = quote(self.user, safe="")
        return f"postgresql://{user}@/{self.name}?host={SOCKET_DIR}&port={self.port}"

    def env(self) -> Env:
        """Where psql and libpq connect: the socket, the port, the database."""
        return (("PGHOST", SOCKET_DIR), ("PGPORT", str(self.port)), ("PGDATABASE", self.name))


def parse_clusters(text: str) -> tuple[Cluster, ...]:
    """`pg_lsclusters -h` lines: version, name, port, status, owner, data dir, log file."""
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0].isdigit() and parts[2].isdigit():
            found.append(
                Cluster(version=int(parts[0]), name=parts[1], port=int(parts[2]), status=parts[3])
            )
    return tuple(found)


def find_cluster(executor: Executor, major: int) -> Cluster | None:
    probe = executor.probe(("pg_lsclusters", "-h"))
    if probe.returncode != 0:
        return None
    clusters = [c for c in parse_clusters(probe.stdout) if c.version == major]
    clusters.sort(key=lambda c: (c.name != "main", c.name))
    return clusters[0] if clusters else None


def role_name(executor: Executor) -> str:
    if not _ROLE.fullmatch(executor.user):
        raise HostError(
            f"can't make a PostgreSQL role for the user name {executor.user!r}",
            hint="run host-install --with-db as a user with a plain name (letters, digits, _-.)",
        )
    return executor.user


def setup(executor: Executor, plan: Plan, step: Step, what: str) -> tuple[bool, Database]:
    """Make sure the cluster runs and the role and database exist, with the commands of the
    recipe's db-cluster `step`, each only when what it makes is missing. (changed, database)"""
    major = plan.postgres.version
    user = role_name(executor)
    cluster, created = _ensure_cluster(executor, major, step, what)
    cluster_name = cluster.name if cluster else "main"
    port = cluster.port if cluster else DEFAULT_PORT
    places = {Place.CLUSTER: cluster_name, Place.PORT: str(port)}
    started = _ensure_started(executor, cluster, step, places, what)
    changed = created or started
    database = Database(user=user, name=plan.postgres.database, port=port)
    if not changed and cluster is not None and _user_gets_in(executor, database):
        return False, database
    running = not executor.dry_run or (cluster is not None and cluster.online)
    log = f"/var/log/postgresql/postgresql-{major}-{cluster_name}.log"
    made, database = _ensure_role_and_database(
        executor, step, places, database, running=running, server=f"PostgreSQL {major}",
        log=log, what=what,
    )  # fmt: skip
    return changed or made, database


def _ensure_cluster(
    executor: Executor, major: int, step: Step, what: str
) -> tuple[Cluster | None, bool]:
    """The cluster of ``major``, made when there is none (None when a dry run would make it),
    and whether it was made."""
    cluster = find_cluster(executor, major)
    if cluster is not None:
        return cluster, False
    executor.require_root(what)
    executor.run(executor.as_root(step.command(Role.CREATE_CLUSTER)), what=what)
    cluster = find_cluster(executor, major) if not executor.dry_run else None
    if cluster is None and not executor.dry_run:
        raise HostError(
            f"pg_createcluster {major} main made no cluster pg_lsclusters shows",
            hint="check `pg_lsclusters` and the PostgreSQL log",
        )
    return cluster, True


def _ensure_started(
    executor: Executor, cluster: Cluster | None, step: Step, places: dict[Place, str], what: str
) -> bool:
    """Starts the cluster unless it is online; whether it was started."""
    if cluster is not None and cluster.online:
        return False
    executor.require_root(what)
    start = step.command(Role.START_CLUSTER).resolved(places)
    executor.run(executor.as_root(start), what=what)
    return True


def _user_gets_in(executor: Executor, database: Database) -> bool:
    """Whether the user gets in already: role, database and peer authentication are in place
    (finding that out needs no root)."""
    probe = executor.probe(("psql", "-X", "-tAc", "SELECT 1"), env=database.env())
    return probe.returncode == 0


def _ensure_role_and_database(
    executor: Executor,
    step: Step,
    places: dict[Place, str],
    database: Database,
    *,
    running: bool,
    server: str,
    log: str,
    what: str,
) -> tuple[bool, Database]:
    """The user's role and database, each made when the running server lacks it (or when it
    can't be asked, in a dry run). (changed, database)"""
    changed = False
    # Constant queries; membership is decided here, so no name is ever spliced into SQL.
    wanted = (
        ("SELECT rolname FROM pg_roles", database.user, step.command(Role.CREATE_ROLE)),
        ("SELECT datname FROM pg_database", database.name, step.command(Role.CREATE_DATABASE)),
    )
    for query, name, create in wanted:
        executor.require_root(what)
        if running and name in _listed(executor, query, database.port, server, log, what):
            continue
        executor.run(executor.as_postgres(create.resolved(places).argv), what=what)
        changed = True
        if name == database.name:
            database = dataclasses.replace(database, created=True)
    return changed, database


def _listed(
    executor: Executor, query: str, port: int, server: str, log: str, what: str
) -> list[str]:
    """The names ``query`` lists, asked as the postgres user."""
    argv = ("psql", "-X", "-p", str(port), "-d", "postgres", "-tAc", query)
    probe = executor.probe(executor.as_postgres(argv).argv)
    if probe.returncode != 0:
        said = (probe.stderr.strip().splitlines() or [f"status {probe.returncode}"])[-1]
        raise HostError(
            f"{what}: can't query {server} on port {port}: {said}",
            hint=f"check `pg_lsclusters` and {log}",
        )
    return probe.stdout.split()


def run_init(executor: Executor, step: Step, database: Database, what: str) -> None:
    """The plan's [postgres] init folders on `database` (the recipe's db-init `step`), as the
    db image's entrypoint runs them (the same bash functions, the same order), as the user
    who owns it. The first failing script stops the run, as it stops the container."""
    fd, script = tempfile.mkstemp(prefix="devenv-db-init-", suffix=".sh")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(HOST_DB_INIT)
        env = (*database.env(), ("POSTGRES_USER", database.user), ("POSTGRES_DB", database.name))
        command = dataclasses.replace(
            step.commands[0].resolved({Place.DB_INIT_SCRIPT: script}), env=env
        )
        try:
            executor.run(command, what=what)
        except HostError as exc:
            raise HostError(
                exc.message,
                hint=f"fix the script, then `dropdb {database.name}` and run host-install "
                "--with-db again: init scripts run only on a new database",
            ) from None
    finally:
        os.unlink(script)


def extensions_present(executor: Executor, database: Database, names: tuple[str, ...]) -> bool:
    """Whether every extension in `names` exists in the database (asked as the user)."""
    argv = ("psql", "-X", "-tAc", "SELECT extname FROM pg_extension")
    probe = executor.probe(argv, env=database.env())
    return probe.returncode == 0 and set(names) <= set(probe.stdout.split())
