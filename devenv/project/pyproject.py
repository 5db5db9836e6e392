"""A pyproject.toml project: which Python it asks for, which lock it keeps, which groups it has.

Pure reading and version arithmetic; turning a lock into pins is devenv.project.project_lock's.
The Python check is `requires-python` (or Poetry's `python = "^3.10"`) and `.python-version`
against the base's python3, before anything runs.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv.rules import distro

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = "pyproject.toml"
PYTHON_VERSION_FILE = ".python-version"
LOCKS = (("uv", "uv.lock"), ("poetry", "poetry.lock"))
# The patch level each release's python3 has (what a `<3.12.4`-style bound is compared with).
PATCH = {"3.10": 12, "3.11": 2, "3.12": 3, "3.13": 5}
# Bases `devenv init` tries, in order: the default first, then the one whose archive also has
# pgvector, then the others (their pgvector comes only from PGDG).
PREFERRED = ("ubuntu:24.04", "debian:13", "ubuntu:22.04", "debian:12")


@dataclass(frozen=True, kw_only=True)
class Project:
    folder: str  # project-relative, "." for the root
    name: str | None
    requires_python: str | None  # as written (PEP 440, or Poetry's ^/~ syntax)
    python_version: str | None  # .python-version's first line, when there is one
    lock: str | None  # "uv" | "poetry" | None
    groups: tuple[str, ...]  # dependency groups the pyproject declares
    dependencies: tuple[str, ...]  # PEP 621 [project] dependencies, as written
    src_layout: bool  # the importable packages are under src/

    def path(self, name: str) -> str:
        return name if self.folder == "." else f"{self.folder}/{name}"

    @property
    def lock_file(self) -> str | None:
        return dict(LOCKS)[self.lock] if self.lock else None

    @property
    def import_root(self) -> str:
        """Project-relative folder put on sys.path (the editable install)."""
        return self.path("src") if self.src_layout else self.folder


def read_project(root: Path, folder: str) -> Project:
    """The project in `root/folder`; ValueError (one line) when its pyproject can't be read."""
    base = root / folder
    path = base / PYPROJECT
    if not path.is_file():
        raise ValueError(f"{folder}/{PYPROJECT} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{folder}/{PYPROJECT} can't be read: {exc}") from None
    project = _table(data, "project")
    poetry = _table(_table(data, "tool"), "poetry")
    requires = project.get("requires-python")
    if requires is None:
        requires = _table(poetry, "dependencies").get("python")
    if requires is not None and not isinstance(requires, str):
        raise ValueError(f"{folder}/{PYPROJECT}: requires-python must be a string")
    name = project.get("name", poetry.get("name"))
    deps = project.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise ValueError(f"{folder}/{PYPROJECT}: [project] dependencies must be a list of strings")
    version_file = None
    for where in (base, root):
        candidate = where / PYTHON_VERSION_FILE
        if candidate.is_file():
            lines = candidate.read_text(encoding="utf-8", errors="replace").split()
            version_file = lines[0] if lines else None
            break
    lock = next((kind for kind, file in LOCKS if (base / file).is_file()), None)
    return Project(
        folder=folder,
        name=name if isinstance(name, str) else None,
        requires_python=requires,
        python_version=version_file,
        lock=lock,
        groups=declared_groups(data),
        dependencies=tuple(deps),
        src_layout=(base / "src").is_dir() and not (base / "src" / "__init__.py").exists(),
    )


def declared_groups(data: dict[str, Any]) -> tuple[str, ...]:
    """PEP 735 groups, uv's dev-dependencies ("dev"), Poetry's groups and dev-dependencies."""
    tool = _table(data, "tool")
    poetry = _table(tool, "poetry")
    names = [*_table(data, "dependency-groups")]
    if _table(tool, "uv").get("dev-dependencies") or poetry.get("dev-dependencies"):
        names.append("dev")
    names += [*_table(poetry, "group")]
    return tuple(dict.fromkeys(str(n) for n in names))


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    return value if isinstance(value, dict) else {}


# --- requires-python --------------------------------------------------------------------------

_CLAUSE_ANY = re.compile(r"(===|==|!=|<=|>=|~=|<|>|\^|~|=)?\s*v?([0-9]+(?:\.[0-9]+)*)(\.\*)?")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def _pad(v: tuple[int, ...], n: int = 3) -> tuple[int, ...]:
    return v + (0,) * (n - len(v))


