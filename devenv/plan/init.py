"""`devenv init`: a commented default plan for the folder it is run in.

It looks for requirements files where projects keep them (`requirements*.txt` and
`requirements/*.txt` at the root, in `backend/`, `app/`, `server/`, `api/`, `src/` and `src/*/`,
and what those include with `-r`), and picks the application's set: not a dev, test, docs, lint
or CI one; the one the others include; a plain `requirements.txt`; the shallowest. The plan it
writes loads as written: a file that can't be read as the plan's requirements is not chosen.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from devenv.errors import UsageError
from devenv.fs.atomic import atomic_write
from devenv.plan import schema
from devenv.plan.model import PLAN_FILE
from devenv.project import pyproject, smoke
from devenv.project.requirements import RequirementsError, RequirementsSet, read_requirements
from devenv.rules import distro, validate

HEADER = """\
# devenv plan: one file for the container (VS Code, `devenv build`) and the host
# (`devenv host-install`). Edit, then run `devenv generate`. Every key is optional.
"""
NOTE_COLUMN = 34  # where a key's note starts, after `# `


@dataclass(frozen=True, kw_only=True)
class Chosen:
    """A value init chose for a key: written in place of the key's declared line."""

    value: str  # TOML
    note: str | None = None  # None: the key's own
    gap: int | None = None  # spaces before the note; None: the key's own
    above: str | None = None  # a comment line above it


def template(chosen: dict[str, Chosen]) -> str:
    """The plan init writes: each section's keys as their declarations show them (set,
    commented or left out), with what init chose (by `[section] key`) in their place."""
    sections = []
    for section in schema.SECTIONS:
        lines = [
            line
            for key in _written_order(schema.in_section(section))
            for line in _key_lines(key, chosen.get(key.title))
        ]
        if lines:
            sections.append("\n".join((f"[{section}]", *lines)))
    return HEADER + "\n" + "\n\n".join(sections) + "\n"


def _written_order(keys: tuple[schema.Key, ...]) -> list[schema.Key]:
    """The keys in their declared order, each moved before the key its template names."""
    moved = [k for k in keys if k.init and k.init.before]
    return [
        key
        for place in keys
        if place not in moved
        for key in (*(k for k in moved if k.init and k.init.before == place.name), place)
    ]


def _key_lines(key: schema.Key, chosen: Chosen | None) -> list[str]:
    shown = key.init
    if shown is None or (chosen is None and shown.shown is schema.Shown.CHOSEN):
        return []
    if chosen is None:
        commented = shown.shown is schema.Shown.COMMENTED
        body = f"{'# ' if commented else ''}{key.name} = {shown.example or key.toml_default()}"
        return _noted(body, shown.note, shown.gap)
    note = shown.note if chosen.note is None else chosen.note
    gap = shown.gap if chosen.gap is None else chosen.gap
    above = [chosen.above] if chosen.above else []
    return [*above, *_noted(f"{key.name} = {chosen.value}", note, gap)]


def _noted(body: str, note: str, gap: int | None) -> list[str]:
    if not note:
        return [body]
    first, *more = note.split("\n")
    pad = " " * (gap if gap is not None else max(1, NOTE_COLUMN - len(body)))
    return [f"{body}{pad}# {first}", *(f"{'#'.ljust(NOTE_COLUMN)}# {line}" for line in more)]


# Folders (besides the root) where projects keep requirements, one level deep; src/ also one
# level below it. Bounded, so init stays instant in a large tree.
FOLDERS = ("backend", "app", "server", "api", "src")
MAX_SUBFOLDERS = 50
MAX_CANDIDATES = 100
SKIPPED = frozenset({"node_modules", "venv", "env", "__pycache__", "build", "dist"})
# Words in a file's or folder's name that mark a set beside the application's.
AUXILIARY = frozenset(
    {
        "dev",
        "devel",
        "develop",
        "development",
        "local",
        "test",
        "tests",
        "testing",
        "e2e",
        "doc",
        "docs",
        "lint",
        "linting",
        "style",
        "format",
        "typing",
        "types",
        "mypy",
        "ci",
        "tox",
        "bench",
        "benchmark",
        "benchmarks",
    }
)
PLAIN = "requirements.txt"
DEFAULT_BASE = "ubuntu:24.04"


