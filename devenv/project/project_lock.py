"""A pyproject project's dependency set as a pip requirements file: the lock's exact pins.

uv.lock: `uv export --frozen` (no resolution, no index; the lock's hashes kept). poetry.lock:
its TOML read here — lock 2.1 names each package's groups and markers; older locks are walked
from the pyproject's dependencies through each package's own. No lock: the PEP 621
dependencies as written (`devenv lock` then pins them). The project itself is never in the
set: it is put on the venv's path from the workspace (the editable install).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv.fs.header import edited_by_hand, with_header
from devenv.fs.safety import check_real_dirs
from devenv.project.pyproject import PYPROJECT, Project, python_fits
from devenv.project.uv import find_uv

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

GENERATED = "docker/requirements.lock.txt"
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
_EXTRA = re.compile(r"""^\s*extra\s*==\s*["'][^"']*["']\s*$""")


class ExportError(ValueError):
    """The lock can't be turned into pins: one line, said as a plan error."""


@dataclass(frozen=True, kw_only=True)
class Export:
    text: str  # the requirements file's body (generate adds devenv's header)
    source: str  # what it was made from: "backend/uv.lock"
    how: str  # one phrase for `devenv plan`


def export(root: Path, project: Project, groups: tuple[str, ...], python: str) -> Export:
    unknown = [g for g in groups if g not in project.groups]
    if unknown:
        declared = ", ".join(project.groups) or "none"
        raise ExportError(
            f"group {unknown[0]!r} is not declared in {project.path(PYPROJECT)} "
            f"(declared: {declared})"
        )
    if project.lock == "uv":
        body = _uv_export(root / project.folder, groups)
        how = "uv export --frozen"
    elif project.lock == "poetry":
        body = poetry_pins(root / project.folder, groups, python)
        how = "poetry.lock's pins"
    else:
        wanted = (*project.dependencies, *_group_dependencies(root / project.folder, groups))
        body = "".join(f"{d}\n" for d in dict.fromkeys(wanted))
        how = "[project] dependencies as written (not pinned: `devenv lock` pins them)"
    source = project.path(project.lock_file or PYPROJECT)
    names = f" + groups {', '.join(groups)}" if groups else ""
    head = f"# The dependencies of {source}{names}: {how}. The project itself is not here.\n"
    return Export(text=head + body, source=source, how=how)


def _group_dependencies(folder: Path, groups: tuple[str, ...]) -> list[str]:
    """The requirements of `groups` as the pyproject writes them (PEP 735 groups, with their
    include-group entries, and uv's dev-dependencies as "dev"): what a lock would have added."""
    try:
        data = tomllib.loads((folder / PYPROJECT).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ExportError(f"{PYPROJECT} can't be read: {exc}") from None
    declared = data.get("dependency-groups", {})
    out: list[str] = []

    def add(group: str, seen: tuple[str, ...]) -> None:
        for item in declared.get(group, []) if isinstance(declared, dict) else []:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict) and item.get("include-group") not in (None, *seen):
                add(str(item["include-group"]), (*seen, group))

    for group in groups:
        add(group, ())
        if group == "dev":
            uv_dev = data.get("tool", {}).get("uv", {}).get("dev-dependencies", [])
            out += [d for d in uv_dev if isinstance(d, str)]
    return out


def file_text(exported: Export) -> str:
    """The file as generate writes it (with its header), and as the plan loader keeps it."""
    return with_header(exported.text)


