"""`devenv verify`: start the images `devenv build` made, with testcontainers, and check them
the way a user relies on them (checks: devenv.verify.db and devenv.verify.dev).

The only module in devenv that imports testcontainers, and only inside functions, so commands
that need no engine never load it. A run is nested context managers (devenv.verify.resources),
each leaving cleans up what its entering made, in reverse order, also when a start fails:

    swept (whatever still carries the run's label)
      network, data volume
        workers, side by side to stay within a few seconds:
        - db: PostgresContainer from the local db image (never pulled) on the volume and the
          network -> server, extension and vector checks over psycopg from here, beside the
          dev container's round trip to it -> a second container on the same volume (restart);
        - dev: the dev image on the network -> one probe (Python, imports, pip check, libpq,
          the Postgres drivers the venv holds: their checks join the catalogue), kept until
          the db worker's round trips in it are done (devenv's psql, then each driver);
        - no-password: the db image without POSTGRES_PASSWORD must exit and say why.

Every container, network and volume carries dev.devenv.verify=<run id>,
dev.devenv.project=<name> and dev.devenv.verify.owner=<host>:<pid>, and is removed whatever
happened (passed, failed, never ready within the timeout, Ctrl-C or SIGTERM). A run killed
outright leaves them behind; the next verify removes them first, but only when their owner
process is gone, so a verify running next to this one is left alone. The testcontainers reaper
is not used (its image cannot be pulled on air-gapped machines).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from devenv.container.engine import Engine, engine_errors, is_read_timeout, prepare_clients
from devenv.errors import VerifyError
from devenv.plan import db_init
from devenv.plan.model import Plan, Target
from devenv.render.labels import LABEL_PLAN
from devenv.steps.model import DB_DATA
from devenv.steps.recipe import Recipe, compile_plan
from devenv.verify import db as verify_db
from devenv.verify import dev as verify_dev
from devenv.verify.leftovers import (
    OWNER_LABEL,
    PROJECT_LABEL,
    RUN_LABEL,
    ignorable,
    new_run_id,
    remove_labelled,
    remove_leftovers,
)
from devenv.verify.report import CheckFailed, Checks, Report, describe_exception, one_line
from devenv.verify.resources import Interrupts, Run, Workers

DEFAULT_TIMEOUT = 60.0  # seconds a container may take to become ready
# What this kind of machine needs, unless the user set it: no reaper (its image can't be pulled
# here; we clean up ourselves), and the engine's published ports on the docker host (with
# /.dockerenv present testcontainers would otherwise dial the bridge gateway).
TESTCONTAINERS_ENV = {
    "TESTCONTAINERS_RYUK_DISABLED": "true",
    "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
}
_TRUE = ("yes", "true", "t", "y", "1")  # what testcontainers reads as true
CONNECTION_MODES = ("bridge_ip", "gateway_ip", "docker_host")
TESTCONTAINERS = "testcontainers[postgres]>=4.9"  # 4.9 reads TESTCONTAINERS_CONNECTION_MODE

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- testcontainers, lazily -------------------------------------------------------------------


def default_testcontainers_env(environ: MutableMapping[str, str]) -> dict[str, str]:
    """Set TESTCONTAINERS_ENV where unset (testcontainers reads some of it at import time);
    returns what was added."""
    added = {k: v for k, v in TESTCONTAINERS_ENV.items() if not environ.get(k, "").strip()}
    environ.update(added)
    return added


def load_testcontainers(environ: MutableMapping[str, str]) -> None:
    """Import testcontainers with the environment it needs here, or raise VerifyError."""
    prepare_clients()  # its docker clients keep a TLS engine's own CA, as ours do
    imported_before = "testcontainers.core.config" in sys.modules
    added = default_testcontainers_env(environ)
    mode = environ["TESTCONTAINERS_CONNECTION_MODE"]
    if mode not in CONNECTION_MODES:  # testcontainers would raise at import
        raise VerifyError(
            f"TESTCONTAINERS_CONNECTION_MODE={mode!r} is not one of {', '.join(CONNECTION_MODES)}",
            hint="unset it (devenv uses docker_host)",
        )
    try:
        version = importlib.metadata.version("testcontainers")
        from testcontainers.core.config import ConnectionMode
        from testcontainers.core.config import testcontainers_config as config
    except ImportError as exc:  # PackageNotFoundError is one
        raise VerifyError(
            f"devenv verify needs testcontainers: {exc}", hint=f"pip install '{TESTCONTAINERS}'"
        ) from exc
    if tuple(int(p) for p in re.findall(r"\d+", version)[:2]) < (4, 9):
        raise VerifyError(
            f"testcontainers {version} is too old for devenv verify: it ignores "
            "TESTCONTAINERS_CONNECTION_MODE",
            hint=f"pip install '{TESTCONTAINERS}'",
        )
    if imported_before and added:  # it read the environment before we set it: tell it again
        config.connection_mode_override = ConnectionMode(mode)
        config.ryuk_disabled = environ["TESTCONTAINERS_RYUK_DISABLED"].lower() in _TRUE


def _killed_first(stop: Callable[..., None]) -> Callable[..., None]:
    """testcontainers' `stop` (a forced removal) after a kill. Podman's forced removal stops the
    container first, with its 10 s grace, and `sleep infinity` as PID 1 ignores the SIGTERM:
    every verify waited 10 s per container. Docker's forced removal kills at once anyway."""

    def stop_killed_first(self: Any, force: bool = True, delete_volume: bool = True) -> None:
        if self._container is not None:
            try:
                self._container.kill()
            except engine_errors():
                pass  # not running (exited, stopped, never started): the removal still runs
        stop(self, force=force, delete_volume=delete_volume)

    return stop_killed_first


