"""The review's first phase for real: which distributions will build from source, and what
those builds need, for one target interpreter (the image's Python, or the host's).

Whether a project needs compilers and headers depends on the pair (requirements, target): the
same pins that install from wheels on Python 3.12 build from sdists on 3.13. So the requirement
set (the lock's when there is one) is resolved for the target (devenv.review.resolver), and every
distribution without a fitting wheel adds build-essential, python3-dev and, from the table in
devenv.review.native, the -dev packages it compiles against. When the index can't be reached, the
table alone decides, and says so.
"""

from __future__ import annotations

import dataclasses
import functools
import platform
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from devenv.plan.lockfile import LOCK_FILE
from devenv.plan.model import Plan
from devenv.project.requirements import normalise
from devenv.review import native
from devenv.review.resolver import (
    Dist,
    Resolution,
    ResolveError,
    Target,
    cache_key,
    resolve,
    wheel_version,
)
from devenv.rules import distro

_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
_PROBE = (
    "import platform, sys; "
    "print('%d.%d' % sys.version_info[:2], platform.machine(), platform.libc_ver()[1])"
)


@dataclass(frozen=True, kw_only=True)
class Addition:
    packages: tuple[str, ...]  # apt packages, as the release names them
    reason: str  # why, in a form `devenv plan` prints as is


@dataclass(frozen=True, kw_only=True)
class Review:
    target: Target | None
    builds: tuple[Dist, ...]  # what the resolution found without a fitting wheel
    additions: tuple[Addition, ...]
    fallback: str = ""  # one line when the table decided alone (index unreachable, ...)
    # (distribution, what works instead) for a source build that may well fail: the first
    # version with a wheel for the target, and the supported bases with a wheel for this one.
    advice: tuple[tuple[str, str], ...] = ()

    def packages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p for a in self.additions for p in a.packages))

    def notes(self) -> tuple[str, ...]:
        lines = [self.fallback] if self.fallback else []
        advice = (f"if {name} fails to build: {text}" for name, text in self.advice)
        return (*lines, *(f"{a.reason} → {', '.join(a.packages)}" for a in self.additions), *advice)

    def advice_for(self, distribution: str) -> str | None:
        return dict(self.advice).get(normalise(distribution))


def container_target(plan: Plan) -> Target:
    """The image's Python: the release's python3, on the engine's (this machine's) arch."""
    release = plan.environment.release
    machine = platform.machine()
    return Target(
        python=release.python,
        machine=_MACHINES.get(machine, machine),
        glibc=native.GLIBC[release.codename],
    )


