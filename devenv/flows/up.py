"""`devenv up` and `devenv down`: the terminal path to the same services VS Code starts.

up: generate when stale (refusing hand edits, like `devenv generate`), make the base image when
it is missing, build (seconds when the layers are cached), start the compose services and wait
until they are healthy, check that the app container reaches the database through its
DATABASE_URL, run `devenv verify`, and say how to attach. down: stop and remove the services;
the database volume stays unless asked.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from devenv.container.base import BaseResult, BaseSource, ensure_plan_base
from devenv.container.build import BuildSummary, Progress, build_images, proxy_build_args
from devenv.container.compose import Compose, Service, compose_file, volume_name
from devenv.container.engine import Engine
from devenv.container.engine_target import resolve
from devenv.container.registry import base_from_elsewhere
from devenv.errors import BuildError, ComposeError, DevenvError, UsageError
from devenv.files.generate import generate_files
from devenv.plan.model import Plan
from devenv.render.compose import LOCAL_DOCKERFILE, LOCAL_STAGE, compose_data, local_image
from devenv.render.labels import LABEL_PROJECT
from devenv.render.scripts import as_user
from devenv.rules.distro import EXTENSION_SQL_NAMES
from devenv.run.tasks import Runner, TasksReport, run_tasks
from devenv.steps.model import DEV_UID
from devenv.steps.recipe import Recipe, compile_plan
from devenv.support import concurrency
from devenv.support.preload import preload
from devenv.verify.lifecycle import verify as run_verify
from devenv.verify.report import Report

Log = Callable[[str], None]
APP = "app"


@dataclass(frozen=True, kw_only=True)
class UpResult:
    plan: Plan
    generated: tuple[str, ...]  # what `devenv generate` wrote (empty: all current)
    base: str  # how the base image came: "present", "pulled" or "bootstrapped"
    build: BuildSummary
    services: tuple[Service, ...]
    database: str  # what psql in the app container answered through DATABASE_URL
    tasks: TasksReport
    report: Report | None  # None: --no-verify
    seconds: float

    def summary(self) -> list[str]:
        plan = self.plan
        base = self.base
        images = ", ".join(self.build.images.values())
        pulled = f"; {len(self.build.pulled)} pulled from the registry" if self.build.pulled else ""
        services = "; ".join(
            f"{s.service} {s.state}{f' ({s.health})' if s.health else ''}" for s in self.services
        )
        if self.report is None:
            verified = "skipped (--no-verify)"
        else:
            passed = sum(c.ok for c in self.report.checks)
            verified = f"{passed}/{len(self.report.checks)} checks passed"
        return [
            f"up: {plan.environment.name} in {self.seconds:.1f}s",
            f"  files     {f'{len(self.generated)} changed' if self.generated else 'current'}",
            f"  base      {plan.environment.base} {base}",
            f"  images    {images} ({self.build.steps_total} steps, "
            f"{self.build.steps_cached} cached, {self.build.seconds:.1f}s{pulled})",
            *(f"  rebuilt   {line}" for line in self.build.why()),
            f"  services  {services}; db on 127.0.0.1:{plan.personal().postgres.host_port}",
            f"  database  {self.database} (psql in app, through DATABASE_URL)",
            f"  tasks     {self.tasks.line()}",
            f"  verify    {verified}",
        ]


def database_url(plan: Plan) -> str:
    """The app service's DATABASE_URL, as compose.yaml sets it (no password: libpq reads
    PGPASSWORD from .devenv/db.env)."""
    return str(compose_data(plan)["services"][APP]["environment"]["DATABASE_URL"])


def check_database(compose: Compose, plan: Plan) -> str:
    """psql in the app container, through DATABASE_URL: who and where it is, and that each
    of the plan's extensions is available on the server. Reads only."""
    url = database_url(plan)
    who = (
        "SELECT current_user || '@' || current_database() || ', PostgreSQL '"
        " || current_setting('server_version')"
    )
    available = "SELECT name || ' ' || default_version FROM pg_available_extensions"
    argv = ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", who]
    completed = compose.exec(APP, [*argv, "-c", available])
    answer = [line.strip() for line in completed.stdout.splitlines() if line.strip()]
    if completed.code != 0 or not answer:
        raise ComposeError(
            f"the app container cannot query the database through DATABASE_URL={url}: "
            f"{' '.join(completed.output.split())[:300]}",
            hint="read `docker compose logs db`; the password comes from .devenv/db.env",
        )
    versions = dict(line.split(" ", 1) for line in answer[1:] if " " in line)
    names = [EXTENSION_SQL_NAMES[ext] for ext in plan.postgres.extensions]
    missing = [name for name in names if name not in versions]
    if missing:
        raise ComposeError(
            f"the db service has no {', '.join(missing)} extension available",
            hint="rebuild the images (`devenv build`), then `devenv up` again",
        )
    return "; ".join([answer[0], *(f"{name} {versions[name]} available" for name in names)])