def materialise(root: Path, exported: Export) -> None:
    """Write the pins file when it is missing or differs: a lock edit reaches the review, the
    Dockerfile's COPY and host-install at once, before `devenv generate` runs."""
    path = root / GENERATED
    text = file_text(exported)
    try:
        old = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = None
    except (OSError, UnicodeDecodeError):
        old = ""  # not devenv's text: refused below, as generate refuses it
    if old == text:
        return
    if old is not None and edited_by_hand(old):
        raise ExportError(
            f"{GENERATED} exists and is not the file devenv wrote (edited by hand, or the "
            "project's own); move it aside, devenv writes the lock's pins there"
        )
    check_real_dirs(root, [GENERATED])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".devenv-tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _uv_export(folder: Path, groups: tuple[str, ...]) -> str:
    uv = find_uv()
    if uv is None:
        raise ExportError("uv.lock needs uv to read it, and uv is not installed beside devenv")
    argv = [uv, "export", "--frozen", "--no-emit-project", "--no-emit-workspace"]
    argv += ["--no-default-groups", *(a for g in groups for a in ("--group", g))]
    argv += ["--format", "requirements-txt", "--no-header", "--no-annotate", "--quiet"]
    try:
        done = subprocess.run(
            argv, cwd=folder, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExportError(f"uv export failed: {exc}") from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        said = next((line for line in lines if line.startswith("error:")), None)
        raise ExportError(f"uv export --frozen failed: {said or (lines or ['no output'])[-1]}")
    return done.stdout


# --- poetry.lock -------------------------------------------------------------------------------


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _and(first: str | None, second: str | None) -> str | None:
    if not first or not second:
        return first or second
    return f"({first}) and ({second})"


def _edge_marker(marker: object) -> str | None:
    """A dependency's marker without its `extra == "x"` part (the walk decides extras)."""
    if not isinstance(marker, str) or not marker.strip():
        return None
    if " or " in marker and "extra" in marker:
        return None  # an extras alternative: taken as unconditional (installs a little more)
    parts = [p for p in re.split(r"\s+and\s+", marker) if not _EXTRA.match(p.strip("() "))]
    return " and ".join(parts) or None


def _root_specs(pyproject: dict[str, Any], groups: tuple[str, ...]) -> list[tuple[str, set[str]]]:
    """(name, extras) the project asks for: PEP 621 dependencies and Poetry's tables."""
    out: list[tuple[str, set[str]]] = []
    project = pyproject.get("project", {})
    poetry = pyproject.get("tool", {}).get("poetry", {})
    for written in project.get("dependencies", []):
        match = _NAME.match(written)
        if match:
            extras = {e.strip() for e in (match.group(2) or "").split(",") if e.strip()}
            out.append((match.group(1), extras))
    tables = [poetry.get("dependencies", {})]
    for group in groups:
        tables.append(poetry.get("group", {}).get(group, {}).get("dependencies", {}))
        if group == "dev":
            tables.append(poetry.get("dev-dependencies", {}))
        for written in pyproject.get("dependency-groups", {}).get(group, []):
            match = _NAME.match(written) if isinstance(written, str) else None
            if match:
                out.append((match.group(1), set()))
    for table in tables:
        for name, spec in table.items():
            if name == "python":
                continue
            extras = set(spec.get("extras", [])) if isinstance(spec, dict) else set()
            out.append((name, extras))
    return out


def poetry_pins(folder: Path, groups: tuple[str, ...], python: str) -> str:
    """`name==version` lines (with markers) of what poetry.lock installs for main + `groups`."""
    lock, pyproject = _read_poetry_project(folder)
    packages = [p for p in lock.get("package", []) if isinstance(p, dict) and "name" in p]
    if packages and all("groups" in p for p in packages):  # lock 2.1: groups and markers given
        return _pins_by_group(packages, groups)
    by_name = _for_this_python(packages, python)
    roots: list[tuple[str, set[str], str | None]] = [
        (_norm(n), e, None) for n, e in _root_specs(pyproject, groups)
    ]
    lines = []
    for name, found in _reached_markers(by_name, roots).items():
        p = by_name[name]
        joined = None if None in found else " or ".join(sorted(f"({m})" for m in found if m))
        lines.append(_pin(p["name"], p["version"], joined))
    return "".join(sorted(lines, key=str.lower))


def _read_poetry_project(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """poetry.lock and the pyproject, parsed."""
    try:
        lock = tomllib.loads((folder / "poetry.lock").read_text(encoding="utf-8"))
        pyproject = tomllib.loads((folder / PYPROJECT).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ExportError(f"poetry.lock can't be read: {exc}") from None
    return lock, pyproject


def _pins_by_group(packages: list[dict[str, Any]], groups: tuple[str, ...]) -> str:
    """The pins of a lock 2.1, which names each package's groups and markers."""
    wanted = {"main", *groups}
    lines = []
    for p in packages:
        if not wanted & set(p["groups"]):
            continue
        marker = p.get("markers")
        if isinstance(marker, dict):  # per group: any wanted group's, unconditional wins
            in_groups = [marker.get(g) for g in p["groups"] if g in wanted]
            marker = None if None in in_groups else " or ".join(f"({m})" for m in in_groups)
        lines.append(_pin(p["name"], p["version"], marker))
    return "".join(sorted(set(lines), key=str.lower))


def _for_this_python(packages: list[dict[str, Any]], python: str) -> dict[str, dict[str, Any]]:
    """The lock's packages by normalised name; of two versions of one name, the one for this
    Python."""
    by_name: dict[str, dict[str, Any]] = {}
    for p in packages:
        fits = _python_ok(p.get("python-versions", "*"), python)
        if _norm(p["name"]) not in by_name or fits:
            by_name[_norm(p["name"])] = p
    return by_name


def _reached_markers(
    by_name: dict[str, dict[str, Any]], pending: list[tuple[str, set[str], str | None]]
) -> dict[str, set[str | None]]:
    """Every package reached from ``pending`` (name, extras, marker), walking the lock's
    dependencies, with the markers it is reached under (None: unconditionally)."""
    markers: dict[str, set[str | None]] = {}
    seen: set[tuple[str, frozenset[str], str | None]] = set()
    while pending:
        name, extras, marker = pending.pop()
        if None in markers.get(name, ()) or (marker and len(marker) > 400):
            marker = None  # reached unconditionally (or through a long cycle): no marker
        key = (name, frozenset(extras), marker)
        package = by_name.get(name)
        if key in seen or package is None:
            continue
        seen.add(key)
        markers.setdefault(name, set()).add(marker)
        pending += _dependency_edges(package, extras, marker)
    return markers


def _dependency_edges(
    package: dict[str, Any], extras: set[str], marker: str | None
) -> list[tuple[str, set[str], str | None]]:
    """(name, extras, marker) of each dependency ``package`` installs with ``extras``, reached
    under ``marker``."""
    wanted_optional = {
        _norm(m.group(1))
        for extra in extras
        for item in package.get("extras", {}).get(extra, [])
        if (m := _NAME.match(item))
    }
    edges = []
    for dep, spec in package.get("dependencies", {}).items():
        specs = spec if isinstance(spec, list) else [spec]  # a list: one per marker
        for one in specs:
            table = one if isinstance(one, dict) else {}
            if table.get("optional") and _norm(dep) not in wanted_optional:
                continue
            edge = _and(marker, _edge_marker(table.get("markers")))
            edges.append((_norm(dep), set(table.get("extras", [])), edge))
    return edges


def _python_ok(spec: object, python: str) -> bool:
    try:
        return isinstance(spec, str) and python_fits(spec, python)
    except ValueError:
        return True


def _pin(name: str, version: str, marker: str | None) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) or not re.fullmatch(
        r"[A-Za-z0-9.+!_-]+", str(version)
    ):
        raise ExportError(f"poetry.lock pins {name!r} {version!r}: not a name and version")
    if marker and ("\n" in marker or "\\" in marker):
        raise ExportError(f"poetry.lock marks {name!r} with an unreadable marker")
    return f"{name}=={version}" + (f" ; {marker}" if marker else "") + "\n"
