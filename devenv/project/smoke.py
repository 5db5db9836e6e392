"""The smoke imports: which modules prove an install, and the program that imports them.

When the plan names no `[python] smoke`, the list is derived from what the requirements name:
the framework, the ORM, the PostgreSQL driver and pgvector's integration for it, and the
well-known packages whose import loads a system library. Only distributions in the table below
count, by their real import names: a guess that is wrong would fail a working build. Pure: no
index, no process, no file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from devenv.project.requirements import Requirement, RequirementsSet, normalise

# Distribution (PEP 503 name) -> what importing proves it installed.
IMPORTS: dict[str, tuple[str, ...]] = {
    # frameworks and servers
    "fastapi": ("fastapi",),
    "starlette": ("starlette",),
    "flask": ("flask",),
    "django": ("django",),
    "uvicorn": ("uvicorn",),
    "gunicorn": ("gunicorn",),
    # ORMs, migrations, validation
    "sqlalchemy": ("sqlalchemy",),
    "sqlmodel": ("sqlmodel",),
    "alembic": ("alembic",),
    "peewee": ("peewee",),
    "pydantic": ("pydantic",),
    "pydantic-settings": ("pydantic_settings",),
    # PostgreSQL drivers
    "psycopg": ("psycopg",),
    "psycopg-pool": ("psycopg_pool",),
    "psycopg2": ("psycopg2",),
    "psycopg2-binary": ("psycopg2",),
    "asyncpg": ("asyncpg",),
    "pg8000": ("pg8000",),
    # native code: the import loads a compiled extension or a system library
    "numpy": ("numpy",),
    "pillow": ("PIL",),
    "lxml": ("lxml",),
    "python-magic": ("magic",),
    "opencv-python": ("cv2",),
    "opencv-python-headless": ("cv2",),
    "opencv-contrib-python": ("cv2",),
    "opencv-contrib-python-headless": ("cv2",),
    # ... each of native.RUNTIME's that loads its library at import: a wrong package name for a
    # release fails here, where ldd (which sees only linked libraries) cannot look
    "file-magic": ("magic",),
    "pyzbar": ("pyzbar.pyzbar",),
    "cairocffi": ("cairocffi",),
    "weasyprint": ("weasyprint",),
    "pyvips": ("pyvips",),
    "sounddevice": ("sounddevice",),
    "pyodbc": ("pyodbc",),
}

# (distribution, extra) -> the distributions that extra installs, where that names a driver or
# a server (SQLAlchemy's dialect extras, psycopg's pool, FastAPI's standard set).
EXTRAS: dict[tuple[str, str], tuple[str, ...]] = {
    ("sqlalchemy", "postgresql"): ("psycopg2",),
    ("sqlalchemy", "postgresql-psycopg2binary"): ("psycopg2-binary",),
    ("sqlalchemy", "postgresql-asyncpg"): ("asyncpg",),
    ("sqlalchemy", "postgresql-psycopg"): ("psycopg",),
    ("sqlalchemy", "postgresql-psycopgbinary"): ("psycopg",),
    ("sqlalchemy", "postgresql-pg8000"): ("pg8000",),
    ("psycopg", "pool"): ("psycopg-pool",),
    ("fastapi", "standard"): ("uvicorn",),
    ("fastapi", "all"): ("uvicorn",),
}

# What a distribution always brings along, where it decides pgvector's integrations.
DEPENDS: dict[str, tuple[str, ...]] = {"sqlmodel": ("sqlalchemy",)}


@dataclass(frozen=True, kw_only=True)
class Integration:
    module: str
    needs: tuple[frozenset[str], ...]  # each group: one of these distributions is installed
    since: tuple[int, ...]  # the first pgvector-python release that has the module


_PSYCOPG2 = frozenset({"psycopg2", "psycopg2-binary"})
# pgvector-python's modules, read from each release's wheel (0.1.0 to 0.5.1): before 0.1.4 the
# psycopg 3 module was pgvector.psycopg3. pgvector.django needs django.contrib.postgres, which
# needs a driver.
PGVECTOR: tuple[Integration, ...] = (
    Integration(module="pgvector.psycopg", needs=(frozenset({"psycopg"}),), since=(0, 1, 4)),
    Integration(module="pgvector.psycopg2", needs=(_PSYCOPG2,), since=(0, 1, 0)),
    Integration(module="pgvector.asyncpg", needs=(frozenset({"asyncpg"}),), since=(0, 1, 3)),
    Integration(module="pgvector.pg8000", needs=(frozenset({"pg8000"}),), since=(0, 4, 0)),
    Integration(module="pgvector.sqlalchemy", needs=(frozenset({"sqlalchemy"}),), since=(0, 1, 0)),
    Integration(
        module="pgvector.django",
        needs=(frozenset({"django"}), frozenset({"psycopg"}) | _PSYCOPG2),
        since=(0, 1, 2),
    ),
    Integration(module="pgvector.peewee", needs=(frozenset({"peewee"}),), since=(0, 2, 2)),
)

# Tries each import; prints one line per failure (module, error, the requirement expected to
# provide it) and exits 1. Arguments: MODULE or MODULE=REQUIREMENT. Run as `python -c PROGRAM`:
# the Dockerfile carries it in the exec form (render.dockerfile), the host runs the same argv.
PROGRAM = """\
import importlib, sys
failed = 0
for arg in sys.argv[1:]:
    module, _, source = arg.partition("=")
    try:
        importlib.import_module(module)
    except Exception as exc:
        failed = 1
        why = " ".join(f"{type(exc).__name__}: {exc}".split())
        where = f" (expected from requirement {source})" if source else ""
        print(f"import {module} failed: {why}{where}", file=sys.stderr, flush=True)
