"""`devenv doctor`: what this machine has for the plan, each finding with a fix.

Levels: ok; warn (worth knowing, the plan can still be met); fail (something the plan needs is
missing here, so the command exits 1). Doctor only reads: the probes it runs change nothing.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from devenv.container.engine import Engine
from devenv.errors import DevenvError
from devenv.files import certs
from devenv.host import apt as host_apt
from devenv.host import release as host_release
from devenv.host import venv as host_venv
from devenv.host.execute import Echo, Executor
from devenv.plan.model import Plan
from devenv.steps.model import Mode, Scope
from devenv.steps.recipe import Recipe, compile_plan

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "PIP_INDEX_URL")


class Level(str, enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, kw_only=True)
class Finding:
    name: str
    level: Level
    detail: str
    hint: str = ""


@dataclass(frozen=True, kw_only=True)
class DoctorReport:
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return all(f.level is not Level.FAIL for f in self.findings)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [
                {"name": f.name, "level": f.level.value, "detail": f.detail, "hint": f.hint}
                for f in self.findings
            ],
        }

    def text(self) -> list[str]:
        width = max(len(f.name) for f in self.findings)
        lines = []
        for f in self.findings:
            label = f.level.value.upper() if f.level is Level.FAIL else f.level.value
            lines.append(f"{label:4}  {f.name:{width}}  {f.detail}")
            if f.hint and f.level is not Level.OK:
                lines.append(f"{'':4}  {'':{width}}  fix: {f.hint}")
        fails = sum(1 for f in self.findings if f.level is Level.FAIL)
        warns = sum(1 for f in self.findings if f.level is Level.WARN)
        lines.append(f"{fails} missing, {warns} warning(s)")
        return lines


def _add(found: list[Finding], name: str, level: Level, detail: str, hint: str = "") -> None:
    found.append(Finding(name=name, level=level, detail=detail, hint=hint))


def run_doctor(
    plan: Plan,
    echo: Echo,
    *,
    env: Mapping[str, str] | None = None,
    os_release: Path | None = None,
    engine_check: Callable[[], str] | None = None,
) -> DoctorReport:
    environ = os.environ if env is None else env
    ex = Executor(echo=echo, dry_run=True)
    found: list[Finding] = []
    python = _python(ex, found)
    _venv_module(ex, found, python is not None)
    host = host_release.detect(os_release)
    refusal: host_release.HostReleaseError | None = None
    try:
        here: Plan | None = host_release.for_host(plan, host)
    except host_release.HostReleaseError as exc:
        here, refusal = None, exc
        _add(
            found,
            "packages",
            Level.FAIL,
            "not checked: this host's release cannot provide the plan (see release)",
            exc.hint or "",
        )
    # One compile per plan: this host's (its package names), and the team's when it differs.
    recipe = compile_plan(here or plan)
    team = recipe if recipe.plan is plan else compile_plan(plan)
    missing = _packages(ex, recipe, found) if here is not None else False
    _sudo(ex, found, missing)
    _release(plan, found, host, refusal)
    _postgres_tools(ex, recipe, found)
    _plan_venv(ex, team, found, python)
    _trust(found, environ)
    _engine(found, engine_check or _connect_engine)
    if here is None:  # host-install cannot work here: no fix may point at it
        found = [
            dataclasses.replace(f, hint="see release") if "host-install" in f.hint else f
            for f in found
        ]
    return DoctorReport(findings=tuple(found))


def _python(ex: Executor, found: list[Finding]) -> tuple[str, str] | None:
    identity = host_venv.python_identity(ex)
    if identity is None:
        _add(
            found,
            "python",
            Level.FAIL,
            "no python3 on PATH",
            "install python3 (apt-get install python3)",
        )
    else:
        _add(found, "python", Level.OK, f"{identity[1]} at {identity[0]}")
    return identity


def _venv_module(ex: Executor, found: list[Finding], have_python: bool) -> None:
    if not have_python:
        return
    probe = ex.probe(("python3", "-c", "import venv, ensurepip"))
    if probe.returncode == 0:
        _add(found, "venv", Level.OK, "python3 -m venv can make venvs with pip (ensurepip)")
    else:
        _add(
            found,
            "venv",
            Level.FAIL,
            "python3 can't make venvs with pip (no venv/ensurepip)",
            "devenv host-install installs python3-venv",
        )


def _packages(ex: Executor, recipe: Recipe, found: list[Finding]) -> bool:
    """Apt packages of the plan; True when the dev environment misses some."""
    if shutil.which("dpkg-query") is None or shutil.which("apt-get") is None:
        _add(
            found,
            "apt",
            Level.FAIL,
            "no apt-get/dpkg-query: not a Debian or Ubuntu host",
            "use the container instead (devenv build), or a Debian or Ubuntu machine",
        )
        return False
    _add(found, "apt", Level.OK, "apt-get and dpkg-query found")
    steps = recipe.steps(Mode.HOST)
    dev = [
        p for s in host_apt.apt_steps(steps, frozenset({Scope.BASE, Scope.DEV})) for p in s.packages
    ]
    db = [p for s in host_apt.apt_steps(steps, frozenset({Scope.DB})) for p in s.packages]
    installed = host_apt.query_installed(ex, [*dev, *db])
    lacking = host_apt.missing(dev, installed)
    if lacking:
        _add(found, "packages", Level.FAIL, f"missing: {', '.join(lacking)}", "devenv host-install")
    else:
        _add(found, "packages", Level.OK, f"all {len(set(dev))} installed")
    db_lacking = [p for p in host_apt.missing(db, installed) if p not in lacking]
    if db_lacking:
        _add(
            found,
            "db packages",
            Level.WARN,
            f"missing: {', '.join(db_lacking)} (only for a local database)",
            "devenv host-install --with-db, or use the db container",
        )
    else:
        _add(found, "db packages", Level.OK, f"all {len(set(db))} installed")
    return bool(lacking)


def _sudo(ex: Executor, found: list[Finding], needed: bool) -> None:
    if ex.is_root:
        _add(found, "sudo", Level.OK, "running as root: not needed")
        return
    problem = ex.sudo_problem()
    if problem is None:
        _add(found, "sudo", Level.OK, "sudo -n works without a prompt")
        return
    level = Level.FAIL if needed else Level.WARN
    when = "packages are missing, so" if needed else "nothing needs root now, but"
    _add(
        found,
        "sudo",
        level,
        f"{when} {problem}",
        "run as root, allow this user passwordless sudo, or run `sudo -v` first",
    )


def _release(
    plan: Plan,
    found: list[Finding],
    host: host_release.HostRelease,
    refusal: host_release.HostReleaseError | None,
) -> None:
    want = plan.environment.release
    if host.release == want:
        _add(
            found, "release", Level.OK, f"{host.label}, as the plan's base {plan.environment.base}"
        )
        return
    if refusal is not None:
        # The fix names what can work here, never host-install as it stands.
        _add(found, "release", Level.FAIL, refusal.message, refusal.hint or "")
        return
    _add(
        found,
        "release",
        Level.WARN,
        f"host is {host.label}, the plan's base is {want.label}: host-install uses this "
        "host's package versions, which differ from the image's",
        f"use a {want.label} machine for parity with the image, "
        "or set [environment] base to match this host",
    )


def _postgres_tools(ex: Executor, recipe: Recipe, found: list[Finding]) -> None:
    plan = recipe.plan
    needs_pg_config = any(
        host_apt.package_name(p) == "libpq-dev" for s in recipe.steps(Mode.HOST) for p in s.packages
    )
    for tool, package, needed in (
        ("psql", plan.postgres.packages.client, True),
        ("pg_config", "libpq-dev", needs_pg_config),
    ):
        if shutil.which(tool) is None:
            level = Level.FAIL if needed else Level.WARN
            _add(found, tool, level, "not on PATH", f"devenv host-install installs {package}")
            continue
        probe = ex.probe((tool, "--version"))
        version = (probe.stdout.strip().splitlines() or ["?"])[0]
        major = re.search(r"PostgreSQL\)? (\d+)", version)
        if tool == "psql" and major and int(major.group(1)) != plan.postgres.version:
            _add(
                found,
                tool,
                Level.WARN,
                f"{version}, not the plan's PostgreSQL {plan.postgres.version}",
                f"devenv host-install installs {package}",
            )
            continue
        _add(found, tool, Level.OK, version)


def _plan_venv(
    ex: Executor, recipe: Recipe, found: list[Finding], python: tuple[str, str] | None
) -> None:
    plan = recipe.plan
    state = host_venv.inspect(plan)
    where = plan.python.venv
    if state.ownership is host_venv.Ownership.ABSENT:
        _add(found, "plan venv", Level.FAIL, f"no venv at {where}", "devenv host-install")
        return
    if state.ownership is host_venv.Ownership.FOREIGN:
        _add(
            found,
            "plan venv",
            Level.WARN,
            f"{where} exists but devenv did not make it",
            "devenv host-install --recreate (replaces it)",
        )
        return
    if (
        python is None
        or state.complete_stamp != host_venv.compute_stamp(plan, python, recipe).digest
    ):
        _add(
            found,
            "plan venv",
            Level.FAIL,
            f"{where} was built from other requirements or another Python",
            "devenv host-install",
        )
        return
    assert state.generation is not None
    _add(found, "plan venv", Level.OK, f"{where} -> {state.generation.name}, current")


def _redact(value: str) -> str:
    """Drop credentials from a proxy URL before showing it."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return "(unparsable)"
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return value