@dataclass(frozen=True, kw_only=True)
class Candidate:
    path: str  # project-relative
    includes: tuple[str, ...] = ()  # what it reads besides itself (-r/-c, followed)
    auxiliary: str | None = None  # the word that marks it dev/test/docs/lint/CI, or None
    problem: str | None = None  # why it can't be the plan's requirements
    index_options: bool = False  # it changes where packages come from (allowed explicitly)


@dataclass(frozen=True, kw_only=True)
class Choice:
    chosen: str | None
    why: str  # one phrase
    candidates: tuple[Candidate, ...]

    def others(self) -> tuple[Candidate, ...]:
        return tuple(c for c in self.candidates if c.path != self.chosen)

    def chosen_candidate(self) -> Candidate | None:
        return next((c for c in self.candidates if c.path == self.chosen), None)


@dataclass(frozen=True, kw_only=True)
class Written:
    path: Path
    requirements: Choice
    smoke: tuple[str, ...]  # derived from the chosen set, as `devenv plan` will show it
    project: pyproject.Project | None = None  # the pyproject project the plan installs
    groups: tuple[str, ...] = ()
    base: str = DEFAULT_BASE
    base_why: str | None = None  # why init chose another base than the default

    def lines(self) -> list[str]:
        """What init says: the plan, which requirements it chose and why, what else it saw
        and how to change the choice, the derived smoke imports."""
        found = self.requirements
        picked = found.chosen_candidate()
        out = [f"wrote {self.path}"]
        if self.project is not None:
            p = self.project
            lock = p.path(p.lock_file) if p.lock_file else "no lock: `devenv lock` pins it"
            groups = f", groups {', '.join(self.groups)}" if self.groups else ""
            out.append(f"project: {p.path(pyproject.PYPROJECT)} ({lock}{groups}), editable")
        if self.base_why:
            out.append(f"base: {self.base} ({self.base_why})")
        if picked:
            out.append(f"requirements: {picked.path} ({found.why})")
        elif self.project is None:
            out.append(f"requirements: {found.why}; the plan installs none")
        for other in found.others():
            if other.problem:
                status = f"can't be the plan's: {other.problem}"
            elif picked and other.path in picked.includes:
                status = "included by it"
            elif other.auxiliary:
                status = f"left out: a {other.auxiliary} set"
            else:
                status = "left out"
            out.append(f"  also found {other.path}: {status}")
        if found.candidates:
            out.append("  to change it: edit [python] requirements in devenv.toml")
        if picked and picked.index_options:
            out.append("  it chooses a package index or URL: allow_index_options = true (review)")
        if self.smoke:
            out.append(f"smoke (derived from requirements): {', '.join(self.smoke)}")
        return out


def init_plan(project_dir: Path) -> Written:
    path = project_dir / PLAN_FILE
    if os.path.lexists(path):  # a link, even a dangling one, is the user's: never replaced
        raise UsageError(
            f"{path} already exists; devenv init never overwrites a plan",
            hint="edit it, or delete it first",
        )
    choice, chosen_set = choose_requirements(project_dir)
    project = choose_project(project_dir, has_requirements=choice.chosen is not None)
    if project is not None and (project.lock or choice.chosen is None):
        # A lock is the project's own statement of its set: it wins over requirements files
        # (often an export of it); without a lock, a requirements file still wins.
        choice = Choice(chosen=None, why="the pyproject project's set", candidates=())
        chosen_set = None
    else:
        project = None
    groups = tuple(g for g in DEV_GROUPS if project and g in project.groups)[:1]
    base, base_why = choose_base(project)
    text = template(
        {
            "[environment] name": Chosen(
                value=json.dumps(validate.slug(project_dir.resolve().name))
            ),
            "[environment] base": Chosen(value=json.dumps(base)),
            **_postgres_chosen(base),
            **_python_chosen(choice, project, groups),
        }
    )
    atomic_write(path, text)
    derived = smoke.derive(chosen_set) if chosen_set else ()
    return Written(
        path=path,
        requirements=choice,
        smoke=derived,
        project=project,
        groups=groups,
        base=base,
        base_why=base_why,
    )