def _postgres_class() -> Any:
    """testcontainers' PostgresContainer (its home moved in 4.x), with our readiness wait."""
    try:
        module = importlib.import_module("testcontainers.community.postgres")
    except ImportError:
        module = importlib.import_module("testcontainers.postgres")

    def _connect(self: Any) -> None:
        _wait_ready(self, self.devenv_run)

    base = module.PostgresContainer
    return type("DevenvPostgres", (base,), {"_connect": _connect, "stop": _killed_first(base.stop)})


def _docker_container(image: str) -> Any:
    from testcontainers.core.container import DockerContainer

    killed_first = type(
        "DevenvContainer", (DockerContainer,), {"stop": _killed_first(DockerContainer.stop)}
    )
    return killed_first(image)


# --- the run's network and volume -------------------------------------------------------------


def _warn_unless_gone(run: Run, what: str, exc: BaseException) -> None:
    if not ignorable(exc):
        run.log(f"verify: warning: removing {what}: {describe_exception(exc)}")


def _cannot_create(exc: BaseException) -> VerifyError:
    return VerifyError(
        f"cannot create verify's network or volume: {describe_exception(exc)}",
        hint="check the engine (`docker info`) and its free disk space",
    )


@contextmanager
def _private_network(run: Run) -> Iterator[Any]:
    """The network the dev container reaches the db on; removed on leaving."""
    from testcontainers.core.network import Network

    run.check()
    network = Network(docker_network_kw={"labels": dict(run.labels)})
    network.name = run.name("net")
    try:
        network.create()
    except engine_errors() as exc:
        raise _cannot_create(exc) from exc
    run.network = network
    try:
        yield network
    finally:
        run.network = None
        try:
            network.remove()
        except engine_errors() as exc:
            _warn_unless_gone(run, f"network {network.name}", exc)


@contextmanager
def _data_volume(run: Run, client: Any) -> Iterator[str]:
    """The volume both db containers use in turn (the restart check); removed on leaving."""
    run.check()
    name = run.name("pgdata")
    try:
        volume = client.volumes.create(name=name, labels=dict(run.labels))
    except engine_errors() as exc:
        raise _cannot_create(exc) from exc
    run.volume = name
    try:
        yield name
    finally:
        run.volume = ""
        try:
            volume.remove(force=True)
        except engine_errors() as exc:
            _warn_unless_gone(run, f"volume {name}", exc)


@contextmanager
def _swept(run: Run, client: Any) -> Iterator[None]:
    """On leaving, whatever still carries this run's label: what a start that failed half way
    made before testcontainers knew of it (its create timed out, say)."""
    try:
        yield
    finally:
        remove_labelled(client, [f"{RUN_LABEL}={run.run_id}"], keep=lambda _: False, log=run.log)


# --- containers -------------------------------------------------------------------------------


