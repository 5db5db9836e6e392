"""One thin module per command, each exposing `command` (a click command).

A command parses its options, loads the plan, calls one function and prints the result.
Heavy imports (docker, testcontainers) stay inside the functions, so `devenv --help` and the
plan commands work on machines without an engine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from devenv.plan import Plan, load_plan

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


def json_file_option(f: F) -> F:
    return click.option(
        "--json",
        "json_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also write the result as JSON to this file.",
    )(f)