def _postgres_chosen(base: str) -> dict[str, Chosen]:
    """The PostgreSQL the base gives with pgvector: its archive's, else PGDG's."""
    family, tag = base.split(":")
    release = distro.find_release(family, tag)
    assert release is not None  # every PREFERRED base is a release
    offered = distro.available(release, "distro")
    version = offered[0] if offered else 16
    named = release.label.split(" (")[0]
    if offered:
        return {
            "[postgres] version": Chosen(
                value=str(version), note=f"PostgreSQL major; {named}'s archive ships {version}"
            ),
            "[postgres] source": Chosen(
                value='"distro"', note='or "pgdg" (the PostgreSQL apt repository)'
            ),
        }
    return {
        "[postgres] version": Chosen(
            value=str(version), note=f"PostgreSQL major; {named}'s pgvector is only in PGDG"
        ),
        "[postgres] source": Chosen(
            value='"pgdg"',
            note="the PostgreSQL apt repository: this base's archive has no pgvector",
        ),
    }


def _python_chosen(
    choice: Choice, project: pyproject.Project | None, groups: tuple[str, ...]
) -> dict[str, Chosen]:
    """The project or requirements init chose (with what else it found), and the index
    options the chosen file needs."""
    others = ", ".join(c.path for c in choice.others())
    if not others:
        comment = None
    elif choice.chosen:
        comment = f"# chosen by devenv init ({choice.why}); also found: {others}"
    else:
        comment = f"# devenv init found {others}; none loads as the plan's requirements"
    chosen = {
        "[python] requirements": Chosen(
            value=json.dumps([choice.chosen] if choice.chosen else []), above=comment
        )
    }
    if project is not None:
        what = project.lock_file or "its dependencies"
        chosen["[python] project"] = Chosen(
            value=json.dumps(project.folder),
            note=f"pyproject.toml's folder: {what}, the project editable",
        )
        chosen["[python] groups"] = Chosen(value=json.dumps(list(groups)))
    picked = choice.chosen_candidate()
    if picked and picked.index_options:
        chosen["[python] allow_index_options"] = Chosen(
            value="true", note="set by devenv init: the requirements choose an index or URL", gap=7
        )
    return chosen


# Folders (besides the root) where a pyproject project is kept.
PROJECT_FOLDERS = ("backend", "py", "app", "server", "api", "python")
DEV_GROUPS = ("dev",)


def choose_project(project_dir: Path, *, has_requirements: bool) -> pyproject.Project | None:
    """The pyproject project to install: one with a lock first, then the shallowest."""
    root = project_dir.resolve()
    found = []
    for folder in (".", *PROJECT_FOLDERS):
        where = root / folder
        if where.is_symlink() or not (where / pyproject.PYPROJECT).is_file():
            continue
        try:
            project = pyproject.read_project(root, folder)
        except ValueError:
            continue
        if project.lock or project.dependencies:
            found.append(project)
    if not found:
        return None
    return min(found, key=lambda p: (p.lock is None, p.folder != "."))


def choose_base(project: pyproject.Project | None) -> tuple[str, str | None]:
    """The default base when its Python fits the project; else the first that fits and has
    pgvector in its archive; else the first that fits (PGDG)."""
    if project is None:
        return DEFAULT_BASE, None
    fitting = [base for base, _ in pyproject.fitting_bases(project)]
    if not fitting or fitting[0] == DEFAULT_BASE:
        return DEFAULT_BASE, None

    def archive_has_pgvector(base: str) -> bool:
        family, tag = base.split(":")
        release = distro.find_release(family, tag)
        return release is not None and bool(distro.available(release, "distro"))

    best = next((b for b in fitting if archive_has_pgvector(b)), fitting[0])
    asks = project.requires_python or project.python_version
    return best, f"the project asks for Python {asks}"