def _clause_holds(op: str, written: str, star: bool, have: tuple[int, int, int]) -> bool:
    want = _version(written)
    if star:  # ==3.12.* / !=3.12.*
        same = have[: len(want)] == want
        return same if op != "!=" else not same
    w = _pad(want)
    if op in ("==", "=", "==="):
        return have == w
    if op == "!=":
        return have != w
    if op == ">=":
        return have >= w
    if op == "<=":
        return have <= w
    if op == ">":
        return have > w
    if op == "<":
        return have < w
    if op == "~=":  # ~=3.10 is >=3.10,<4; ~=3.10.2 is >=3.10.2,<3.11
        upper = (*want[:-2], want[-2] + 1) if len(want) >= 2 else (want[0] + 1,)
        return have >= w and have < _pad(upper)
    if op == "^":  # Poetry: the first non-zero part may not grow
        first = next((i for i, p in enumerate(want) if p), len(want) - 1)
        upper = (*want[:first], want[first] + 1)
        return have >= w and have < _pad(upper)
    if op == "~":  # Poetry: ~3.10 is >=3.10,<3.11; ~3 is >=3,<4
        upper = (want[0] + 1,) if len(want) == 1 else (want[0], want[1] + 1)
        return have >= w and have < _pad(upper)
    return have == w  # no operator: Poetry's exact version


def python_fits(spec: str, python: str) -> bool:
    """Whether the release's python3 (`3.12`) satisfies `spec` (PEP 440, or Poetry's `^3.10`,
    `~3.11`, `>=3.9 || <3`). ValueError for a spec this can't read."""
    minor = ".".join(python.split(".")[:2])
    have = _pad((*_version(minor), PATCH.get(minor, 0)))
    have3 = (have[0], have[1], have[2])
    if spec.strip() in ("", "*"):
        return True
    for alternative in spec.split("||"):
        clauses = list(_CLAUSE_ANY.finditer(alternative))
        leftover = _CLAUSE_ANY.sub("", alternative)
        if not clauses or leftover.strip(" ,\t"):
            raise ValueError(f"can't read {alternative.strip()!r} as a version range")
        if all(
            _clause_holds(m.group(1) or "", m.group(2), bool(m.group(3)), have3) for m in clauses
        ):
            return True
    return False


def version_file_fits(written: str, python: str) -> bool:
    """.python-version's `3.12`, `3.12.3`, `cpython-3.12` or `3.12t` against `3.12`."""
    match = re.search(r"([0-9]+)\.([0-9]+)", written)
    return match is not None and f"{match.group(1)}.{match.group(2)}" == python


def python_problem(project: Project, release: distro.Release) -> str | None:
    """One line naming both Pythons and the bases that fit, or None when this base fits."""
    asks: list[str] = []
    if project.requires_python is not None:
        try:
            fits = python_fits(project.requires_python, release.python)
        except ValueError as exc:
            return f"{project.path(PYPROJECT)}: requires-python {project.requires_python!r}: {exc}"
        if not fits:
            asks.append(f"{project.path(PYPROJECT)} requires-python {project.requires_python!r}")
    if project.python_version and not version_file_fits(project.python_version, release.python):
        asks.append(f"{PYTHON_VERSION_FILE} asks for {project.python_version}")
    if not asks:
        return None
    good = fitting_bases(project)
    offer = (
        "bases whose Python fits: " + ", ".join(f"{b} (Python {p})" for b, p in good)
        if good
        else "no supported base's Python fits: " + ", ".join(f"{b} (Python {p})" for b, p in ALL)
    )
    return f"{release.label} gives Python {release.python}, but {' and '.join(asks)}; {offer}"


ALL = tuple((f"{r.distro}:{r.version}", r.python) for r in distro.RELEASES)


def fitting_bases(project: Project) -> list[tuple[str, str]]:
    """(base, python) of the supported bases whose python3 the project takes, preferred first."""
    out = []
    for base in PREFERRED:
        family, version = base.split(":")
        release = distro.find_release(family, version)
        if release is None:
            continue
        try:
            fits = project.requires_python is None or python_fits(
                project.requires_python, release.python
            )
        except ValueError:
            fits = True
        if fits and (
            not project.python_version or version_file_fits(project.python_version, release.python)
        ):
            out.append((base, release.python))
    return out