def _trust(found: list[Finding], env: Mapping[str, str]) -> None:
    sources = certs.find_sources(env)
    count = len(certs.read_certificates(sources)) if sources else 0
    names = [n for upper in PROXY_VARIABLES for n in (upper, upper.lower())]
    proxies = [f"{n}={_redact(env[n])}" for n in names if env.get(n)]
    broken = [
        f"{v}={env[v]}" for v in certs.BUNDLE_VARIABLES if env.get(v) and not Path(env[v]).is_file()
    ]
    detail = (
        f"{count} extra CA certificate(s) from {', '.join(map(str, sources))}"
        if sources
        else "no extra CA certificates"
    )
    _add(
        found,
        "CA certificates",
        Level.WARN if broken else Level.OK,
        detail + (f"; missing files: {', '.join(broken)}" if broken else ""),
        "point these variables at existing files, or unset them",
    )
    _add(found, "proxy", Level.OK, ", ".join(proxies) if proxies else "no proxy variables set")


def _connect_engine() -> str:
    with Engine.connect() as engine:
        return engine.where


def _engine(found: list[Finding], check: Callable[[], str]) -> None:
    try:
        where = check()
    except DevenvError as exc:
        _add(
            found,
            "docker",
            Level.WARN,
            exc.message,
            "only container mode needs it (devenv build); host-install works without",
        )
        return
    _add(found, "docker", Level.OK, f"engine answers at {where}")
