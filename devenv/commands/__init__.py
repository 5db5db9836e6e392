"""One thin module per command, each exposing `command` (a click command).

A command parses its options, loads the plan, calls one function and prints the result.
Heavy imports (docker, testcontainers) stay inside the functions, so `devenv --help` and the
plan commands work on machines without an engine.
"""

from __future__ import annotations

import os
from collections.abc import Callable
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


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(f)


def writable_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """A report path is checked before the command runs, not after a long build: its folder
    must exist and be writable, and it must not be a folder."""
    if value is None:
        return None
    folder = value.parent if str(value.parent) else Path(".")
    name = f"--{param.name.removesuffix('_file')}" if param.name else "the report path"
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


def json_file_option(f: F) -> F:
    return click.option(
        "--json",
        "json_file",
        type=REPORT_FILE,
        callback=writable_file,
        help="Also write the result as JSON to this file.",
    )(f)
