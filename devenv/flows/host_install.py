"""`devenv host-install`: the compiled host steps, run natively, idempotently, one run at a time.

Every command comes from the recipe's host steps (`devenv.steps.recipe`); this module only
decides whether a step needs to run, and how: apt steps install just what dpkg lacks (through
`sudo -n` when not root), the Python steps build a new venv generation only when the
requirements stamp changed (see host_venv), checks always run. `--with-db` runs the host-only
steps (a local cluster, role and database: see host_db; the init scripts; the setup tasks).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devenv.errors import HostError
from devenv.host import apt as host_apt
from devenv.host import checks as host_checks
from devenv.host import db as host_db
from devenv.host import release as host_release
from devenv.host import venv as host_venv
from devenv.host.execute import Echo, Executor
from devenv.host.report import HostReport, Options, Status, StepResult
from devenv.plan.model import Plan
from devenv.project import smoke
from devenv.review import diagnosis as build_diagnosis
from devenv.rules.distro import EXTENSION_SQL_NAMES
from devenv.run.command import HostDatabase, host_environment
from devenv.run.tasks import TaskError, run_tasks
from devenv.steps import native_libs
from devenv.steps.model import Kind, Mode, Place, Role, Scope, Step
from devenv.steps.recipe import Recipe, compile_plan
from devenv.support.exclusive_run import host_lock
from devenv.support.process import stop_process


def host_install(plan: Plan, options: Options, echo: Echo) -> HostReport:
    # The host's release decides the package names; one it can't serve stops here, unchanged.
    plan = host_release.for_host(plan, host_release.detect())
    with host_lock(plan.project_dir, dry_run=options.dry_run):
        return _Runner(compile_plan(plan), options, echo).run()


@dataclass(frozen=True, kw_only=True)
class _Item:
    name: str
    title: str
    run: Callable[[], tuple[Status, str]]


@dataclass(frozen=True, kw_only=True)
class _Python:
    stamp: host_venv.Stamp
    decision: host_venv.Decision
    steps: dict[str, Step] = field(default_factory=dict)  # compiled for the generation's path


def _result(item: _Item, status: Status, detail: str) -> StepResult:
    return StepResult(name=item.name, title=item.title, status=status, detail=detail)


class _Runner:
    def __init__(self, recipe: Recipe, options: Options, echo: Echo) -> None:
        plan = self.plan = recipe.plan
        self.recipe = recipe
        self.options = options
        self.out = echo
        self.header: str | None = None  # printed before the first line a step prints
        self.ex = Executor(echo=self._echo, dry_run=options.dry_run)
        self.places = {Place.USER: self.ex.user}
        self.steps = recipe.steps(Mode.HOST, self.places)
        self.state = host_venv.inspect(plan)
        self.installed: dict[str, str] = {}
        self.missing_anywhere = False
        self.updated = False
        self.python: _Python | None = None
        self.pending: _Python | None = None  # a new venv waiting for its checks to pass
        self.database: host_db.Database | None = None

    def _echo(self, line: str) -> None:
        if self.header is not None:
            self.out(self.header)
            self.header = None
        self.out(line)

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> HostReport:
        started = time.monotonic()
        items = self._items()
        results: list[StepResult] = []
        error, interrupted = self._preflight_outcome()
        total = len(items)
        for n, item in enumerate(items, start=1):
            if error is not None or interrupted:
                results.append(_result(item, Status.SKIPPED, "not reached"))
                continue
            result, error, interrupted = self._run_item(item, f"[{n}/{total}] {item.title}")
            results.append(result)
        if interrupted:
            self.out(f"interrupted: {self.state.link} still points at the venv it had before")
        return HostReport(
            plan=self.plan,
            options=self.options,
            steps=tuple(results),
            seconds=time.monotonic() - started,
            database_url=self.database.url if self.database else None,
            notes=tuple(self.ex.notes),
            error=error,
            interrupted=interrupted,
        )

    def _preflight_outcome(self) -> tuple[HostError | None, bool]:
        """The preflight's error, and whether Ctrl-C stopped it: either skips every step."""
        try:
            self._preflight()
        except HostError as exc:
            return exc, False
        except KeyboardInterrupt:
            return None, True
        return None, False

    def _run_item(self, item: _Item, prefix: str) -> tuple[StepResult, HostError | None, bool]:
        """One step run and its line printed: its result, the error that stops the run, and
        whether Ctrl-C stopped it."""
        error: HostError | None = None
        interrupted = False
        self.header = prefix
        try:
            status, detail = item.run()
        except HostError as exc:
            error = exc
            status, detail = Status.FAILED, exc.message
        except OSError as exc:  # the project folder: permissions, a full disk
            error = HostError(
                f"{item.title}: {exc}",
                hint="check the project folder's permissions and free space",
            )
            status, detail = Status.FAILED, error.message
        except KeyboardInterrupt:
            interrupted = True
            status, detail = Status.FAILED, "interrupted"
        self.header = None
        result = _result(item, status, detail)
        word = status.value
        if self.options.dry_run and status is Status.CHANGED:
            word = "would change"
        self.out(f"{prefix} ... {word}{f' ({detail})' if detail else ''}")
        return result, error, interrupted

    def _items(self) -> list[_Item]:
        return [_Item(name=s.id, title=s.title, run=self._handler(s)) for s in self.steps]

    def _handler(self, step: Step) -> Callable[[], tuple[Status, str]]:
        handlers = {
            Kind.APT: self._apt,
            Kind.VENV: self._venv,
            Kind.PIP_BOOTSTRAP: self._pip,
            Kind.PIP_INSTALL: self._pip,
            Kind.CHECK: self._check,
            Kind.DB_CHECK: self._db_check,
            Kind.DB_CLUSTER: self._db_setup,
            Kind.DB_INIT: self._db_init,
            Kind.TASKS: self._tasks,
        }
        handler = handlers.get(step.kind, self._generic)
        return lambda: handler(step)

    def _preflight(self) -> None:
        if not self.options.recreate:
            problem = host_venv.foreign_problem(self.state)
            if problem is not None:
                if not self.options.dry_run:
                    raise problem
                self.ex.notes.append(f"a real run would stop: {problem}")
        scopes = {Scope.BASE, Scope.DEV} | ({Scope.DB} if self.options.with_db else set())
        apt = host_apt.apt_steps(self.steps, frozenset(scopes))
        specs = [p for s in apt for p in s.packages]
        self.installed = host_apt.query_installed(self.ex, specs)
        self.missing_anywhere = bool(host_apt.missing(specs, self.installed))

    # -- apt ---------------------------------------------------------------------------------

    def _apt(self, step: Step) -> tuple[Status, str]:
        if step.scope is Scope.DB and not self.options.with_db:
            return Status.SKIPPED, "needs --with-db"
        want = host_apt.missing(step.packages, self.installed)
        extras = [c for c in step.commands_for(Mode.HOST) if c.role is Role.RUN]
        # A repository step (extra commands) is needed only when something will be installed.
        if not want and not (extras and self.missing_anywhere):
            return Status.UNCHANGED, f"all {len(step.packages)} installed"
        self.ex.require_root(step.title)
        for command in step.commands_for(Mode.HOST):
            if command.role is Role.APT_UPDATE:
                if self.updated:
                    continue
                self.updated = True
            elif command.role is Role.APT_INSTALL:
                if not want:
                    continue
                command = host_apt.narrowed(command, step, want)
            self.ex.run(self.ex.as_root(command), what=step.title)
        if self.options.dry_run:
            self.installed.update({host_apt.package_name(p): "" for p in want})
        else:
            now = host_apt.query_installed(self.ex, want)
            self.installed.update(now)
            still = host_apt.missing(want, self.installed)
            providers = host_apt.query_providers(self.ex, still) if still else {}
            for name, provider in providers.items():  # a virtual name apt resolved
                self.installed[name] = self.installed.get(provider, "")
            still = tuple(s for s in still if host_apt.package_name(s) not in providers)
            if still:
                raise HostError(
                    f"{step.title}: apt-get succeeded but dpkg still lacks {', '.join(still)}",
                    hint="a virtual package? name the real package in [system] packages",
                )
        return Status.CHANGED, f"installed {', '.join(want)}" if want else "repository added"

    # -- the venv ----------------------------------------------------------------------------

    def _python(self) -> _Python:
        if self.python is not None:
            return self.python
        identity = host_venv.python_identity(self.ex)
        if identity is None:
            if not self.options.dry_run:
                raise HostError(
                    "python3 is not on PATH, so no venv can be made",
                    hint="install python3 and python3-venv, then retry",
                )
            self.ex.notes.append("python3 is not installed yet: the venv folder name is a guess")
            identity = ("python3", "not installed")
        stamp = host_venv.compute_stamp(self.plan, identity, self.recipe)
        decision = host_venv.decide(self.plan, self.state, stamp, recreate=self.options.recreate)
        venv = str(decision.venv(self.state))
        places = {**self.places, Place.VENV: venv}
        steps = {s.id: s for s in self.recipe.steps(Mode.HOST, places)}
        self.python = _Python(stamp=stamp, decision=decision, steps=steps)
        return self.python

    def _venv(self, step: Step) -> tuple[Status, str]:
        py = self._python()
        generation = py.decision.generation.name
        if py.decision.action is host_venv.Action.KEEP:
            if not self.options.dry_run:
                self._collect_garbage(host_venv.kept_names(self.state))
            return (
                Status.UNCHANGED,
                f"{self.plan.python.venv} -> generation {generation}, same stamp",
            )
        if py.decision.action is host_venv.Action.REUSE:
            self._activate(py)
            return Status.CHANGED, f"switched to kept generation {generation} (same stamp)"
        if not self.options.dry_run:
            host_venv.start_generation(py.decision, py.stamp)
        self._run_plain(py.steps[step.id])
        return Status.CHANGED, f"new generation {generation}"

    def _pip(self, step: Step) -> tuple[Status, str]:
        py = self._python()
        if py.decision.action is not host_venv.Action.BUILD:
            return Status.UNCHANGED, "requirements stamp unchanged"
        if step.kind is Kind.PIP_INSTALL:
            for command in py.steps[step.id].commands_for(Mode.HOST):
                self.ex.run(self.ex.plain(command), what=step.title, diagnose=self._compile)
        else:
            self._run_plain(py.steps[step.id])
        if step.kind is Kind.PIP_INSTALL:
            # The new venv replaces the old one only once the checks pass (see _check).
            self.pending = py
        return Status.CHANGED, ""

    def _compile(self, lines: Sequence[str]) -> tuple[str, str] | None:
        """A requirement that compiled from source and missed a header or tool."""
        release = self.plan.environment.release
        found = build_diagnosis.failed_compile(lines, release.codename)
        if found is None:
            return None
        hint = (
            f'add "{found[2]}" to [system] packages in devenv.toml, then run devenv '
            "host-install again; the previous venv (if any) is untouched"
        )
        return build_diagnosis.message(found, release.label), hint

    def _activate(self, py: _Python) -> None:
        relative = py.decision.generation.relative_to(self.plan.project_dir)
        if self.options.dry_run:
            self._echo(f"  would point {self.plan.python.venv} at {relative}/")
            return
        replaced = host_venv.activate(self.plan, self.state, py.decision, py.stamp)
        self._echo(f"  {self.plan.python.venv} now points at {relative}/ (replaced {replaced})")
        keep = {py.decision.generation.name}
        if self.state.generation is not None:
            keep.add(self.state.generation.name)
        self._collect_garbage(keep)

    def _collect_garbage(self, keep: set[str]) -> None:
        removed = host_venv.collect_garbage(self.plan, keep)
        if removed:
            self._echo(f"  removed old or unfinished venv generations: {', '.join(removed)}")

    # -- checks, the database, anything else --------------------------------------------------

    def _check(self, step: Step) -> tuple[Status, str]:
        py = self._python()
        compiled = py.steps.get(step.id, step)
        memo = self._check_memo(compiled)
        if memo is not None and self.pending is None and host_checks.passed_before(*memo):
            return Status.UNCHANGED, "passed before; nothing installed or removed since"
        # A failure of these names what failed (module or library) and what provides it.
        diagnosis = {
            "smoke-imports": ("the smoke imports", _smoke),
            "native-libs": ("the run-time library check", _native_libs),
        }.get(step.id)
        if diagnosis is not None:
            what, diagnose = diagnosis
            for command in compiled.commands_for(Mode.HOST):
                self.ex.run(self.ex.plain(command), what=what, diagnose=diagnose)
        else:
            self._run_plain(compiled)
        if memo is not None:
            host_checks.remember(*memo)
        checks = [s.id for s in py.steps.values() if s.kind is Kind.CHECK]
        if self.pending is not None and step.id == checks[-1]:
            # A new venv that fails pip check or an import never replaces a working one.
            self._activate(self.pending)
            self.pending = None
        return Status.UNCHANGED, "dry run" if self.options.dry_run else "passed"

    def _check_memo(self, step: Step) -> tuple[Path, str, str] | None:
        """(venv, step id, fingerprint) for a check of a venv devenv made, not in a dry run. (A
        new venv is always checked before it is switched to; its passes are recorded.)"""
        commands = step.commands_for(Mode.HOST)
        if self.options.dry_run or len(commands) != 1:
            return None
        venv = Path(commands[0].argv[0]).parent.parent
        if host_checks.memo_folder(venv) is None:
            return None
        roots = {module.split(".")[0] for module in self.plan.python.smoke}
        project = self.plan.project_dir
        if step.id == "smoke-imports" and any(
            (project / r).exists() or (project / f"{r}.py").exists() for r in roots
        ):
            return None  # it imports the project's own code, which can change any time
        return venv, step.id, host_checks.fingerprint(venv, commands[0].argv)

    def _db_setup(self, step: Step) -> tuple[Status, str]:
        if not self.options.with_db:
            return Status.SKIPPED, "needs --with-db"
        changed, self.database = host_db.setup(self.ex, self.plan, step, "the local database")
        return (Status.CHANGED if changed else Status.UNCHANGED), self.database.url

    def _db_init(self, step: Step) -> tuple[Status, str]:
        if not self.options.with_db:
            return Status.SKIPPED, "needs --with-db"
        database = self._need_database("the init scripts")
        if not database.created:
            return Status.UNCHANGED, "the database existed: init scripts run only on a new one"
        host_db.run_init(self.ex, step, database, "the init scripts")
        return Status.CHANGED, f"ran on the new database {database.name!r}"

    def _need_database(self, what: str) -> host_db.Database:
        if self.database is None:
            raise HostError(
                f"{what}: the local database was not set up",
                hint="this is a bug in devenv's host runner; please report it",
            )
        return self.database

    def _db_check(self, step: Step) -> tuple[Status, str]:
        if not self.options.with_db:
            return Status.SKIPPED, "needs --with-db"
        if self.database is None:
            raise HostError(
                f"{step.title}: the local database was not set up",
                hint="this is a bug in devenv's host runner; please report it",
            )
        names = tuple(EXTENSION_SQL_NAMES[e] for e in self.plan.postgres.extensions)
        present = not self.options.dry_run and host_db.extensions_present(
            self.ex, self.database, names
        )
        for command in step.commands_for(Mode.HOST):
            self.ex.run(self.ex.plain(command, self.database.env()), what=step.title)
        return (Status.UNCHANGED if present else Status.CHANGED), "query passed"

    def _tasks(self, step: Step) -> tuple[Status, str]:
        """[tasks] setup in the new venv with the database's DATABASE_URL, as `devenv run`
        runs commands; after the checks, so they run against a working environment."""
        if not self.options.with_db:
            return Status.SKIPPED, "needs --with-db"
        database = self._need_database("the setup tasks")
        url = (("DATABASE_URL", database.url), *database.env())
        if self.options.dry_run:
            for task in self.plan.tasks.setup:
                self._echo(f"+ {task}")
            return Status.CHANGED, "dry run"
        env = host_environment(self.plan, os.environ, HostDatabase(env=url, note=""))
        try:
            report = run_tasks(
                self.plan, _host_runner(self.plan, env, self._echo), self._echo, "on the host"
            )
        except TaskError as exc:
            raise HostError(exc.message, hint=exc.hint) from None
        return Status.CHANGED, report.line()

    def _generic(self, step: Step) -> tuple[Status, str]:
        if step.root:
            self.ex.require_root(step.title)
        for command in step.commands_for(Mode.HOST):
            invocation = self.ex.as_root(command) if step.root else self.ex.plain(command)
            self.ex.run(invocation, what=step.title)
        return Status.CHANGED, ""

    def _run_plain(self, step: Step) -> None:
        for command in step.commands_for(Mode.HOST):
            self.ex.run(self.ex.plain(command), what=step.title)