def _logs(wrapped: Any, lines: int = 8) -> str:
    try:
        text = wrapped.logs(tail=lines).decode("utf-8", "replace")
    except engine_errors() as exc:  # for a failure message: the failure is the news, not this
        return f"(no log: {describe_exception(exc)})"
    return " | ".join(line.strip() for line in text.splitlines() if line.strip()) or "(empty log)"


def _wait_ready(container: Any, run: Run) -> None:
    """Until psycopg connects from here through the published port (kept as devenv_conn for
    the checks); fails fast if the container exits, and after run.timeout seconds. Once the
    container runs, devenv_on_running (if set) is called while the server initialises."""
    import psycopg

    wrapped = container.get_wrapped_container()
    deadline = time.monotonic() + run.timeout
    target: verify_db.Target | None = None
    last = "no answer yet"
    while True:
        run.check()
        wrapped.reload()
        if wrapped.status in ("exited", "dead"):
            code = (wrapped.attrs.get("State") or {}).get("ExitCode")
            raise CheckFailed(
                f"{wrapped.name} exited with code {code} before it was ready; log: {_logs(wrapped)}"
            )
        if wrapped.status == "running":
            if target is None:
                pg = run.plan.postgres
                target = verify_db.Target(
                    host=container.get_container_host_ip(),
                    port=int(container.get_exposed_port(5432)),
                    user=pg.user,
                    password=run.password,
                    dbname=pg.database,
                )
                container.devenv_target = target
                on_running = getattr(container, "devenv_on_running", None)
                if on_running is not None:
                    on_running(container)
            try:
                container.devenv_conn = target.connect(timeout=2)
                return
            except psycopg.OperationalError as exc:  # not accepting connections yet
                last = one_line(str(exc)) or type(exc).__name__
        if time.monotonic() >= deadline:
            raise CheckFailed(
                f"{wrapped.name} was not ready within {run.timeout:g}s ({last}); "
                f"log: {_logs(wrapped)}"
            )
        time.sleep(0.05)


def _exec(container: Any, argv: list[str], env: dict[str, str] | None = None) -> verify_dev.Exec:
    wrapped = container.get_wrapped_container()
    code, (out, err) = wrapped.exec_run(argv, environment=env, demux=True)
    return verify_dev.Exec(
        code=code,
        stdout=(out or b"").decode("utf-8", "replace"),
        stderr=(err or b"").decode("utf-8", "replace"),
    )


@dataclass(frozen=True, kw_only=True)
class Postgres:
    container: Any  # the started testcontainers PostgresContainer
    conn: verify_db.Conn  # open, from here, through the published port
    detail: str  # "ready in 2.1s (localhost:32771)"


@contextmanager
def _postgres(
    run: Run,
    role: str,
    *,
    network: bool,
    on_running: Callable[[Any], None] | None = None,
) -> Iterator[Postgres]:
    """PostgresContainer `role` on the run's data volume (and network), ready, with an open
    connection; closed and removed on leaving."""
    pg = run.plan.postgres
    configured = _postgres_class()(
        image=run.images["db"],
        username=pg.user,
        password=run.password,
        dbname=pg.database,
        driver=None,
    )
    configured.devenv_run = run
    configured.devenv_on_running = on_running
    configured.with_name(run.name(role)).with_kwargs(labels=dict(run.labels))
    configured.with_volume_mapping(run.volume, DB_DATA, "rw")
    for mount in db_init.mounts(run.plan):  # as compose mounts them
        configured.with_volume_mapping(str(run.plan.project_dir / mount.source), mount.target, "ro")
    if network:
        configured.with_network(run.network).with_network_aliases(verify_dev.DB_ALIAS)
    started = time.monotonic()
    with run.started(configured) as container:
        target: verify_db.Target = container.devenv_target
        conn: verify_db.Conn = container.devenv_conn
        detail = f"ready in {time.monotonic() - started:.1f}s ({target.host}:{target.port})"
        try:
            yield Postgres(container=container, conn=conn, detail=detail)
        finally:
            conn.close()


def _dev_container(run: Run) -> Any:
    container = _docker_container(run.images["dev"])
    container.with_name(run.name("dev")).with_kwargs(labels=dict(run.labels))
    container.with_network(run.network)
    return container


# --- the workers ------------------------------------------------------------------------------


