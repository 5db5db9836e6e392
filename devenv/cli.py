"""The command line: a click group; each command is a thin module in devenv.commands."""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from devenv import __version__
from devenv.commands import Context
from devenv.errors import EXIT_FAILED, EXIT_INTERRUPTED, DevenvError, printable

# Module names under devenv.commands, in the order `devenv --help` lists them.
COMMANDS = (
    "init",
    "plan",
    "generate",
    "base",
    "build",
    "host_install",
    "doctor",
    "parity",
    "verify",
    "up",
    "down",
    "lock",
)


class DevenvGroup(click.Group):
    """Turns DevenvError into one line on stderr and its exit code; no traceback unless --debug."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DevenvError as exc:
            if ctx.obj is not None and ctx.obj.debug:
                raise
            if exc.details:
                click.echo(printable(exc.details.rstrip("\n"), limit=None, keep="\n\t"), err=True)
            click.echo(f"devenv: error: {printable(str(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:
            # An I/O failure no check foresaw (a full disk, a folder gone read-only): one
            # line naming the file, never a traceback.
            if ctx.obj is not None and ctx.obj.debug:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"devenv: error: {printable(where + (exc.strerror or str(exc)))}", err=True)
            ctx.exit(EXIT_FAILED)
        except KeyboardInterrupt:
            click.echo("devenv: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)


@click.group(cls=DevenvGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="devenv")
@click.option(
    "-C",
    "--project-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The project folder (holds devenv.toml).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def cli(ctx: click.Context, project_dir: Path, debug: bool) -> None:
    """devenv: one plan, the same dev environment in a container and on the host."""
    ctx.obj = Context(project_dir, debug)


for _name in COMMANDS:
    _command = importlib.import_module(f"devenv.commands.{_name}").command
    cli.add_command(_command, _name.replace("_", "-"))


def main() -> None:
    cli(prog_name="devenv")
