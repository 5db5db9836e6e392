"""The command line: parse, load the plan, call one function, print its result."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from devenv import __version__
from devenv.errors import EXIT_INTERRUPTED, EXIT_USAGE, DevenvError
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="devenv")
@click.option("-C", "--project-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("."), show_default=True, help="The project folder (holds devenv.toml).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def cli(ctx: click.Context, project_dir: Path, debug: bool) -> None:
    """devenv: one plan, the same dev environment in a container and on the host."""
    ctx.obj = Context(project_dir, debug)


@cli.command()
@pass_ctx
def init(ctx: Context) -> None:
    """Write a commented default devenv.toml (never overwrites one)."""
    from devenv.init_plan import init_plan

    path, found = init_plan(ctx.project_dir)
    click.echo(f"wrote {path}")
    click.echo(f"requirements: {', '.join(found) if found else 'none found (add them to [python])'}")
    click.echo("next: devenv generate")


@cli.command("plan")
@json_option
@click.option("--mode", type=click.Choice(["container", "host", "both"]), default="both",
              show_default=True)
@pass_ctx
def plan_cmd(ctx: Context, as_json: bool, mode: str) -> None:
    """Print the steps, grouped by phase, for the container and the host."""
    from devenv.describe import describe_steps, steps_text

    data = describe_steps(ctx.plan(), mode)
    click.echo(json.dumps(data, indent=2) if as_json else steps_text(data))


@cli.command()
@click.option("--check", is_flag=True, help="Exit 1 with a diff when a generated file is stale.")
@click.option("--force", is_flag=True, help="Replace generated files even if edited by hand.")
@pass_ctx
def generate(ctx: Context, check: bool, force: bool) -> None:
    """Write docker/, compose.yaml and .devcontainer/ from the plan."""
    from devenv.generate import generate_files

    for line in generate_files(ctx.plan(), check=check, force=force):
        click.echo(line)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; DevenvError -> one line on stderr and its exit code, no traceback."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="devenv", standalone_mode=False)
    except DevenvError as exc:
        if debug:
            raise
        if exc.details:
            click.echo(exc.details.rstrip("\n"), err=True)
        click.echo(f"devenv: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("devenv: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("devenv: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code if exc.exit_code else EXIT_USAGE)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(0)
