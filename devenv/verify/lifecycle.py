"""`devenv verify`: start the images `devenv build` made, with testcontainers, and check them
the way a user relies on them (checks: devenv.verify.db and devenv.verify.dev).

The only module in devenv that imports testcontainers, and only inside functions, so commands
that need no engine never load it. Workers run side by side to stay within a few seconds:

- db: PostgresContainer from the local db image (never pulled) on a labelled data volume and a
  private network -> server, extension and vector checks over psycopg from here -> the dev
  container's round trip to it -> a second container on the same volume (restart);
- dev: the dev image on the same network -> one probe (Python, imports, pip check, libpq);
- no-password: the db image without POSTGRES_PASSWORD must exit and say why;
- janitor: removes the dev container and the network while the restart runs.

Cleanup always: every container, network and volume carries dev.devenv.verify=<run id>,
dev.devenv.project=<name> and dev.devenv.verify.owner=<host>:<pid>, and is removed at the end
whatever happened (passed, failed, never ready within the timeout, Ctrl-C or SIGTERM). A run
killed outright leaves them behind; the next verify removes them first, but only when their
owner process is gone, so a verify running next to this one is left alone. The testcontainers
reaper is not used (its image cannot be pulled on air-gapped machines).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from devenv.container.engine import Engine
from devenv.errors import VerifyError
from devenv.plan import db_init
from devenv.plan.model import Plan
from devenv.steps.compile import DB_DATA
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

DEFAULT_TIMEOUT = 60.0  # seconds a container may take to become ready
JOIN_SECONDS = 30.0  # how long teardown waits for a worker after removing its containers
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


class Cancelled(BaseException):
    """Raised in a worker once the run is being torn down (not an Exception: checks let it
    through)."""


# --- testcontainers, lazily -------------------------------------------------------------------


def default_testcontainers_env(environ: MutableMapping[str, str]) -> dict[str, str]:
    """Set TESTCONTAINERS_ENV where unset (testcontainers reads some of it at import time);
    returns what was added."""
    added = {k: v for k, v in TESTCONTAINERS_ENV.items() if not environ.get(k, "").strip()}
    environ.update(added)
    return added


def load_testcontainers(environ: MutableMapping[str, str]) -> None:
    """Import testcontainers with the environment it needs here, or raise VerifyError."""
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


def _postgres_class() -> Any:
    """testcontainers' PostgresContainer (its home moved in 4.x), with our readiness wait."""
    try:
        module = importlib.import_module("testcontainers.community.postgres")
    except ImportError:
        module = importlib.import_module("testcontainers.postgres")

    def _connect(self: Any) -> None:
        _wait_ready(self, self.devenv_session)

    return type("DevenvPostgres", (module.PostgresContainer,), {"_connect": _connect})


def _docker_container(image: str) -> Any:
    from testcontainers.core.container import DockerContainer

    return DockerContainer(image)


