"""Env files (`.env`, and the files `[env] files` names) and the environment a command gets.

Compose reads the same files for the app container (compose.yaml's `env_file`), and devenv
reads them for the host (`devenv run --host`, host-install's tasks) and to pass a fresh copy
to `devenv run` in the container. One reader, written to Compose's own (compose-go's dotenv
parser, as Compose v2.40 runs it), so each line devenv accepts means the same in both modes:

- a UTF-8 byte-order mark at the start is skipped; `#` starts a comment line;
- `KEY=VALUE` or `KEY: VALUE`, an optional `export ` first; spaces around the key are dropped;
- a bare value ends at the line's end or at ` #` (a space, then `#`: a tab does not start a
  comment), trailing whitespace dropped; `$$` is a `$`;
- 'single-quoted': literal (only \\' is the quote itself), may span lines;
- "double-quoted": may span lines; escapes \\n \\r \\t \\a \\b \\f \\v \\" \\\\ \\$ and \\0NNN
  (octal), any other backslash kept as written; `$$` is a `$`.

Refused, each with the file and line (Compose accepts them, but they can't mean the same
thing on the host or can't reach a program's environment): a `$` Compose would substitute
(write `$$`, `\\$` in double quotes, or single quotes); `KEY` alone (Compose copies it from the
environment it runs in); a key that is not a shell variable name; anything after a closing
quote but a comment; control characters in a value; a value over MAX_VALUE bytes; the
variables devenv sets itself (RESERVED).

Precedence, lowest first — the same in the container and on the host:
  `.env` < the plan's `[env] files`, in order < `[env] vars` < what devenv sets for the
  database (DATABASE_URL, PGHOST, PGPORT, PGUSER, PGDATABASE; PGPASSWORD from .devenv/db.env).
On the host the command starts from your shell's environment, with these on top. None of it
ever reaches the environment of docker or compose themselves (devenv.run.command).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from devenv.errors import PlanError
from devenv.fs import safety

DOTENV = ".env"
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Set by devenv: the database it connects the app to, and the venv first on PATH (on the host
# devenv puts it there; in the container a PATH of the project's would hide it).
RESERVED = frozenset(
    {
        "DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD",
        "POSTGRES_PASSWORD", "PATH", "VIRTUAL_ENV",
    }
)  # fmt: skip
# Linux refuses an environment string (KEY=VALUE) over 128 KiB at exec: say so here, naming
# the line, rather than let the command fail with "Argument list too long".
MAX_VALUE = 128 * 1024 - 2
MAX_FILE = 1024 * 1024  # an env file is configuration: bigger is a mistake (or /dev/zero)
BOM = "\ufeff"
# compose-go's isSpace: not a line break.
_SPACE = "\t\v\f\r \x85\xa0"
# Go's unicode.IsSpace (what Compose trims a bare value's end with).
_GO_WHITESPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"  # noqa: E501
_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0[0-9]{0,3})")
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
           '"': '"', "\\": "\\"}  # fmt: skip
_DOLLAR = "\x00"  # stands for an escaped `$` between the two passes (no value holds NUL)
# C0 controls but tab and newline, DEL, C1 controls.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
HINT = "see `devenv run --help` for the format"


@dataclass(frozen=True, kw_only=True)
class EnvFile:
    path: str  # project-relative
    values: tuple[tuple[str, str], ...]


class _Fail(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _unescape(match: re.Match[str]) -> str:
    text = match.group()
    c = text[1]
    if c == "$":
        return _DOLLAR
    if c == "0":
        digits = text[2:]
        if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) < 256:
            return chr(int(digits, 8))
        return "\\" + digits  # Compose drops the 0 and keeps the rest as written
    return _SIMPLE.get(c, text)


def _substitute(value: str, line: int) -> str:
    """Compose's interpolation, for the part both can agree on: `$$` is `$`; any other `$`
    is refused (Compose would take a value from the environment it runs in)."""
    out, i = [], 0
    while True:
        j = value.find("$", i)
        if j < 0:
            out.append(value[i:])
            break
        if value.startswith("$$", j):
            out.append(value[i:j] + "$")
            i = j + 2
            continue
        raise _Fail(
            line,
            "'$' in a value: Compose would substitute it; write $$ (or \\$ in double quotes) "
            "for a literal $, or single-quote the value",
        )
    return "".join(out).replace(_DOLLAR, "$")


def _pairs(text: str) -> list[tuple[str, str, int]]:
    """(key, value, line) in file order; _Fail otherwise. Follows compose-go's parser."""
    text = text.removeprefix(BOM)
    if "\x00" in text:
        raise _Fail(text.count("\n", 0, text.index("\x00")) + 1, "a NUL byte: not a text file")
    found: list[tuple[str, str, int]] = []
    pos, n = 0, len(text)
    while True:
        # The next statement: skip whitespace (line breaks included) and comment lines.
        pos = _skip(text, pos, _GO_WHITESPACE)
        if pos >= n:
            return found
        line = text.count("\n", 0, pos) + 1
        if text[pos] == "#":
            end = text.find("\n", pos)
            if end < 0:
                return found
            pos = end
            continue
        key, pos = _key(text, pos, line)
        pos = _skip(text, pos, _SPACE)
        if pos < n and text[pos] in "'\"":
            value, pos = _quoted_value(text, pos, line)
        else:
            value, pos = _bare_value(text, pos, line)
        found.append((key, value, line))


