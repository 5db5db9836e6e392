"""`devenv parity`: what host-install put on this machine against what the images hold.

The same read-only commands run on both sides — natively here, in a throw-away container of
the image there: dpkg-query for the plan's apt packages, the venv's Python version and
`pip freeze --all`. The dev image is compared for the dev side; the db image for the database
packages (PostgreSQL and its extensions), which is where they live in container mode.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv.container.engine import Engine, run_in_image
from devenv.errors import HostError
from devenv.host import apt as host_apt
from devenv.host import release as host_release
from devenv.host.execute import Echo, Executor
from devenv.plan.model import Plan, Target
from devenv.project.requirements import normalise
from devenv.render.labels import LABEL_PLAN
from devenv.steps.model import Mode, Scope, python_path
from devenv.steps.recipe import Recipe, compile_plan

# argv -> (exit status, stdout)
Runner = Callable[[Sequence[str]], tuple[int, str]]
NOT_INSTALLED = "(not installed)"


@dataclass(frozen=True, kw_only=True)
class Facts:
    packages: Mapping[str, str]  # installed package -> version
    python: str | None = None
    pip: Mapping[str, str] | None = None  # normalised name -> `pip freeze` line


@dataclass(frozen=True, kw_only=True)
class Difference:
    what: str
    host: str
    image: str


@dataclass(frozen=True, kw_only=True)
class ParityReport:
    compared: int
    differences: tuple[Difference, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.differences

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "compared": self.compared,
            "differences": [
                {"what": d.what, "host": d.host, "image": d.image} for d in self.differences
            ],
            "notes": list(self.notes),
        }

    def text(self) -> list[str]:
        lines = [f"note: {n}" for n in self.notes]
        if self.ok:
            return [*lines, f"parity: no difference in {self.compared} compared items"]
        lines.append(f"parity: {len(self.differences)} difference(s) in {self.compared} items:")
        width = max(len(d.what) for d in self.differences)
        lines += [f"  {d.what:{width}}  host {d.host}  image {d.image}" for d in self.differences]
        return lines


def python_argv(venv: str) -> tuple[str, ...]:
    return (python_path(venv), "-c", "import platform; print(platform.python_version())")


def freeze_argv(venv: str) -> tuple[str, ...]:
    return (python_path(venv), "-m", "pip", "freeze", "--all")


def dpkg_argv(names: Iterable[str]) -> tuple[str, ...]:
    return ("dpkg-query", "-W", f"-f={host_apt.DPKG_FORMAT}", *names)


def collect(run: Runner, packages: Sequence[str], venv: str | None) -> Facts:
    """Facts from one side; `venv` None: packages only (the db image has no venv)."""
    installed: dict[str, str] = {}
    if packages:
        _, out = run(dpkg_argv(packages))
        installed = host_apt.parse_dpkg_query(out)
    if venv is None:
        return Facts(packages=installed)
    status, out = run(python_argv(venv))
    python = out.strip() if status == 0 else None
    status, out = run(freeze_argv(venv))
    pip = parse_freeze(out) if status == 0 else None
    return Facts(packages=installed, python=python, pip=pip)


def parse_freeze(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name = line.split("==")[0].split(" @ ")[0].strip()
        found[normalise(name)] = line
    return found


def compare(
    packages: Sequence[str], host: Facts, image: Facts, *, python: bool
) -> tuple[int, list[Difference]]:
    differences = []
    compared = 0
    for name in packages:
        compared += 1
        a = host.packages.get(name, NOT_INSTALLED)
        b = image.packages.get(name, NOT_INSTALLED)
        if a != b:
            differences.append(Difference(what=f"apt {name}", host=a, image=b))
    if not python:
        return compared, differences
    compared += 1
    if host.python != image.python:
        differences.append(
            Difference(what="python", host=host.python or "?", image=image.python or "?")
        )
    host_pip, image_pip = host.pip or {}, image.pip or {}
    for name in sorted(set(host_pip) | set(image_pip)):
        compared += 1
        a, b = host_pip.get(name, NOT_INSTALLED), image_pip.get(name, NOT_INSTALLED)
        if a != b:
            differences.append(Difference(what=f"pip {name}", host=a, image=b))
    return compared, differences


def upstream(version: str) -> str:
    """Debian version -> upstream part: '1:0.8.0-1+b1' -> '0.8.0'."""
    version = version.split(":", 1)[-1]
    return version.rsplit("-", 1)[0] if "-" in version else version


def parity(plan: Plan, echo: Echo, *, with_db: bool | None = None) -> ParityReport:
    # The host side is named for the host's release (refused if it cannot provide the plan).
    here = compile_plan(host_release.for_host(plan, host_release.detect()))
    team = here if here.plan is plan else compile_plan(plan)
    steps = here.steps(Mode.HOST)
    dev = _names(host_apt.apt_steps(steps, frozenset({Scope.BASE, Scope.DEV})))
    db = _names(host_apt.apt_steps(steps, frozenset({Scope.DB})))
    venv = Path(team.venv(Mode.HOST))
    if not Path(team.python(Mode.HOST)).exists():
        raise HostError(
            f"no venv at {venv}: nothing to compare on this host",
            hint="run devenv host-install first",
        )
    ex = Executor(echo=echo, dry_run=True)

    def on_host(argv: Sequence[str]) -> tuple[int, str]:
        probe = ex.probe(argv)
        return probe.returncode, probe.stdout

    host = collect(on_host, sorted(set(dev) | set(db)), str(venv))
    notes = []
    if with_db is None:
        with_db = plan.postgres.packages.server in host.packages
        if not with_db:
            notes.append(
                "database packages not compared: this host has no "
                f"{plan.postgres.packages.server} (devenv host-install --with-db)"
            )
    with Engine.connect() as engine:

        def in_image(ref: str) -> Runner:
            def run(argv: Sequence[str]) -> tuple[int, str]:
                echo(f"+ (in {ref}) {shlex.join(argv)}")
                status, out, _ = run_in_image(engine, ref, argv)
                return status, out

            return run

        dev_ref = plan.image(Target.DEV)
        notes += _stale(engine.image_labels(dev_ref), team, Target.DEV, dev_ref)
        dev_facts = collect(in_image(dev_ref), dev, team.venv(Mode.CONTAINER))
        compared, differences = compare(dev, host, dev_facts, python=True)
        if with_db:
            db_ref = plan.image(Target.DB)
            notes += _stale(engine.image_labels(db_ref), team, Target.DB, db_ref)
            db_facts = collect(in_image(db_ref), db, None)
            n, more = compare(db, host, db_facts, python=False)
            compared += n + 1 + len(plan.postgres.packages.extensions)
            differences += more + _postgres_rows(plan, host, db_facts)
    return ParityReport(compared=compared, differences=tuple(differences), notes=tuple(notes))


def _names(steps: Iterable[Any]) -> list[str]:
    return list(dict.fromkeys(host_apt.package_name(p) for s in steps for p in s.packages))


def _postgres_rows(plan: Plan, host: Facts, image: Facts) -> list[Difference]:
    """The PostgreSQL major and extension versions, named as such (not only as packages)."""
    pg = plan.postgres.packages
    rows = []
    a, b = host.packages.get(pg.server), image.packages.get(pg.server)
    major_a, major_b = (v.split(".")[0] if v else NOT_INSTALLED for v in (a, b))
    if major_a != major_b:
        rows.append(Difference(what="PostgreSQL major", host=major_a, image=major_b))
    for package in pg.extensions:
        a, b = host.packages.get(package), image.packages.get(package)
        up_a, up_b = (upstream(v) if v else NOT_INSTALLED for v in (a, b))
        if up_a != up_b:
            rows.append(Difference(what=f"{package} upstream", host=up_a, image=up_b))
    return rows


def _stale(labels: Mapping[str, str], recipe: Recipe, target: Target, ref: str) -> list[str]:
    built = labels.get(LABEL_PLAN)
    if built and built != recipe.fingerprint(target):
        return [f"{ref} was built from another version of the plan (devenv build updates it)"]
    return []