def _smoke(lines: Sequence[str]) -> tuple[str, str] | None:
    """The smoke program's lines: which import failed, and which requirement should provide it."""
    found = smoke.failures(tuple(lines))
    if not found:
        return None
    return "; ".join(found), f"{smoke.HINT}; the previous venv (if any) is untouched"


def _native_libs(lines: Sequence[str]) -> tuple[str, str] | None:
    """The run-time library check's lines: which library is missing, who links it, and the
    release's package that provides it."""
    found = native_libs.failures(tuple(lines))
    if not found:
        return None
    return "; ".join(found), f"{native_libs.HINT}; the previous venv (if any) is untouched"


def _host_runner(
    plan: Plan, env: dict[str, str], echo: Echo
) -> Callable[[Sequence[str]], tuple[int, str]]:
    """A task in the project folder, its output passed through line by line."""

    def run(argv: Sequence[str]) -> tuple[int, str]:
        tail: deque[str] = deque(maxlen=30)
        echo(f"+ {shlex.join(argv)}")
        try:
            proc = subprocess.Popen(
                list(argv),
                cwd=plan.project_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        except FileNotFoundError:
            return 127, f"{argv[0]}: command not found (in the venv or on PATH)"
        except PermissionError:  # as a shell says it, and as in the container (setpriv)
            return 126, f"{argv[0]}: not an executable file"
        try:
            for raw in proc.stdout or ():
                line = raw.rstrip()
                tail.append(line)
                echo(f"  {line}")
            return proc.wait(), "\n".join(tail)
        except BaseException:
            stop_process(proc)
            raise

    return run