sys.exit(failed)
"""
# What to do about a failed import: the same words in both modes.
HINT = (
    "add the requirement (or the system package the module loads), or set [python] smoke to "
    "the modules the project imports"
)
_FAILURE = re.compile(r"import [A-Za-z_][\w.]* failed: .*")
# What a specifier may show in a message (it reaches the Dockerfile as an argument).
_SHOWN_SPECIFIER = re.compile(r"[\w.*+!=<>~,()]*")


def derive(requirements: RequirementsSet, pins: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The modules to import, in the requirements' order. `pins`: devenv.lock's versions (what
    gets installed, markers decided); without it, requirements with a marker count for nothing."""
    pins = _normalised(pins)
    named = _installed_requirements(requirements, pins)
    installed = _distributions(named, pins)
    modules: list[str] = []
    for req in named:
        modules += IMPORTS.get(req.name, ())
        for extra in sorted(req.extras):
            modules += (m for dist in EXTRAS.get((req.name, extra), ()) for m in IMPORTS[dist])
        if req.name == "pgvector":
            version = _version(req, pins)
            found = [
                i.module
                for i in PGVECTOR
                if version >= i.since and all(group & installed for group in i.needs)
            ]
            modules += found or ["pgvector"]
    return tuple(dict.fromkeys(modules))


def arguments(
    modules: tuple[str, ...], requirements: RequirementsSet, pins: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """The program's arguments: MODULE=REQUIREMENT where a requirement provides the module's
    top-level package, else MODULE."""
    pins = _normalised(pins)
    out = []
    for module in modules:
        req = provider(module, requirements)
        out.append(f"{module}={describe(req, pins)}" if req else module)
    return tuple(out)


def provider(module: str, requirements: RequirementsSet) -> Requirement | None:
    """The requirement expected to install `module`'s top-level package."""
    top = module.split(".")[0]
    dists = {d for d, names in IMPORTS.items() if any(n.split(".")[0] == top for n in names)}
    dists.add(normalise(top))
    for req in requirements.requirements:
        if req.constraint:
            continue
        if req.name in dists:
            return req
        extras = (EXTRAS.get((req.name, extra), ()) for extra in req.extras)
        if dists & {dist for group in extras for dist in group}:
            return req
    return None


def describe(req: Requirement, pins: Mapping[str, str] | None = None) -> str:
    """`pgvector==0.3.6 in requirements.txt`, as a message shows it."""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    spec = req.specifier if _SHOWN_SPECIFIER.fullmatch(req.specifier) else ""
    locked = (pins or {}).get(req.name)
    pinned = f", {locked} in devenv.lock" if locked and spec != f"=={locked}" else ""
    return f"{req.name}{extras}{spec} in {req.file}{pinned}"


def failures(lines: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The program's failure lines in a command's output."""
    return tuple(line.strip() for line in lines if _FAILURE.fullmatch(line.strip()))


def _installed_requirements(
    requirements: RequirementsSet, pins: Mapping[str, str] | None
) -> tuple[Requirement, ...]:
    """The requirements that install something: not constraints; with a lock, those it pins;
    without one, those without an environment marker (it may not hold on the target)."""
    out: dict[str, Requirement] = {}  # the first line naming each distribution
    for req in requirements.requirements:
        if req.constraint or (req.name not in pins if pins is not None else req.marked):
            continue
        out.setdefault(req.name, req)
    return tuple(out.values())


def _distributions(named: tuple[Requirement, ...], pins: Mapping[str, str] | None) -> set[str]:
    installed = set(pins or ())
    for req in named:
        installed.add(req.name)
        installed.update(DEPENDS.get(req.name, ()))
        for extra in req.extras:
            installed.update(EXTRAS.get((req.name, extra), ()))
    return installed


def _version(req: Requirement, pins: Mapping[str, str] | None) -> tuple[int, ...]:
    """The release that gets installed, as far as it matters here: the lock's pin, an exact
    pin, just under an upper bound; else the newest (which has every module)."""
    newest = (999,)
    if pins and req.name in pins:
        return _release(pins[req.name]) or newest
    for clause in req.specifier.strip("()").split(","):
        match = re.fullmatch(r"(===?|<=?|~=)\s*([\w.*+!]+)", clause.strip())
        release = _release(match[2]) if match else None
        if match is None or release is None:
            continue
        if match[1] == "~=":  # the newest of the series: 0.2.1 -> 0.2.*
            return (*release[:-1], 999)
        if match[1] == "<":  # the newest before it: every module that came out earlier
            return (*release[:-1], release[-1] - 1, 999) if release[-1] else (*release, -1)
        return release
    return newest


def _normalised(pins: Mapping[str, str] | None) -> dict[str, str] | None:
    return None if pins is None else {normalise(name): v for name, v in pins.items()}


def _release(version: str) -> tuple[int, ...] | None:
    match = re.match(r"(\d+(?:\.\d+)*)", version)
    return tuple(int(p) for p in match[1].split(".")) if match else None