# --- one run ----------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Session:
    """Shared by the workers of one run: what to start, how, and what to remove."""

    plan: Plan
    images: dict[str, str]
    run_id: str
    labels: dict[str, str]
    timeout: float
    log: Log
    password: str = field(default_factory=lambda: secrets.token_hex(16))
    cancel: threading.Event = field(default_factory=threading.Event)
    network: Any = None
    volume: str = ""
    dev: Any = None  # the dev container, once started
    dev_ready: threading.Event = field(default_factory=threading.Event)  # dev start tried
    dev_done: threading.Event = field(default_factory=threading.Event)  # dev probe finished
    roundtrip_done: threading.Event = field(default_factory=threading.Event)
    db_gone: threading.Event = field(default_factory=threading.Event)  # first db removed
    threads: list[threading.Thread] = field(default_factory=list)
    crashed: list[tuple[str, BaseException]] = field(default_factory=list)
    _containers: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def name(self, role: str) -> str:
        return f"devenv-verify-{self.plan.environment.name}-{self.run_id}-{role}"

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled

    def spawn(self, name: str, job: Callable[[], None]) -> None:
        """Run `job` in a thread of this run: teardown waits for it; a crash is kept."""

        def run() -> None:
            try:
                job()
            except Cancelled:
                pass
            except BaseException as exc:
                self.crashed.append((name, exc))

        thread = threading.Thread(target=run, name=f"verify-{name}", daemon=True)
        with self._lock:
            self.check()
            self.threads.append(thread)
        thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Until every thread of the run ended (also those started meanwhile), or `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                alive = [t for t in self.threads if t.is_alive()]
            if not alive:
                return
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            alive[0].join(0.1 if left is None else min(0.1, left))

    def wait(self, event: threading.Event) -> None:
        while not event.wait(0.05):
            self.check()

    def _track(self, container: Any) -> None:
        with self._lock:
            self.check()
            self._containers.append(container)

    def start(self, container: Any) -> Any:
        """Start a configured testcontainers container (tracked first, so it is always
        removed)."""
        self._track(container)
        try:
            container.start()
        except BaseException:
            self.remove(container)
            raise
        return container

    def remove(self, container: Any) -> None:
        """Remove a tracked container (forced, with its anonymous volumes), once."""
        with self._lock:
            if container not in self._containers:
                return
            self._containers.remove(container)
        try:
            container.stop()
        except Exception as exc:
            if not ignorable(exc):
                self.log(f"verify: warning: removing a container: {describe_exception(exc)}")

    def create_network_and_volume(self, client: Any) -> None:
        from testcontainers.core.network import Network

        self.check()
        network = Network(docker_network_kw={"labels": dict(self.labels)})
        network.name = self.name("net")
        try:
            network.create()
            self.network = network
            client.volumes.create(name=self.name("pgdata"), labels=dict(self.labels))
        except Exception as exc:
            raise VerifyError(
                f"cannot create verify's network or volume: {describe_exception(exc)}",
                hint="check the engine (`docker info`) and its free disk space",
            ) from exc
        self.volume = self.name("pgdata")

    def remove_network(self) -> None:
        network, self.network = self.network, None
        if network is None:
            return
        try:
            network.remove()
        except Exception as exc:
            if not ignorable(exc):
                self.log(
                    f"verify: warning: removing network {network.name}: {describe_exception(exc)}"
                )

    def teardown(self, client: Any) -> None:
        """Remove every container (in parallel), wait for the threads, then sweep the network,
        the volume and anything else carrying this run's label."""
        self.cancel.set()
        with self._lock:
            containers = list(self._containers)
        removers = [
            threading.Thread(target=self.remove, args=(c,), daemon=True) for c in containers
        ]
        for t in removers:
            t.start()
        for t in removers:
            t.join(JOIN_SECONDS)
        self.join(JOIN_SECONDS)
        remove_labelled(client, [f"{RUN_LABEL}={self.run_id}"], keep=lambda _: False, log=self.log)


def _logs(wrapped: Any, lines: int = 8) -> str:
    try:
        text = wrapped.logs(tail=lines).decode("utf-8", "replace")
    except Exception as exc:
        return f"(no log: {describe_exception(exc)})"
    return " | ".join(line.strip() for line in text.splitlines() if line.strip()) or "(empty log)"


def _wait_ready(container: Any, s: Session) -> None:
    """Until psycopg connects from here through the published port (kept as devenv_conn for
    the checks); fails fast if the container exits, and after s.timeout seconds. Once the
    container runs, devenv_on_running (if set) is called while the server initialises."""
    wrapped = container.get_wrapped_container()
    deadline = time.monotonic() + s.timeout
    target: verify_db.Target | None = None
    last = "no answer yet"
    while True:
        s.check()
        wrapped.reload()
        if wrapped.status in ("exited", "dead"):
            code = (wrapped.attrs.get("State") or {}).get("ExitCode")
            raise CheckFailed(
                f"{wrapped.name} exited with code {code} before it was ready; log: {_logs(wrapped)}"
            )
        if wrapped.status == "running":
            if target is None:
                pg = s.plan.postgres
                target = verify_db.Target(
                    host=container.get_container_host_ip(),
                    port=int(container.get_exposed_port(5432)),
                    user=pg.user,
                    password=s.password,
                    dbname=pg.database,
                )
                container.devenv_target = target
                on_running = getattr(container, "devenv_on_running", None)
                if on_running is not None:
                    on_running(container)
            try:
                container.devenv_conn = target.connect(timeout=2)
                return
            except Exception as exc:
                last = one_line(str(exc)) or type(exc).__name__
        if time.monotonic() >= deadline:
            raise CheckFailed(
                f"{wrapped.name} was not ready within {s.timeout:g}s ({last}); "
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


def _start_postgres(
    s: Session,
    role: str,
    *,
    network: bool,
    on_running: Callable[[Any], None] | None = None,
) -> tuple[Any, verify_db.Conn, str]:
    """PostgresContainer `role` on the run's data volume (and network); returns it, an open
    connection from here, and a detail line."""
    pg = s.plan.postgres
    container = _postgres_class()(
        image=s.images["db"],
        username=pg.user,
        password=s.password,
        dbname=pg.database,
        driver=None,
    )
    container.devenv_session = s
    container.devenv_on_running = on_running
    container.with_name(s.name(role)).with_kwargs(labels=dict(s.labels))
    container.with_volume_mapping(s.volume, DB_DATA, "rw")
    for mount in db_init.mounts(s.plan):  # as compose mounts them
        container.with_volume_mapping(str(s.plan.project_dir / mount.source), mount.target, "ro")
    if network:
        container.with_network(s.network).with_network_aliases(verify_dev.DB_ALIAS)
    started = time.monotonic()
    s.start(container)
    target: verify_db.Target = container.devenv_target
    detail = f"ready in {time.monotonic() - started:.1f}s ({target.host}:{target.port})"
    return container, container.devenv_conn, detail


def _dpkg_version(container: Any, package: str) -> str | None:
    try:
        result = _exec(container, ["dpkg-query", "-W", "-f=${Version}", package])
    except Exception:
        return None
    return result.stdout.strip() if result.code == 0 and result.stdout.strip() else None


def _db_worker(s: Session, checks: Checks) -> None:
    plan = s.plan
    packaged: dict[str, str | None] = {}
    containers: list[Any] = []
    conns: list[verify_db.Conn] = []

    def dpkg(container: Any) -> None:  # runs while the server initialises
        for ext in verify_db.extensions(plan):
            packaged[ext.package] = _dpkg_version(container, ext.package)

    def start() -> str:
        container, conn, detail = _start_postgres(s, "db", network=True, on_running=dpkg)
        containers.append(container)
        conns.append(conn)
        return detail

    def roundtrip() -> None:  # the dev container's, beside the vector checks from here
        try:
            s.wait(s.dev_ready)
            checks.run("dev-db-roundtrip", lambda: _roundtrip(s))
        finally:
            s.roundtrip_done.set()

    def remove_first() -> None:
        try:
            s.remove(containers[0])
        finally:
            s.db_gone.set()

    def restart() -> str:
        before = verify_db.prepare_restart(conns[0], s.run_id)
        conns[0].close()
        containers[0].get_wrapped_container().stop(timeout=10)  # SIGINT: a fast shutdown
        s.spawn("db-remove", remove_first)
        container, conn, _ = _start_postgres(s, "db-restarted", network=False)
        containers.append(container)
        conns.append(conn)
        return verify_db.compare_snapshots(before, verify_db.snapshot(conn, s.run_id))

    try:
        if checks.run("db-start", start):
            if plan.postgres.init:
                checks.run("db-init-scripts", lambda: _init_scripts(containers[0], plan))
            verify_db.run_server_checks(checks, conns[0], plan, packaged)
        s.spawn("roundtrip", roundtrip)
        if conns and verify_db.has_pgvector(plan):
            verify_db.run_vector_checks(checks, conns[0])
        s.wait(s.roundtrip_done)
        checks.run("db-restart", restart)
    finally:
        for conn in conns:
            conn.close()
        for container in containers:
            s.remove(container)
        s.db_gone.set()
        s.roundtrip_done.set()


def _init_scripts(container: Any, plan: Plan) -> str:
    log = container.get_wrapped_container().logs().decode("utf-8", "replace")
    expected = [f.container for f in db_init.files(plan)]
    return verify_db.judge_init_log(log, expected)


def _roundtrip(s: Session) -> str:
    pg = s.plan.postgres
    env = {
        "PGHOST": verify_dev.DB_ALIAS,
        "PGPORT": "5432",
        "PGUSER": pg.user,
        "PGPASSWORD": s.password,
        "PGDATABASE": pg.database,
        "PGCONNECT_TIMEOUT": "10",
    }
    result = _exec(s.dev, verify_dev.roundtrip_argv(s.plan), env)
    answer = verify_dev.marked_json(result, verify_dev.ROUNDTRIP_MARK)
    vector = verify_dev.has_vector(s.plan)
    return verify_dev.judge_roundtrip(answer, s.name("net"), vector=vector)


def _dev_worker(s: Session, checks: Checks) -> None:
    def start() -> str:
        container = _docker_container(s.images["dev"])
        container.with_name(s.name("dev")).with_kwargs(labels=dict(s.labels))
        container.with_network(s.network)
        s.start(container)
        wrapped = container.get_wrapped_container()
        wrapped.reload()
        if wrapped.status != "running":
            raise CheckFailed(
                f"{wrapped.name} is {wrapped.status}, not running; log: {_logs(wrapped)}"
            )
        s.dev = container
        return f"running as {wrapped.name} on network {s.name('net')}"

    probe: dict[str, Any] = {}

    def run_probe() -> str:
        result = _exec(s.dev, verify_dev.probe_argv(s.plan))
        probe.update(verify_dev.marked_json(result, verify_dev.PROBE_MARK))
        checks.info["dev"]["python"] = str(probe.get("python"))
        return verify_dev.probe_detail(probe)

    try:
        try:
            checks.run("dev-start", start)
        finally:
            s.dev_ready.set()
        checks.run("dev-python", run_probe)
        verify_dev.judge_probe(checks, s.plan, probe)
    finally:
        s.dev_done.set()


def _janitor(s: Session, checks: Checks) -> None:
    """While the restart runs, remove what it no longer needs: the dev container, then the
    network (once the first db container is gone too)."""
    s.wait(s.dev_done)
    s.wait(s.roundtrip_done)
    if s.dev is not None:
        s.remove(s.dev)
    s.wait(s.db_gone)
    s.remove_network()


def _no_password_worker(s: Session, checks: Checks) -> None:
    limit = min(s.timeout, 30.0)
    containers: list[Any] = []

    def run() -> str:
        container = _docker_container(s.images["db"])  # no POSTGRES_PASSWORD, no network
        container.with_name(s.name("no-password"))
        container.with_kwargs(labels=dict(s.labels), network_mode="none")
        containers.append(container)
        s.start(container)
        wrapped = container.get_wrapped_container()
        try:
            code = int(wrapped.wait(timeout=limit)["StatusCode"])
        except Exception:
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

    try:
        checks.run("db-no-password", run)
    finally:
        for container in containers:
            s.remove(container)


# --- signals ----------------------------------------------------------------------------------


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a CI timeout, `docker stop` of a CI container) cleans up like Ctrl-C."""
    if not _in_main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _signals_deferred() -> Iterator[list[int]]:
    """Cleanup is not interrupted by a second Ctrl-C: signals are noted and reported after."""
    pending: list[int] = []
    if not _in_main_thread():
        yield pending
        return

    def note(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield pending
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --- entry point ------------------------------------------------------------------------------


def _preflight(plan: Plan, images: Mapping[str, str]) -> tuple[str, ...]:
    """Both images exist (verify never pulls); notes for images built from another plan."""
    from devenv.container.build import LABEL_PLAN

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
            if built_from is not None and built_from != plan.digest(target):
                notes.append(
                    f"note: {ref} was built from an older devenv.toml or requirements; "
                    "`devenv build` makes it current"
                )
    return tuple(notes)


def _client() -> Any:
    from testcontainers.core.docker_client import DockerClient

    try:
        return DockerClient().client
    except Exception as exc:
        raise VerifyError(
            f"testcontainers cannot reach the Docker engine: {describe_exception(exc)}",
            hint="check DOCKER_HOST and ~/.testcontainers.properties",
        ) from exc


def catalogue(plan: Plan, images: Mapping[str, str]) -> Checks:
    return Checks(
        verify_db.catalogue(plan, images["db"]) + verify_dev.catalogue(plan, images["dev"])
    )


def verify(plan: Plan, *, timeout: float = DEFAULT_TIMEOUT, log: Log = _stderr) -> Report:
    """Run every check against plan.image("db") and plan.image("dev"); always clean up.
    Raises VerifyError when verification cannot run at all, KeyboardInterrupt when interrupted
    (after cleanup). A failed check is in the report, not an exception."""
    started = time.monotonic()
    images = {"db": plan.image("db"), "dev": plan.image("dev")}
    notes = _preflight(plan, images)
    load_testcontainers(os.environ)
    client = _client()
    host = socket.gethostname()
    run_id = new_run_id()
    notes += remove_leftovers(client, host=host, log=log)
    labels = {
        RUN_LABEL: run_id,
        PROJECT_LABEL: plan.environment.name,
        OWNER_LABEL: f"{host}:{os.getpid()}",
    }
    checks = catalogue(plan, images)
    s = Session(plan=plan, images=images, run_id=run_id, labels=labels, timeout=timeout, log=log)
    log(f"verify: run {run_id}: {images['db']} and {images['dev']}")
    interrupted = False
    with _sigterm_interrupts():
        try:
            s.create_network_and_volume(client)
            for name, work in (
                ("db", _db_worker),
                ("dev", _dev_worker),
                ("no-password", _no_password_worker),
                ("janitor", _janitor),
            ):
                s.spawn(name, functools.partial(work, s, checks))
            s.join()
        except KeyboardInterrupt:
            interrupted = True
            log("verify: interrupted; removing its containers, network and volume")
        finally:
            with _signals_deferred() as pending:
                s.teardown(client)
            interrupted = interrupted or bool(pending)
    if interrupted:
        raise KeyboardInterrupt
    if s.crashed:
        name, exc = s.crashed[0]
        raise VerifyError(
            f"verify's {name} worker crashed: {describe_exception(exc)}",
            hint="run with --debug for the traceback, and report it",
        ) from exc
    return checks.report(
        project=plan.environment.name,
        run_id=run_id,
        images=images,
        seconds=time.monotonic() - started,
        notes=notes,
    )