def container_runner(
    compose: Compose, plan: Plan, uid: int | None = None, gid: int | None = None
) -> Runner:
    """A task in the app container, as `devenv run` runs commands: as you (your UID and GID,
    the image's user mapped to them), in the workspace, the container's environment (compose
    gave it the env files), the task's argv exec'd with no shell between."""

    def run(argv: Sequence[str]) -> tuple[int, str]:
        mapped = as_user(
            plan.environment.user,
            argv,
            pidfile="/dev/null",
            envfile="",
            uid=os.getuid() if uid is None else uid,
            gid=os.getgid() if gid is None else gid,
        )
        workspace = plan.devcontainer.workspace
        completed = compose.stream("exec", "-T", "--user", "root", "--workdir", workspace, APP,
                                   *mapped)  # fmt: skip
        return completed.code, completed.output

    return run


def build_local_image(plan: Plan, engine: Engine, log: Log) -> None:
    """devenv.local.toml's [system] packages: the app's own image, the team's dev stage (from
    the cache just built) plus them, as compose builds it for VS Code."""
    if plan.local is None or not plan.local.packages:
        return
    log(f"building {local_image(plan)} (+ {', '.join(plan.local.packages)} from devenv.local.toml)")
    stream = engine.build(
        path=plan.project_dir,
        dockerfile=str(plan.project_dir / LOCAL_DOCKERFILE),
        target=LOCAL_STAGE,
        tag=local_image(plan),
        labels={LABEL_PROJECT: plan.environment.name},
        buildargs=proxy_build_args(os.environ),
        nocache=False,
    )
    tail: list[str] = []
    for message in stream:
        if "error" in message:
            raise BuildError(
                f"building {local_image(plan)} failed: {str(message['error']).strip()}",
                hint="check the [system] packages of devenv.local.toml (apt must know them)",
                details="\n".join(tail[-20:]),
            )
        text = str(message.get("stream", "")).rstrip()
        if text:
            tail.append(text)
            log(f"  {text}")


@contextlib.contextmanager
def podman_healthchecks(plan: Plan, log: Log, every: float = 1.0) -> Iterator[None]:
    """While compose waits for health on Podman, run the services' healthchecks (Podman runs
    them from systemd timers only, so without systemd `compose up --wait` never ends)."""
    stop = threading.Event()
    log("podman: running the services' healthchecks while compose waits (no systemd timers)")

    def drive() -> None:
        with contextlib.suppress(DevenvError), Engine.connect() as engine:
            while not stop.wait(every):
                engine.run_healthchecks(plan.environment.name)

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def refuse_remote_engine(env: Mapping[str, str] | None = None) -> None:
    """The app container bind-mounts the project folder, which only an engine on this
    machine can do; an engine elsewhere is refused before anything runs."""
    target = resolve(os.environ if env is None else env)
    if not target.on_this_machine:
        raise UsageError(
            f"devenv up needs an engine on this machine: the app container mounts the project "
            f"folder, and the engine at {target.host} (from {target.source}) is elsewhere",
            hint="against it use `devenv build`, `verify`, `push` and `pull`; for the services, "
            "run `devenv up` on that machine in a checkout there (e.g. over ssh or VS Code "
            "Remote-SSH)",
        )


def up(
    plan: Plan,
    *,
    progress: Progress,
    log: Log,
    verify: bool = True,
    base_source: str = "auto",
    timeout: float = 120.0,
    verify_timeout: float = 60.0,
) -> UpResult:
    started = time.monotonic()
    preload("docker")  # while the review and compose's version answer
    refuse_remote_engine()
    recipe = compile_plan(plan)  # generate and build share it
    generated = _generate(plan, recipe, log)
    compose = Compose(plan, log=log)
    log(f"compose {compose.version()}")  # before minutes of building, not after
    with Engine.connect() as engine:
        base, summary = _base_and_images(plan, engine, recipe, progress, log, base_source)
        had_volume = engine.volume_exists(volume_name(plan))
        podman = engine.is_podman()
    were_running = bool(compose.services())
    verifying = _verify_alongside(plan, recipe, log, verify_timeout) if verify else None
    services, database, tasks, report = _start_services(
        plan, compose, log, timeout=timeout, podman=podman, had_volume=had_volume,
        were_running=were_running, verifying=verifying,
    )  # fmt: skip
    return UpResult(
        plan=plan,
        generated=generated,
        base=base.how,
        build=summary,
        services=services,
        database=database,
        tasks=tasks,
        report=report,
        seconds=time.monotonic() - started,
    )


def _generate(plan: Plan, recipe: Recipe, log: Log) -> tuple[str, ...]:
    """What `devenv generate` would write, written and logged. Refuses hand-edited files before
    anything else happens, like `devenv generate`."""
    generated = tuple(
        generate_files(plan, check=False, force=False, recipe=recipe).lines(changed_only=True)
    )
    for line in generated:
        log(line)
    return generated


