"""Read requirements files the way pip would, to review them before anything runs.

Two questions are answered here: which files does the install need (for the image's COPY and
the host's stamp), and which system packages does building them need (psycopg without
`[binary]` needs libpq; psycopg2 and psycopg[c] compile against it).
"""

from __future__ import annotations

import enum
import re
import shlex
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from devenv.rules.validate import copyable_path, no_control, secret_or_protected


class Opt(str, enum.Enum):
    """What a requirements-file option does, for the review."""

    INCLUDE = "include"  # -r: another requirements file
    CONSTRAINT = "constraint"  # -c: a constraints file
    SOURCE = "source"  # changes where packages come from: refused unless the plan allows it
    EDITABLE = "editable"  # -e: can't be built into the image
    OTHER = "other"  # install behaviour: pip's business


# Every option pip accepts in a requirements file (pip's req_file SUPPORTED_OPTIONS and the
# per-requirement ones): long name -> (kind, takes a value). pip parses them with optparse,
# so a long option may be abbreviated to any unique prefix and a short one takes its value
# attached (`-ihttp://...`); anything else is an error there, and so here.
OPTIONS: dict[str, tuple[Opt, bool]] = {
    "--index-url": (Opt.SOURCE, True),
    "--extra-index-url": (Opt.SOURCE, True),
    "--no-index": (Opt.SOURCE, False),
    "--find-links": (Opt.SOURCE, True),
    "--trusted-host": (Opt.SOURCE, True),
    "--constraint": (Opt.CONSTRAINT, True),
    "--requirement": (Opt.INCLUDE, True),
    "--editable": (Opt.EDITABLE, True),
    "--no-binary": (Opt.OTHER, True),
    "--only-binary": (Opt.OTHER, True),
    "--prefer-binary": (Opt.OTHER, False),
    "--require-hashes": (Opt.OTHER, False),
    "--pre": (Opt.OTHER, False),
    "--use-feature": (Opt.OTHER, True),
    "--global-option": (Opt.OTHER, True),
    "--config-settings": (Opt.OTHER, True),
    "--hash": (Opt.OTHER, True),
}
SHORT = {"-i": "--index-url", "-f": "--find-links", "-c": "--constraint", "-r": "--requirement"}
SHORT["-e"] = "--editable"
INDEX_OPTIONS = tuple(name for name, (kind, _) in OPTIONS.items() if kind is Opt.SOURCE)
ALLOW_KEY = "[python] allow_index_options = true"
_NAME = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[([^\]]*)\])?")
# What may follow a name: a version specifier, environment markers, or nothing.
_AFTER_NAME = re.compile(r"\s*(?:$|[<>=!~;(])")
_COMMENT = re.compile(r"(^|\s+)#.*$")
_ENV_VAR = re.compile(r"\$\{[A-Z0-9_]+\}")
_ARCHIVE = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")


@dataclass(frozen=True, kw_only=True)
class Requirement:
    name: str  # normalised (PEP 503)
    extras: frozenset[str]
    file: str  # project-relative path it came from
    line: int
    specifier: str = ""  # the version part as written ("==0.3.6", ">=2,<3"), markers left out
    marked: bool = False  # has an environment marker: installed only where it holds
    constraint: bool = False  # from a -c file: limits versions, installs nothing


_CREDENTIALS = re.compile(r"//[^/@\s]+@")
# What uv's requirements reader does not take as pip does: it ignores these (--pre: no
# pre-releases), rejects them, or (an extra index) picks files with another strategy. With one
# of them in the files, the default installer is pip; naming uv anyway is a plan error.
PIP_ONLY_OPTIONS = frozenset(
    {
        "--pre",
        "--trusted-host",
        "--prefer-binary",
        "--use-feature",
        "--global-option",
        "--config-settings",
        "--extra-index-url",
    }
)


@dataclass(frozen=True, kw_only=True)
class PipOnly:
    """An option in a requirements file that only pip reads as written."""

    file: str
    line: int
    written: str  # as in the file: "--pre", "--prefer" (abbreviated), "-rbase.txt" (attached)

    def where(self) -> str:
        """Shown in plans, Dockerfile comments and errors: an index URL's credentials stay out."""
        return f"{self.file}:{self.line} ({_CREDENTIALS.sub('//***@', self.written)})"


@dataclass(frozen=True, kw_only=True)
class RequirementsSet:
    files: tuple[str, ...]  # project-relative, in reading order, including -r/-c includes
    requirements: tuple[Requirement, ...]
    pip_only: tuple[PipOnly, ...] = ()
    hashed: bool = False  # a line carries --hash: pip then checks hashes for the whole install

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
    pip_only: list[PipOnly] = []
    hashed = False
    pending = [(root, "devenv.toml", 0, False) for root in roots]
    while pending:
        rel, parent, parent_line, constraint = pending.pop(0)
        path = _inside(project_dir, rel, parent, parent_line)
        key = path.relative_to(project_dir).as_posix()
        if key in files:
            continue  # read once: an include loop ends here, as in pip
        files.append(key)
        for number, line in _lines(path, key):
            args, options, only_pip = _split(key, number, line)
            pip_only += (PipOnly(file=key, line=number, written=w) for w in only_pip)
            hashed = hashed or any(option == "--hash" for _, option, _ in options)
            for kind, option, value in options:
                where = (key, number)
                if kind in (Opt.INCLUDE, Opt.CONSTRAINT):
                    if "://" in value or value.startswith("file:"):
                        raise RequirementsError(
                            *where,
                            f"{option} {value!r} names a URL; devenv reads only files inside "
                            "the project (download it into the project first)",
                        )
                    if _ENV_VAR.search(value):
                        raise RequirementsError(
                            *where, f"{option} {value!r} names its file through a variable"
                        )
                    include = (PurePosixPath(key).parent / value).as_posix()
                    pending.append((include, key, number, constraint or kind is Opt.CONSTRAINT))
                elif kind is Opt.SOURCE and not allow_index_options:
                    raise RequirementsError(
                        *where,
                        f"{option!r} changes where packages come from; set {ALLOW_KEY} in "
                        "devenv.toml if that is intended",
                    )
                elif kind is Opt.EDITABLE:
                    raise _local(*where)
            requirement = _requirement(key, number, args, allow_index_options) if args else None
            if requirement is not None:
                found.append(replace(requirement, constraint=constraint))
    return RequirementsSet(
        files=tuple(files), requirements=tuple(found), pip_only=tuple(pip_only), hashed=hashed
    )