def _db_job(
    run: Run,
    checks: Checks,
    *,
    dev: Future[Any],
    drivers: Future[verify_dev.Stack | None],
    roundtrip_done: threading.Event,
) -> None:
    plan = run.plan
    packaged: dict[str, str | None] = {}
    unasked: dict[str, str] = {}
    try:
        with ExitStack() as stack:
            first: list[Postgres] = []

            def start() -> str:
                dpkg = functools.partial(_ask_dpkg, plan, packaged, unasked)
                db = stack.enter_context(_postgres(run, "db", network=True, on_running=dpkg))
                first.append(db)
                return db.detail

            if checks.run("db-start", start):
                if plan.postgres.init:
                    checks.run("db-init-scripts", lambda: _init_scripts(first[0].container, plan))
                verify_db.run_server_checks(checks, first[0].conn, plan, packaged, unasked)
            with Workers(run) as alongside:
                alongside.spawn("roundtrip", lambda: _roundtrip(run, checks, dev, drivers))
                if first and verify_db.has_pgvector(plan):
                    verify_db.run_vector_checks(checks, first[0].conn)
            roundtrip_done.set()  # the dev container may go; the first db may stop
            checks.run("db-restart", lambda: _restart(run, stack, first[0]))
    finally:
        roundtrip_done.set()


def _ask_dpkg(
    plan: Plan, packaged: dict[str, str | None], unasked: dict[str, str], container: Any
) -> None:
    """Each extension's package version as dpkg in the db container has it, into ``packaged``
    (None: not installed), or why it could not be asked, into ``unasked``. Runs while the
    server initialises."""
    for ext in verify_db.extensions(plan):
        try:
            result = _exec(container, ["dpkg-query", "-W", "-f=${Version}", ext.package])
        except engine_errors() as exc:  # the version check says so, if it runs at all
            unasked[ext.package] = describe_exception(exc)
            continue
        found = result.stdout.strip()
        packaged[ext.package] = found if result.code == 0 and found else None


def _roundtrip(
    run: Run, checks: Checks, dev: Future[Any], drivers: Future[verify_dev.Stack | None]
) -> None:
    """The dev container's round trips to the db: devenv's psql beside the project's drivers,
    then each driver judged. Runs beside the vector checks from here."""
    container = run.result(dev)
    # The drivers come once the probe ran: the round trip needs dev-python's verdict, which
    # the dev container's start alone does not give (it was judged too early, and skipped).
    found = run.result(drivers)

    def psql() -> None:
        checks.run(verify_dev.AFTER, lambda: _psql(run, container))

    with Workers(run) as side:  # devenv's psql beside the project's drivers
        side.spawn("psql", psql)
        answers = _driver_answers(run, checks, container, found)
    if found is not None:  # judged once psql's is: each needs it (and says whose fault)
        for driver in found.drivers:
            checks.run(f"dev-db-{driver.name}", _judged(run, found, driver, answers))


def _restart(run: Run, stack: ExitStack, db: Postgres) -> str:
    """Stops the first db and starts a second on the same volume (its container entered on
    ``stack``); what a snapshot taken before says changed."""
    before = verify_db.prepare_restart(db.conn, run.run_id)
    db.conn.close()
    db.container.get_wrapped_container().stop(timeout=10)  # SIGINT: a fast shutdown
    with Workers(run) as removing:  # the stopped one goes while the next starts
        removing.spawn("db-remove", lambda: run.remove(db.container))
        again = stack.enter_context(_postgres(run, "db-restarted", network=False))
    return verify_db.compare_snapshots(before, verify_db.snapshot(again.conn, run.run_id))


def _init_scripts(container: Any, plan: Plan) -> str:
    log = container.get_wrapped_container().logs().decode("utf-8", "replace")
    expected = [f.container for f in db_init.files(plan)]
    return verify_db.judge_init_log(log, expected)


def _pg_env(run: Run) -> dict[str, str]:
    """How every client in the dev container finds the db: libpq's variables (asyncpg reads
    them too; SQLAlchemy's URL is made from them)."""
    pg = run.plan.postgres
    return {
        "PGHOST": verify_dev.DB_ALIAS,
        "PGPORT": "5432",
        "PGUSER": pg.user,
        "PGPASSWORD": run.password,
        "PGDATABASE": pg.database,
        "PGCONNECT_TIMEOUT": "10",
    }


def _psql(run: Run, dev: Any) -> str:
    result = _exec(dev, verify_dev.roundtrip_argv(run.plan), _pg_env(run))
    answer = verify_dev.marked_json(result, verify_dev.ROUNDTRIP_MARK)
    vector = verify_dev.has_vector(run.plan)
    return verify_dev.judge_psql(answer, run.name("net"), vector=vector)