@functools.lru_cache(maxsize=1)
def host_target() -> Target | None:
    """The host's python3 (what host-install makes the venv with), or None without one."""
    if not shutil.which("python3"):
        return None
    try:
        probe = subprocess.run(
            ["python3", "-c", _PROBE], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = probe.stdout.split()
    if probe.returncode != 0 or len(parts) != 3 or not parts[2]:
        return None  # not a glibc Linux python: nothing to resolve for
    return Target(python=parts[0], machine=_MACHINES.get(parts[1], parts[1]), glibc=parts[2])


_MEMO: dict[tuple[str, str], Review] = {}


def review(plan: Plan, target: Target | None) -> Review:
    """Resolve the plan's requirement set for `target` and decide what its builds need."""
    codename = plan.environment.release.codename
    roots: tuple[Path, ...] | None
    inputs: tuple[tuple[str, bytes], ...]
    if plan.lock:  # the lock's set as the plan holds it (`devenv lock` reviews a new one)
        roots, inputs = None, ((LOCK_FILE, plan.lock.requirements.encode()),)
    else:
        roots = tuple(plan.project_dir / f for f in plan.python.requirements)
        inputs = tuple((f, (plan.project_dir / f).read_bytes()) for f in plan.requirements.files)
    if target is None:
        return fallback(plan, "no python3 on PATH to resolve for")
    if not inputs:  # no requirements: nothing to resolve, nothing builds
        return Review(target=target, builds=(), additions=())
    memo = (cache_key(inputs, target), codename)
    if memo not in _MEMO:  # one command compiles the steps several times: resolve once
        try:
            decided = decide(resolve(roots, inputs, target), codename)
            _MEMO[memo] = dataclasses.replace(decided, advice=advise(decided.builds, target))
        except ResolveError as exc:
            where = "the package index can't be reached" if exc.unreachable else "uv failed"
            _MEMO[memo] = fallback(plan, f"{where} for {target.label} ({_one_line(exc.reason)})")
    return _MEMO[memo]


def decide(resolution: Resolution, codename: str) -> Review:
    """Every distribution of `resolution` without a fitting wheel, and what building it needs."""
    builds = resolution.source_builds()
    additions = []
    for dist in builds:
        lib = native.NATIVE.get(dist.name)
        against = f" against {lib.why}" if lib else ""
        version = f" {dist.version}" if dist.version else ""
        origin = "" if dist.source in ("sdist", "") else f" (from a {dist.source})"
        additions.append(
            Addition(
                packages=native.build_needs(dist.name, codename),
                reason=(
                    f"{dist.name}{version}{origin} has no wheel for {resolution.target.label}: "
                    f"builds from source{against}"
                ),
            )
        )
    additions += runtime_additions(resolution.dists, codename)
    return Review(target=resolution.target, builds=builds, additions=tuple(additions))


def advise(builds: Iterable[Dist], target: Target) -> tuple[tuple[str, str], ...]:
    """For each source build of a pinned version, what installs from wheels instead: a C
    extension often does not compile on a Python newer than its release (greenlet 3.0.3 on 3.13),
    and a compiler error never says so. Only what the index says; nothing when it can't answer."""
    advice = []
    for dist in builds:
        if dist.source != "sdist" or not dist.version:
            continue
        try:
            newer = wheel_version(f"{dist.name}>{dist.version}", target, lowest=True)
            bases = [
                f"{r.distro}:{r.version} (Python {r.python})"
                for r in distro.RELEASES
                if r.python != target.python
                and wheel_version(
                    f"{dist.name}=={dist.version}",
                    Target(python=r.python, machine=target.machine, glibc=native.GLIBC[r.codename]),
                    lowest=False,
                )
            ]
        except ResolveError:
            continue
        said = []
        if newer:
            said.append(f"{dist.name} {newer} is the first with a wheel for {target.label}")
        if bases:
            said.append(f"{dist.name} {dist.version} has wheels for {', '.join(bases)}")
        if said:
            advice.append((dist.name, "; ".join(said)))
    return tuple(advice)


def runtime_additions(dists: Iterable[Dist], codename: str) -> list[Addition]:
    """What the installed distributions load at run time that their wheels do not carry."""
    additions = []
    for dist in dists:
        packages = native.runtime_needs(dist.name, codename)
        if packages:
            version = f" {dist.version}" if dist.version else ""
            additions.append(
                Addition(
                    packages=packages,
                    reason=f"{dist.name}{version} {native.RUNTIME[dist.name].why}",
                )
            )
    return additions


def fallback(plan: Plan, why: str) -> Review:
    """The table alone: a compiler and headers unless every requirement is known not to need
    them, and the -dev packages of every well-known native package in the set."""
    codename = plan.environment.release.codename
    if plan.lock:
        names = sorted({normalise(n) for n in plan.lock.python_pins()})
    else:
        names = list(dict.fromkeys(r.name for r in plan.requirements.requirements))
        # An extra that selects a compiled distribution (psycopg[c] -> psycopg-c).
        names += [
            f"{r.name}-{e}"
            for r in plan.requirements.requirements
            for e in sorted(r.extras)
            if f"{r.name}-{e}" in native.NATIVE
        ]
    unknown = [n for n in names if n not in native.PURE_PYTHON]
    additions = []
    if unknown:
        shown = ", ".join(unknown[:4]) + (
            f" and {len(unknown) - 4} more" if len(unknown) > 4 else ""
        )
        additions.append(
            Addition(
                packages=native.COMPILER,
                reason=f"{shown} not known to be pure Python: may build from source",
            )
        )
    for name in names:
        lib = native.NATIVE.get(name)
        if lib:
            additions.append(
                Addition(
                    packages=native.build_needs(name, codename),
                    reason=f"{name} may build from source against {lib.why}",
                )
            )
    additions += runtime_additions(
        (Dist(name=n, version="", wheel=True, source="") for n in names), codename
    )
    return Review(
        target=None,
        builds=(),
        additions=tuple(additions),
        fallback=f"{why}: reviewed from devenv's table only",
    )


def _one_line(text: str) -> str:
    """A message from uv, fit for a note that reaches the Dockerfile as a comment."""
    clean = "".join(c if c.isprintable() else " " for c in text).strip()
    clean = re.sub(r"//[^/@\s]+@", "//***@", clean)  # an index URL's credentials stay out
    return clean if len(clean) <= 160 else clean[:157] + "..."