def _base_and_images(
    plan: Plan, engine: Engine, recipe: Recipe, progress: Progress, log: Log, base_source: str
) -> tuple[BaseResult, BuildSummary]:
    """The base image present, the project's images built, and the local image when
    devenv.local.toml adds packages."""
    # The team's base (registry) or this machine's (another engine) before a bootstrap.
    base_from_elsewhere(plan, engine, log)
    base = ensure_plan_base(engine, plan, log=log, source=BaseSource(base_source))
    summary = build_images(plan, engine, progress, log=log, recipe=recipe)
    build_local_image(plan, engine, log)
    return base, summary


def _verify_alongside(plan: Plan, recipe: Recipe, log: Log, timeout: float) -> Future[Report]:
    """verify proves the images in containers of its own: it needs nothing of the services,
    so it runs while they start."""
    return concurrency.start(
        lambda: run_verify(plan, timeout=timeout, log=log, recipe=recipe),
        name="verify",
    )


def _start_services(
    plan: Plan,
    compose: Compose,
    log: Log,
    *,
    timeout: float,
    podman: bool,
    had_volume: bool,
    were_running: bool,
    verifying: Future[Report] | None,
) -> tuple[tuple[Service, ...], str, TasksReport, Report | None]:
    """The services started and healthy, the database answering the app container, the setup
    tasks run, and verify's report once it is done. A failure waits for verify's cleanup."""
    try:
        with podman_healthchecks(plan, log) if podman else contextlib.nullcontext():
            compose.up(timeout=timeout)
        services = compose.services()
        database = check_database(compose, plan)
        tasks = run_tasks(plan, container_runner(compose, plan), log, "in the app container")
        report = concurrency.result(verifying) if verifying is not None else None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt) and not were_running:
            # Ctrl-C (or SIGTERM) while starting: take down what this run started, and the
            # database volume only if this run made it.
            log("interrupted: stopping the services this run started")
            with contextlib.suppress(DevenvError):
                compose.down(volumes=not had_volume)
        if verifying is not None:
            concurrency.wait_all([verifying])  # its own cleanup runs; its result no longer matters
        raise
    return services, database, tasks, report


def attach_lines(plan: Plan, *, cwd: Path, uid: int | None = None) -> list[str]:
    """How to get in: VS Code, a shell in the app container, psql from the host; how to stop."""
    root = plan.project_dir
    here = root == cwd.resolve()
    compose = "docker compose"
    if not here:
        compose = shlex.join(["docker", "compose", "-f", str(compose_file(plan))])
    devenv = "devenv" if here else shlex.join(["devenv", "-C", str(root)])
    pg = plan.personal().postgres
    lines = [
        "attach:",
        f'  VS Code   open {root} and run "Dev Containers: Reopen in Container"',
        f"  terminal  {devenv} shell, or {devenv} run -- CMD (e.g. pytest); "
        f"or {compose} exec app bash",
        f"  database  psql -h 127.0.0.1 -p {pg.host_port} -U {pg.user} {pg.database}"
        "   (password: PGPASSWORD in .devenv/db.env)",
        f"stop:       {devenv} down   (keeps the database volume {volume_name(plan)}; "
        "--volumes deletes it)",
    ]
    uid = os.getuid() if uid is None else uid
    if uid != DEV_UID:
        lines.append(
            f"note: `{devenv} run` and `{devenv} shell` run as you (UID {uid}), as VS Code does; "
            f"in a plain `{compose} exec` you are the image's user (UID {DEV_UID} or, once devenv "
            "mapped it, yours)"
        )
    return lines


@dataclass(frozen=True, kw_only=True)
class DownResult:
    project: str
    removed: tuple[Service, ...]
    volume: str
    volume_removed: bool

    def summary(self) -> list[str]:
        if self.removed:
            names = ", ".join(s.container for s in self.removed)
            lines = [f"down: {self.project}: stopped and removed {names}"]
        else:
            lines = [f"down: {self.project}: no containers were there"]
        if self.volume_removed:
            lines.append(f"  deleted the database volume {self.volume}")
        else:
            lines.append(f"  kept the database volume {self.volume} (--volumes deletes it)")
        return lines


def down(plan: Plan, *, volumes: bool, log: Log) -> DownResult:
    compose = Compose(plan, log=log)
    compose.version()
    before = compose.services()
    compose.down(volumes=volumes)
    left = compose.services()
    if left:
        raise ComposeError(
            f"after `docker compose down`, project {plan.environment.name} still has "
            f"{', '.join(f'{s.container} ({s.state})' for s in left)}",
            hint="remove them with `docker rm -f NAME`, then run devenv down again",
        )
    return DownResult(
        project=plan.environment.name,
        removed=before,
        volume=volume_name(plan),
        volume_removed=volumes,
    )