Answers = dict[str, Any] | Exception | None


def _driver_answers(run: Run, checks: Checks, dev: Any, found: verify_dev.Stack | None) -> Answers:
    """Every driver's round trip, from one program in the dev container, run while psql runs;
    None when their checks will be skipped (no driver, or what psql needs did not pass)."""
    if dev is None or found is None or not found.drivers:
        return None
    if not all(checks.passed(n) for n in checks.spec(verify_dev.AFTER).needs):
        return None
    try:
        result = _exec(dev, verify_dev.drivers_argv(run.plan, found), _pg_env(run))
        return verify_dev.marked_json(result, verify_dev.ROUNDTRIP_MARK)
    except CheckFailed as exc:
        return CheckFailed(f"devenv's: the drivers' round trip: {exc}")
    except engine_errors() as exc:  # each driver's check says it
        return exc


def _judged(
    run: Run, found: verify_dev.Stack, driver: verify_dev.Driver, answers: Answers
) -> Callable[[], str]:
    def judge() -> str:
        if isinstance(answers, Exception):
            raise answers
        answer = answers.get(driver.name) if answers is not None else None
        vector = verify_dev.has_vector(run.plan)
        return verify_dev.judge_driver(driver, found, answer, vector=vector)

    return judge


def _dev_job(
    run: Run,
    checks: Checks,
    *,
    dev: Future[Any],
    drivers: Future[verify_dev.Stack | None],
    roundtrip_done: threading.Event,
) -> None:
    probe: dict[str, Any] = {}
    with ExitStack() as stack:
        started: list[Any] = []

        def start() -> str:
            container = stack.enter_context(run.started(_dev_container(run)))
            wrapped = container.get_wrapped_container()
            wrapped.reload()
            if wrapped.status != "running":
                raise CheckFailed(
                    f"{wrapped.name} is {wrapped.status}, not running; log: {_logs(wrapped)}"
                )
            started.append(container)
            return f"running as {wrapped.name} on network {run.name('net')}"

        def run_probe() -> str:
            result = _exec(started[0], verify_dev.probe_argv(run.plan))
            probe.update(verify_dev.marked_json(result, verify_dev.PROBE_MARK))
            checks.info["dev"]["python"] = str(probe.get("python"))
            return verify_dev.probe_detail(probe)

        found: verify_dev.Stack | None = None
        try:
            try:
                checks.run("dev-start", start)
            finally:
                dev.set_result(started[0] if started else None)
            checks.run("dev-python", run_probe)
            verify_dev.judge_probe(checks, run.plan, probe)
            if checks.passed("dev-python"):
                found = verify_dev.stack(probe)
                checks.add(verify_dev.driver_specs(run.plan, found), after=verify_dev.AFTER)
                checks.info["dev"]["drivers"] = found.summary()
                for note in found.notes:
                    checks.note(f"note: {note}")
        finally:
            drivers.set_result(found)  # the db's round trip waits for it
        run.wait(roundtrip_done)  # the db's round trip runs in this container


def _no_password_job(run: Run, checks: Checks) -> None:
    limit = min(run.timeout, 30.0)

    def check() -> str:
        configured = _docker_container(run.images["db"])  # no POSTGRES_PASSWORD, no network
        configured.with_name(run.name("no-password"))
        configured.with_kwargs(labels=dict(run.labels), network_mode="none")
        with run.started(configured) as container:
            wrapped = container.get_wrapped_container()
            try:
                code = int(wrapped.wait(timeout=limit)["StatusCode"])
            except engine_errors() as exc:
                if not is_read_timeout(exc):
                    raise
                raise CheckFailed(
                    f"still running {limit:g}s after a start without POSTGRES_PASSWORD; "
                    f"log: {_logs(wrapped)}"
                ) from None
            log = wrapped.logs().decode("utf-8", "replace")
            said = [line.strip() for line in log.splitlines() if "POSTGRES_PASSWORD" in line]
            if code == 0:
                raise CheckFailed(f"exited with code 0 without a password; log: {_logs(wrapped)}")
            if not said:
                raise CheckFailed(
                    f"exited with code {code}, but its log does not mention POSTGRES_PASSWORD: "
                    f"{_logs(wrapped)}"
                )
            return f"exit code {code}: {said[0]}"

    checks.run("db-no-password", check)