def _lines(path: Path, key: str) -> list[tuple[int, str]]:
    """(line number, logical line) with continuations joined and comments removed, decoded
    as pip does (UTF-8, a byte-order mark allowed)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequirementsError(
            key, 0, f"{key} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise RequirementsError(key, 0, f"{key}: can't read it: {exc.strerror}") from None
    out = []
    for number, raw in enumerate(_logical_lines(text), start=1):
        try:
            no_control(raw.replace("\t", " "))
        except ValueError as exc:
            raise RequirementsError(key, number, str(exc)) from None
        line = _COMMENT.sub("", raw).strip()
        if line:
            out.append((number, line))
    return out


def _split(key: str, number: int, line: str) -> tuple[str, list[tuple[Opt, str, str]], list[str]]:
    """pip's split: the requirement is every word before the first one starting with '-';
    the rest is options, split like a shell line and read like optparse reads them. Also the
    option words only pip reads as written (PIP_ONLY_OPTIONS, abbreviations, `-rFILE`)."""
    words = line.split(" ")
    first = next((n for n, w in enumerate(words) if w.startswith("-")), len(words))
    args, rest = " ".join(words[:first]).strip(), " ".join(words[first:])
    try:
        tokens = shlex.split(rest)
    except ValueError as exc:
        raise RequirementsError(key, number, f"can't read the options: {exc}") from None
    options: list[tuple[Opt, str, str]] = []
    only_pip: list[str] = []
    while tokens:
        token = tokens.pop(0)
        name, value = _option(key, number, token)
        if (
            name in PIP_ONLY_OPTIONS
            or (token.startswith("--") and token.partition("=")[0] != name)  # abbreviated
            or (not token.startswith("--") and len(token) > 2)  # -rFILE
        ):
            only_pip.append(token.partition("=")[0] if token.startswith("--") else token)
        kind, takes_value = OPTIONS[name]
        if takes_value and value is None:
            if not tokens:
                raise RequirementsError(key, number, f"{name} needs a value")
            value = tokens.pop(0)
        elif not takes_value and value is not None:
            raise RequirementsError(key, number, f"{name} takes no value")
        options.append((kind, name, value or ""))
    return args, options, only_pip


def _option(key: str, number: int, token: str) -> tuple[str, str | None]:
    """(long name, attached value or None) of one option word, as optparse reads it."""
    if not token.startswith("--"):
        short = token[:2]
        if short not in SHORT:
            raise RequirementsError(key, number, f"{token!r} is not an option pip reads here")
        return SHORT[short], token[2:] or None
    word, eq, value = token.partition("=")
    if word in OPTIONS:
        name = word
    else:
        matches = [o for o in OPTIONS if o.startswith(word)]
        if len(matches) != 1:
            what = f"is ambiguous ({', '.join(matches)})" if matches else "is not an option"
            raise RequirementsError(key, number, f"{word!r} {what} pip reads here")
        name = matches[0]
    return name, value if eq else None


def _requirement(key: str, number: int, text: str, allowed: bool) -> Requirement | None:
    """The requirement on one line; None for a bare URL (allowed, but it names no package)."""
    if text.startswith((".", "/", "~", "file:")) or "\\" in text:
        raise _local(key, number)
    match = _NAME.match(text)
    named = match is not None and text[match.end() :].lstrip().startswith("@")  # name @ url
    direct = named or "://" in text
    if direct:
        if not allowed:
            raise RequirementsError(
                key,
                number,
                f"{_cut(text)!r} installs from a URL or version control, not from the index; "
                f"set {ALLOW_KEY} in devenv.toml if that is intended",
            )
    elif "/" in text or text.lower().endswith(_ARCHIVE):
        raise _local(key, number)
    elif match is None or not _AFTER_NAME.match(text, match.end()) or _ENV_VAR.search(text):
        raise RequirementsError(key, number, f"can't read the requirement {_cut(text)!r}")
    if match is None or (direct and not named):
        return None
    extras = frozenset(normalise(e) for e in (match.group(2) or "").split(",") if e.strip())
    version, marker, _ = text[match.end() :].partition(";")
    return Requirement(
        name=normalise(match.group(1)),
        extras=extras,
        file=key,
        line=number,
        specifier="" if direct else "".join(version.split()),
        marked=bool(marker.strip()),
    )


def _local(key: str, number: int) -> RequirementsError:
    return RequirementsError(
        key,
        number,
        "local and editable installs can't be built into the image (the workspace "
        "is mounted, not copied); install them after start-up instead",
    )


def _cut(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    key = path.relative_to(project_dir.resolve()).as_posix()
    problem = secret_or_protected(key) or copyable_path(key)
    if problem:
        raise RequirementsError(parent, line, f"{rel!r} {problem}")
    return path
