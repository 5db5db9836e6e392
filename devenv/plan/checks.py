"""Checks of plan values: each takes what TOML gave and returns the plan's value, or raises
ValueError with the message the plan error shows after `[section] key:`."""

from __future__ import annotations

import difflib
import json
import posixpath
import re
import shlex
import urllib.parse
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from devenv.fs import safety
from devenv.plan import envfiles
from devenv.rules import validate

Check = Callable[[Any], Any]


def each(check: Check) -> Check:
    def run(values: list[Any]) -> tuple[Any, ...]:
        return tuple(check(v) for v in values)

    return run


def choice(options: tuple[str, ...]) -> Check:
    def run(value: str) -> str:
        if value not in options:
            raise ValueError(
                f"{value!r} is not one of {', '.join(map(repr, options))}{near(value, options)}"
            )
        return value

    return run


def relative_path(value: str) -> str:
    validate.no_control(value)
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or not value:
        raise ValueError(f"{value!r} must be a relative path inside the project folder")
    return value


def init_folder(value: str) -> str:
    """A folder of init scripts, normalised (`db`, `db/`, `./db`, `db/.` are one folder), not
    one of devenv's or git's own."""
    relative_path(value)
    normal = posixpath.normpath(value)
    if normal == "." or not re.fullmatch(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*", normal):
        raise ValueError(f"{value!r} must be a folder path of plain names (like db/init)")
    problem = safety.protected_part(normal)
    if problem:
        raise ValueError(f"{value!r} {problem}; init scripts need a folder of their own")
    return normal


def init_folders(values: list[str]) -> tuple[str, ...]:
    folders = tuple(init_folder(v) for v in values)
    for n, folder in enumerate(folders):
        if folder in folders[:n]:
            raise ValueError(f"{values[n]!r} is {folder!r} again: each folder runs once")
        for other in folders[:n]:
            if folder.startswith(other + "/") or other.startswith(folder + "/"):
                raise ValueError(f"{values[n]!r} and {other!r} overlap: one holds the other")
    return folders


def project_folder(value: str) -> str:
    normal = posixpath.normpath(value) if value else value
    if normal != ".":
        relative_path(value)
        if not re.fullmatch(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*", normal):
            raise ValueError(f"{value!r} must be a folder path of plain names (like backend)")
        problem = safety.protected_part(normal)
        if problem:
            raise ValueError(f"{value!r} {problem}")
    return normal


def group_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", value):
        raise ValueError(f"{value!r} is not a dependency group name (like dev)")
    return value


def venv_path(value: str) -> str:
    relative_path(value)
    problem = safety.protected_part(value)
    if problem:
        raise ValueError(f"{value!r} {problem}; the venv needs a folder of its own (like .venv)")
    return value


def requirements_path(value: str) -> str:
    relative_path(value)
    problem = validate.secret_or_protected(value) or validate.copyable_path(value)
    if problem:
        raise ValueError(f"{value!r} {problem}")
    return value


def absolute_path(value: str) -> str:
    validate.no_control(value)
    parts = value.split("/")[1:]
    if not re.fullmatch(r"(/[A-Za-z0-9._-]+)+", value) or {".", ".."} & set(parts):
        raise ValueError(f"{value!r} must be an absolute path of plain names (like /opt/venv)")
    return value


def postgres_major(value: int) -> int:
    if not 10 <= value <= 99:
        raise ValueError(f"{value} is not a PostgreSQL major version (like 16)")
    return value


def mirror(value: str) -> str:
    validate.no_control(value)
    problem = not re.fullmatch(r"(https?|file)://[^\s'\"\\]+", value)
    if not problem:
        try:
            url = urllib.parse.urlsplit(value)
            port = url.port  # ValueError when it is not a number in range
        except ValueError:
            problem = True
        else:
            host = url.hostname or ""
            host_ok = bool(re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+", host))
            problem = (url.scheme == "file" and url.netloc not in ("", "localhost")) or (
                url.scheme != "file" and (not host_ok or port == 0)
            )
    if problem:
        raise ValueError(f"{value!r} is not an http(s):// or file:// archive URL")
    return value


def keyring(value: str) -> str:
    validate.no_control(value)
    if not value or not re.fullmatch(r"[^\s'\"\\]+\.(gpg|asc|pgp)", value):
        raise ValueError(
            f"{value!r} is not a keyring file path (a .gpg, .asc or .pgp file, without spaces)"
        )
    return value


def vscode_extension(value: str) -> str:
    validate.no_control(value)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*\.[A-Za-z0-9][A-Za-z0-9.-]*", value):
        raise ValueError(f"{value!r} is not a VS Code extension id (like ms-python.python)")
    return value


def env_file(value: str) -> str:
    relative_path(value)
    if not re.fullmatch(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*", value):
        raise ValueError(f"{value!r} must be a file path of plain names (like .env.shared)")
    problem = safety.protected_part(posixpath.normpath(value))
    if problem:
        raise ValueError(f"{value!r} {problem}; an env file is the project's own")
    return value


def env_vars(value: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    for key, item in value.items():
        if not envfiles.KEY.fullmatch(key):
            raise ValueError(f"{key!r} is not a variable name (letters, digits, _)")
        if key in envfiles.RESERVED:
            raise ValueError(f"{key} is set by devenv ({envfiles.reserved_why(key)})")
        if not isinstance(item, str):
            raise ValueError(f"{key} must be a string, not {kind_name(type(item))}")
        validate.no_control(item)
        if len(key.encode()) + len(item.encode()) > envfiles.MAX_VALUE:
            raise ValueError(f"{key}: the value is over 128 KiB, more than an environment holds")
    # A `$` is literal in both modes: compose.yaml writes it `$$` (render.compose.escape).
    return tuple(value.items())


MAX_TASK = 4096  # a command line, not a script: longer is a mistake (and slow to split)
# Words a shell runs itself: a task is exec'd as a program in every mode, so none of them can
# mean there what it means in a shell (`exit 0` would end VS Code's script early, `cd` leak).
SHELL_BUILTINS = frozenset(
    {
        ".", ":", "alias", "bg", "break", "builtin", "cd", "command", "continue", "declare",
        "eval", "exec", "exit", "export", "fg", "function", "hash", "jobs", "local", "read",
        "readonly", "return", "set", "shift", "source", "trap", "typeset", "ulimit", "umask",
        "unalias", "unset", "wait", "if", "then", "else", "fi", "for", "while", "until", "do",
        "done", "case", "esac", "!", "{", "}", "[[", "]]", "time",
    }
)  # fmt: skip


def task(value: str) -> str:
    validate.no_control(value)
    if len(value) > MAX_TASK:
        raise ValueError(
            f"a task is over {MAX_TASK} characters; put a long command in a script and run that"
        )
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a command line: {exc}") from None
    if not words:
        raise ValueError("a task is an empty command line")
    lexer = shlex.shlex(value, posix=True, punctuation_chars=True)
    operators = [t for t in lexer if t and set(t) <= set("();<>|&")]
    if operators or "$" in value or "`" in value:
        raise ValueError(
            f"{value!r}: tasks run without a shell, so {(operators or ['$'])[0]!r} would not mean "
            "what it does in one; put a pipeline or variables in a script and run that"
        )
    if shlex.split(value, comments=True) != words:
        raise ValueError(
            f"{value!r}: tasks run without a shell, so '#' would be passed as an argument, not "
            "start a comment; remove the comment (or quote the '#')"
        )
    if words[0] in SHELL_BUILTINS or "=" in words[0]:
        what = "sets a variable" if "=" in words[0] else f"starts with {words[0]!r}, a shell word"
        raise ValueError(
            f"{value!r} {what}; tasks run as programs without a shell in every mode, so it "
            "would not do there what it does in a shell; put it in a script and run that"
        )
    return value


def vscode_settings(value: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    for key, item in value.items():
        validate.no_control(key)
        if not re.fullmatch(r"[A-Za-z0-9_.\[\]-]+", key):
            raise ValueError(f"{key!r} is not a VS Code setting name (like editor.tabSize)")
        try:
            json.dumps(item, allow_nan=False)
        except (ValueError, TypeError):  # NaN, or a TOML date/time: JSON has neither
            raise ValueError(f"{key}: the value is not JSON (a TOML date or time is not)") from None
    return tuple(value.items())


def same(value: Any) -> Any:
    return value


def near(word: str, options: tuple[str, ...]) -> str:
    """The close option a misspelling meant, or the options."""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(options)}"


def kind_name(kind: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        bool: "true or false",
        list: "a list",
        dict: "a table",
        float: "a number",
    }.get(kind, kind.__name__)