# --- entry point ------------------------------------------------------------------------------


def _preflight(recipe: Recipe, images: Mapping[str, str]) -> tuple[str, ...]:
    """Both images exist (verify never pulls); notes for images built from another plan."""
    with Engine.connect() as engine:
        missing = [ref for ref in images.values() if not engine.image_exists(ref)]
        if missing:
            raise VerifyError(
                f"{' and '.join(missing)} not found on the Docker engine at {engine.where}",
                hint="build the images first with `devenv build` (verify never pulls)",
            )
        notes = []
        for target, ref in images.items():
            built_from = engine.image_labels(ref).get(LABEL_PLAN)
            if built_from is not None and built_from != recipe.fingerprint(Target(target)):
                notes.append(
                    f"note: {ref} was built from an older devenv.toml or requirements; "
                    "`devenv build` makes it current"
                )
    return tuple(notes)


def _client() -> Any:
    from testcontainers.core.docker_client import DockerClient

    try:
        return DockerClient().client
    except engine_errors() as exc:
        raise VerifyError(
            f"testcontainers cannot reach the Docker engine: {describe_exception(exc)}",
            hint="check DOCKER_HOST and ~/.testcontainers.properties",
        ) from exc


def catalogue(plan: Plan, images: Mapping[str, str]) -> Checks:
    return Checks(
        verify_db.catalogue(plan, images["db"]) + verify_dev.catalogue(plan, images["dev"])
    )


def verify(
    plan: Plan,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    log: Log = _stderr,
    recipe: Recipe | None = None,
) -> Report:
    """Run every check against plan.image("db") and plan.image("dev"); always clean up.
    Raises VerifyError when verification cannot run at all, EngineError when the engine fails
    outside a check, KeyboardInterrupt when interrupted (after cleanup). A failed check is in
    the report, not an exception."""
    started = time.monotonic()
    images = {t.value: plan.image(t) for t in (Target.DB, Target.DEV)}
    notes = _preflight(recipe or compile_plan(plan), images)
    load_testcontainers(os.environ)
    client = _client()
    host = socket.gethostname()
    run_id = new_run_id()
    notes += remove_leftovers(client, host=host, log=log)
    labels = _run_labels(plan, run_id, host)
    checks = catalogue(plan, images)
    run = Run(plan=plan, images=images, run_id=run_id, labels=labels, timeout=timeout, log=log)
    log(f"verify: run {run_id}: {images['db']} and {images['dev']}")
    _run_workers(run, client, checks, log)
    return checks.report(
        project=plan.environment.name,
        run_id=run_id,
        images=images,
        seconds=time.monotonic() - started,
        notes=notes,
    )


def _run_labels(plan: Plan, run_id: str, host: str) -> dict[str, str]:
    """What every container, network and volume of the run carries."""
    return {
        RUN_LABEL: run_id,
        PROJECT_LABEL: plan.environment.name,
        OWNER_LABEL: f"{host}:{os.getpid()}",
    }


def _run_workers(run: Run, client: Any, checks: Checks, log: Log) -> None:
    """The db, dev and no-password workers side by side, inside what the run starts and
    removes; KeyboardInterrupt (after cleanup) when a signal came meanwhile."""
    dev: Future[Any] = Future()
    drivers: Future[verify_dev.Stack | None] = Future()
    roundtrip_done = threading.Event()
    interrupts = Interrupts(
        lambda: log("verify: interrupted; removing its containers, network and volume")
    )
    # Entered in this order, left in reverse: the workers' own containers first (each worker
    # removes what it started), then the volume and the network, then any stray of the run.
    with (
        interrupts.installed(),
        _swept(run, client),
        _private_network(run),
        _data_volume(run, client),
        Workers(run) as workers,
    ):
        db_job = functools.partial(_db_job, dev=dev, drivers=drivers, roundtrip_done=roundtrip_done)
        dev_job = functools.partial(
            _dev_job, dev=dev, drivers=drivers, roundtrip_done=roundtrip_done
        )
        for name, job in (("db", db_job), ("dev", dev_job), ("no-password", _no_password_job)):
            workers.spawn(name, functools.partial(job, run, checks))
        with interrupts.armed():
            workers.join()
    if interrupts.pending:  # a signal while the run was cleaning up: it still counts
        raise KeyboardInterrupt
