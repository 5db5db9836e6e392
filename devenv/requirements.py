"""Read requirements files the way pip would, to review them before anything runs.

Two questions are answered here: which files does the install need (for the image's COPY and
the host's stamp), and which system packages does building them need (psycopg without
`[binary]` needs libpq; psycopg2 and psycopg[c] compile against it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Options that change where packages come from: refused unless the plan allows them.
INDEX_OPTIONS = (
    "--index-url",
    "-i",
    "--extra-index-url",
    "--trusted-host",
    "--find-links",
    "-f",
    "--no-index",
)
_NAME = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


@dataclass(frozen=True, kw_only=True)
class Requirement:
    name: str  # normalised (PEP 503)
    extras: frozenset[str]
    file: str  # project-relative path it came from
    line: int


@dataclass(frozen=True, kw_only=True)
class RequirementsSet:
    files: tuple[str, ...]  # project-relative, in reading order, including -r/-c includes
    requirements: tuple[Requirement, ...]

    def names(self) -> frozenset[str]:
        return frozenset(r.name for r in self.requirements)


@dataclass(frozen=True, kw_only=True)
class NativeNeed:
    requirement: str
    packages: tuple[str, ...]
    why: str


class RequirementsError(ValueError):
    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}" if line else message)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_requirements(
    project_dir: Path, roots: tuple[str, ...], *, allow_index_options: bool
) -> RequirementsSet:
    files: list[str] = []
    found: list[Requirement] = []
    pending = [(root, "devenv.toml", 0) for root in roots]
    while pending:
        rel, parent, parent_line = pending.pop(0)
        path = _inside(project_dir, rel, parent, parent_line)
        key = path.relative_to(project_dir).as_posix()
        if key in files:
            continue
        files.append(key)
        text = path.read_text(encoding="utf-8")
        for number, raw in enumerate(_logical_lines(text), start=1):
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            option, _, value = line.partition(" ") if line.startswith("-") else ("", "", "")
            option, _, joined = option.partition("=")
            value = (joined or value).strip()
            if option in ("-r", "--requirement", "-c", "--constraint"):
                base = Path(key).parent
                pending.append(((base / value).as_posix(), key, number))
            elif option in INDEX_OPTIONS:
                if not allow_index_options:
                    raise RequirementsError(
                        key,
                        number,
                        f"'{option}' changes where packages come from; set "
                        "[python] allow_index_options = true in devenv.toml if that is intended",
                    )
            elif option in ("-e", "--editable") or line.startswith((".", "/", "file:")):
                raise RequirementsError(
                    key,
                    number,
                    "local and editable installs can't be built into the image (the workspace "
                    "is mounted, not copied); install them after start-up instead",
                )
            elif option:
                continue  # hash and install options (--hash, --pre, ...) are pip's business
            else:
                match = _NAME.match(line)
                if not match:
                    raise RequirementsError(key, number, f"can't read the requirement {line!r}")
                extras = frozenset(
                    normalise(e) for e in (match.group(2) or "").split(",") if e.strip()
                )
                found.append(
                    Requirement(
                        name=normalise(match.group(1)), extras=extras, file=key, line=number
                    )
                )
    return RequirementsSet(files=tuple(files), requirements=tuple(found))


def native_needs(requirements: RequirementsSet) -> tuple[NativeNeed, ...]:
    needs: list[NativeNeed] = []
    for req in requirements.requirements:
        if req.name == "psycopg" and not req.extras & {"binary"}:
            if "c" in req.extras:
                needs.append(
                    NativeNeed(
                        requirement="psycopg[c]",
                        packages=("libpq-dev", "build-essential", "python3-dev"),
                        why="compiles its C extension against libpq",
                    )
                )
            else:
                needs.append(
                    NativeNeed(
                        requirement="psycopg",
                        packages=("libpq-dev",),
                        why="without [binary] it loads the system libpq",
                    )
                )
        elif req.name == "psycopg2":
            needs.append(
                NativeNeed(
                    requirement="psycopg2",
                    packages=("libpq-dev", "build-essential", "python3-dev"),
                    why="builds from source against libpq",
                )
            )
    return tuple(needs)


def _logical_lines(text: str) -> list[str]:
    """Join backslash continuations, keeping physical line numbers for error messages."""
    out: list[str] = []
    head = -1  # index of the logical line still being continued, or -1
    for line in text.splitlines():
        if head >= 0:
            out[head] = out[head][:-1] + " " + line.strip()
            out.append("")
        else:
            out.append(line)
            head = len(out) - 1
        if not out[head].endswith("\\"):
            head = -1
    return out


def _inside(project_dir: Path, rel: str, parent: str, line: int) -> Path:
    if Path(rel).is_absolute():
        raise RequirementsError(parent, line, f"{rel!r} must be a path inside the project folder")
    path = (project_dir / rel).resolve()
    if not path.is_relative_to(project_dir.resolve()):
        raise RequirementsError(parent, line, f"{rel!r} is outside the project folder")
    if not path.is_file():
        raise RequirementsError(parent, line, f"requirements file {rel!r} does not exist")
    return path