def _skip(text: str, pos: int, chars: str) -> int:
    """The first position from ``pos`` on whose character is not one of ``chars``."""
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _line_end(text: str, pos: int) -> int:
    """Where the line holding ``pos`` ends: its line break, or the end of the text."""
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _key(text: str, pos: int, line: int) -> tuple[str, int]:
    """The key starting at ``pos`` (after an optional `export `) and the position just past
    the `=` or `:` that ends it."""
    n = len(text)
    if re.match(r"export[" + _SPACE + "]+", text[pos:]):
        pos = _skip(text, pos + len("export"), _SPACE)
    start = pos
    while pos < n and text[pos] not in "=:\n":
        pos += 1
    key = text[start:pos].rstrip(_GO_WHITESPACE)
    if pos >= n or text[pos] == "\n":
        raise _Fail(
            line,
            f"{key!r} alone: Compose would copy it from the environment it runs in; "
            "write KEY=VALUE",
        )
    if not KEY.fullmatch(key):
        raise _Fail(
            line,
            "expected KEY=VALUE (KEY: letters, digits, _; not starting with a digit)",
        )
    return key, pos + 1


def _bare_value(text: str, pos: int, line: int) -> tuple[str, int]:
    """An unquoted value starting at ``pos`` and where its line ends."""
    end = _line_end(text, pos)
    value = text[pos:end].split(" #", 1)[0].rstrip(_GO_WHITESPACE)
    return _substitute(value, line), end


def _quoted_value(text: str, pos: int, line: int) -> tuple[str, int]:
    """The value quoted at ``pos`` and where the line of its closing quote ends."""
    quote = text[pos]
    value, close = _quoted_chars(text, pos, line)
    if quote == '"':
        value = _substitute(_ESCAPE.sub(_unescape, value), line)
    return value, _after_closing_quote(text, close)


def _quoted_chars(text: str, pos: int, line: int) -> tuple[str, int]:
    """What lies between the quote at ``pos`` and its closing quote (a backslash-escaped quote
    taken as the quote, other escapes kept as written) and the closing quote's position."""
    quote, n = text[pos], len(text)
    chars: list[str] = []
    i, escaped = pos + 1, False
    while i < n:
        c = text[i]
        if c != quote:
            if not escaped and c == "\\":
                escaped = True
            elif escaped:
                escaped = False
                chars.append("\\" + c)
            else:
                chars.append(c)
            i += 1
            continue
        if escaped:
            escaped = False
            chars.append(c)
            i += 1
            continue
        return "".join(chars), i
    kind = "single" if quote == "'" else "double"
    raise _Fail(line, f"the {kind}-quoted value does not close")


def _after_closing_quote(text: str, close: int) -> int:
    """Where the closing quote's line ends; after the quote only spaces, then a comment or the
    line's end. (Compose would read more there as another variable.)"""
    rest_end = _line_end(text, close + 1)
    rest = text[close + 1 : rest_end].lstrip(_SPACE)
    if rest and not rest.startswith("#"):
        raise _Fail(
            text.count("\n", 0, close) + 1,
            "only a comment may follow a closing quote on its line",
        )
    return rest_end


def parse(text: str, where: str) -> tuple[tuple[str, str], ...]:
    """KEY=VALUE pairs in file order (a later KEY wins, as in Compose); PlanError naming the
    line otherwise."""
    try:
        pairs = _pairs(text)
    except _Fail as exc:
        raise PlanError(f"{where}:{exc.line}: {exc.message}", hint=HINT) from None
    for key, value, line in pairs:

        def fail(message: str, n: int = line) -> PlanError:
            return PlanError(f"{where}:{n}: {message}", hint=HINT)

        control = _CONTROL.search(value)
        if control:
            raise fail(f"{key}: the control character {control.group()!r} in the value")
        if len(key.encode()) + len(value.encode()) > MAX_VALUE:
            raise fail(f"{key}: the value is over {MAX_VALUE // 1024} KiB, more than a "
                       "program's environment may hold")  # fmt: skip
        if key in RESERVED:
            raise fail(f"{key} is set by devenv ({reserved_why(key)})")
    return tuple((key, value) for key, value, _ in pairs)


def reserved_why(key: str) -> str:
    if key in ("PATH", "VIRTUAL_ENV"):
        return "the venv comes first on PATH in both modes"
    return "for the database it connects the app to"


def read(project_dir: Path, rel: str, *, required: bool) -> EnvFile | None:
    """One env file of the project: inside it (no symlink leading out), a regular file of at
    most MAX_FILE bytes, UTF-8; PlanError (exit 2) otherwise."""
    path = safety.project_path(project_dir, rel, what="env file")
    if path is None:
        if required:
            raise PlanError(
                f"{project_dir / rel}: the env file [env] files names does not exist",
                hint="create it, or remove it from [env] files in devenv.toml",
            )
        return None
    data = safety.read_bounded(path, limit=MAX_FILE, what="env file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError(
            f"{path}: the env file is not UTF-8 text (byte {exc.start})", hint="save it as UTF-8"
        ) from None
    return EnvFile(path=rel, values=parse(text, str(path)))


def layered(
    project_dir: Path, files: tuple[str, ...], plan_vars: tuple[tuple[str, str], ...]
) -> dict[str, str]:
    """`.env` (when present), then each of `files`, then the plan's vars: later wins."""
    env: dict[str, str] = {}
    found = [read(project_dir, DOTENV, required=False)]
    found += [read(project_dir, rel, required=True) for rel in files if rel != DOTENV]
    for env_file in found:
        if env_file is not None:
            env.update(env_file.values)
    env.update(plan_vars)
    return env