def choose_requirements(project_dir: Path) -> tuple[Choice, RequirementsSet | None]:
    """The application's requirements file among those found, and its set as read."""
    root = project_dir.resolve()
    candidates: dict[str, Candidate] = {}
    sets: dict[str, RequirementsSet] = {}
    pending = list(_found(root))
    while pending and len(candidates) < MAX_CANDIDATES:
        rel = pending.pop(0)
        if rel in candidates:
            continue
        candidate, read = _read(root, rel)
        candidates[rel] = candidate
        if read is not None:
            sets[rel] = read
            pending += [f for f in candidate.includes if PurePosixPath(f).suffix == ".txt"]
    usable = [c for c in candidates.values() if c.problem is None]
    application = [c for c in usable if c.auxiliary is None]
    pool = application or usable
    if not pool:
        why = "none of them loads" if candidates else "none found"
        return Choice(chosen=None, why=why, candidates=tuple(candidates.values())), None

    def includers(c: Candidate) -> list[Candidate]:
        return [d for d in usable if d is not c and c.path in d.includes]

    # A file another application file includes is installed by choosing that one.
    tops = [c for c in pool if not any(d in pool for d in includers(c))] or pool
    best = min(
        tops,
        key=lambda c: (
            not includers(c),
            PurePosixPath(c.path).name != PLAIN,
            len(PurePosixPath(c.path).parts),
            c.path,
        ),
    )
    if includers(best):
        names = [d.path for d in includers(best)]
        why = f"{', '.join(names)} include{'s' if len(names) == 1 else ''} it"
    elif not application:
        why = "only dev/test sets found"
    else:
        why = "the application's set"
    choice = Choice(chosen=best.path, why=why, candidates=tuple(candidates.values()))
    return choice, sets[best.path]


def _found(root: Path) -> list[str]:
    """Project-relative requirements files in the usual places, root first."""
    folders = [root]
    for name in FOLDERS:
        folder = root / name
        if folder.is_dir() and not folder.is_symlink():
            folders.append(folder)
    src = root / "src"
    if src.is_dir() and not src.is_symlink():
        subfolders = sorted(
            p for p in src.iterdir() if p.is_dir() and not p.is_symlink() and _walkable(p.name)
        )
        folders += subfolders[:MAX_SUBFOLDERS]
    found = [
        path.relative_to(root).as_posix()
        for folder in folders
        for pattern in ("requirements*.txt", "requirements/*.txt")
        for path in sorted(folder.glob(pattern))
        if path.is_file()
    ]
    return found[:MAX_CANDIDATES]


def _walkable(name: str) -> bool:
    return not name.startswith(".") and name not in SKIPPED


def _read(root: Path, rel: str) -> tuple[Candidate, RequirementsSet | None]:
    """The candidate as the plan would read it: allowed as is, or only with
    allow_index_options (init then sets it), or not at all (the reason kept)."""
    auxiliary = _auxiliary(rel)
    index_options = False
    try:
        read = read_requirements(root, (rel,), allow_index_options=False)
    except RequirementsError:
        try:
            read = read_requirements(root, (rel,), allow_index_options=True)
        except RequirementsError as exc:
            return Candidate(path=rel, auxiliary=auxiliary, problem=str(exc)), None
        index_options = True
    except OSError as exc:
        return Candidate(path=rel, auxiliary=auxiliary, problem=str(exc)), None
    return (
        Candidate(
            path=rel,
            includes=read.files[1:],
            auxiliary=auxiliary,
            index_options=index_options,
        ),
        read,
    )


def _auxiliary(rel: str) -> str | None:
    """The word in the path that marks a dev/test/docs/lint/CI set, if any."""
    path = PurePosixPath(rel)
    words = [w for part in (*path.parent.parts, path.stem) for w in re.split(r"[-_.\s]+", part)]
    return next((w for w in (w.lower() for w in words) if w in AUXILIARY), None)
