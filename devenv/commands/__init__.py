"""One thin module per command, each exposing `command` (a click command).

A command parses its options, loads the plan, calls one function and prints the result.
Heavy imports (docker, testcontainers) stay inside the functions, so `devenv --help` and the
plan commands work on machines without an engine.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any, TypeVar

import click

from devenv.errors import UsageError
from devenv.plan.model import Plan, load_plan

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    def __init__(self, project_dir: Path, debug: bool) -> None:
        self.project_dir = project_dir
        self.debug = debug

    def plan(self) -> Plan:
        return load_plan(self.project_dir)


pass_ctx = click.make_pass_decorator(Context)


JSON_HELP = "Print the result as JSON on stdout, and nothing else there (text goes to stderr)."


def json_option(f: F) -> F:
    """`--json`, one meaning in every command: the result as JSON on stdout (a flag: a word
    after it is an operand, which these commands refuse as click's usage error)."""
    return click.option("--json", "as_json", is_flag=True, help=JSON_HELP)(f)


def writable_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """A report path is checked before the command runs, not after a long build: its folder
    must exist and be writable, and it must not be a folder."""
    if value is None:
        return None
    name = f"--{param.name.removesuffix('_file')}" if param.name else "the report path"
    folder = value.parent if str(value.parent) else Path(".")
    if value.is_dir():
        raise UsageError(f"{name} {value}: is a folder", hint="give a file path")
    if not folder.is_dir():
        raise UsageError(f"{name} {value}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (
        value.exists() and not os.access(value, os.W_OK)
    ):
        raise UsageError(f"{name} {value}: not writable", hint="pass a path in a writable folder")
    return value


REPORT_FILE = click.Path(path_type=Path)  # checked by writable_file, in one line


Emit = Callable[[dict[str, Any]], None]


def _json_text(result: dict[str, Any]) -> str:
    """The one place a result becomes JSON text (each result object's as_json() gives the
    data)."""
    return json.dumps(result, indent=2) + "\n"


@contextmanager
def text_to_stderr(enabled: bool) -> Iterator[Emit]:
    """With `--json`: while the command works, whatever it writes to stdout (its text, and the
    commands it runs, which inherit our stdout) goes to stderr instead. Yields emit(result),
    which writes the result as JSON to the real stdout."""
    if not enabled:
        yield lambda result: click.echo(_json_text(result), nl=False)
        return
    original = sys.stdout
    try:
        out_fd, err_fd = original.fileno(), sys.stderr.fileno()
    except (OSError, ValueError):  # not real files (click's test runner): Python-level only
        out_fd = err_fd = -1
    original.flush()
    saved = os.dup(out_fd) if out_fd >= 0 else -1

    def emit(result: dict[str, Any]) -> None:
        text = _json_text(result)
        sys.stdout.flush()
        if saved < 0:
            original.write(text)
            original.flush()
            return
        data = text.encode("utf-8")
        while data:
            data = data[os.write(saved, data) :]

    if saved >= 0:
        os.dup2(err_fd, out_fd)
    try:
        with redirect_stdout(sys.stderr):
            yield emit
    finally:
        sys.stdout.flush()
        if saved >= 0:
            os.dup2(saved, out_fd)
            os.close(saved)
