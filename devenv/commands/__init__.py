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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from devenv.errors import UsageError, printable
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
    return click.option("--json", "as_json", is_flag=True, help=JSON_HELP)(f)


def writable_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """A report path is checked before the command runs, not after a long build: its folder
    must exist and be writable, and it must not be a folder."""
    if value is None:
        return None
    name = f"--{param.name.removesuffix('_file')}" if param.name else "the report path"
    return check_writable(name, value)


def check_writable(name: str, value: Path) -> Path:
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


STDOUT = "-"  # `--json` alone (or `--json -`): the result on stdout


@dataclass(frozen=True)
class JsonTarget:
    """Where `--json` sends the result: stdout (file None), or, spelled the old way
    (`--json FILE`, deprecated), a file while the text stays on stdout."""

    file: Path | None = None

    @property
    def stdout(self) -> bool:
        return self.file is None


def _json_target(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> JsonTarget | None:
    if value is None:
        return None
    if value == STDOUT:
        return JsonTarget()
    path = check_writable("--json", Path(value))
    click.echo(
        f"devenv: warning: `--json FILE` is deprecated; use `--json` (the result as JSON on "
        f"stdout, e.g. `--json > {printable(value)}`)",
        err=True,
    )
    return JsonTarget(path)


def json_result_option(f: F) -> F:
    """`--json` for commands whose JSON used to go to a file: the same meaning as everywhere
    (the result on stdout, nothing else there). A word right after it is still taken as the
    old FILE (scripts pass one), with a deprecation note; an option after it is not a value,
    so `--json --quiet` means stdout. `--json -` is stdout too."""
    return click.option(
        "--json",
        "json_target",
        metavar="[FILE]",
        is_flag=False,
        flag_value=STDOUT,
        default=None,
        callback=_json_target,
        help=f"{JSON_HELP} (`--json FILE`, deprecated: write it to FILE instead.)",
    )(f)


Emit = Callable[[str], None]


@contextmanager
def text_to_stderr(enabled: bool) -> Iterator[Emit]:
    """With `--json` on stdout: while the command works, whatever it writes to stdout (its
    text, and the commands it runs, which inherit our stdout) goes to stderr instead. Yields
    emit(text), which writes the JSON result to the real stdout."""
    if not enabled:
        yield lambda text: click.echo(text, nl=False)
        return
    original = sys.stdout
    try:
        out_fd, err_fd = original.fileno(), sys.stderr.fileno()
    except (OSError, ValueError):  # not real files (click's test runner): Python-level only
        out_fd = err_fd = -1
    original.flush()
    saved = os.dup(out_fd) if out_fd >= 0 else -1

    def emit(text: str) -> None:
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


def json_text(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"
