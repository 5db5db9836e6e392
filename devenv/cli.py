"""The command line: a click group; each command is a thin module in devenv.commands."""

from __future__ import annotations

import contextlib
import importlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import click

from devenv import __version__
from devenv.commands import Context
from devenv.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, DevenvError, printable

# Module names under devenv.commands, in the order `devenv --help` lists them.
COMMANDS = (
    "init",
    "plan",
    "generate",
    "base",
    "build",
    "push",
    "pull",
    "host_install",
    "doctor",
    "parity",
    "verify",
    "up",
    "run",
    "shell",
    "down",
    "lock",
)


class DevenvGroup(click.Group):
    """Turns DevenvError into one line on stderr and its exit code; no traceback unless --debug."""

    def invoke(self, ctx: click.Context) -> object:
        with _sigterm_interrupts():
            return self._invoke(ctx)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: object,
    ) -> click.Context:
        """The group's own options are parsed here, before invoke: their usage errors become
        the same one line (exit 2) as a command's, not click's four-line block."""
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            _usage_line(exc)
            raise click.exceptions.Exit(exc.exit_code) from None

    def _invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DevenvError as exc:
            if ctx.obj is not None and ctx.obj.debug:
                raise
            if exc.details:
                click.echo(printable(exc.details.rstrip("\n"), limit=None, keep="\n\t"), err=True)
            click.echo(f"devenv: error: {exc.one_line()}", err=True)
            ctx.exit(exc.exit_code)
        except click.UsageError as exc:
            _usage_line(exc)
            ctx.exit(exc.exit_code)
        except UnicodeDecodeError as exc:
            # A file read without a check of its own (each known input has one that names it).
            if ctx.obj is not None and ctx.obj.debug:
                raise
            click.echo(f"devenv: error: a file devenv read is not UTF-8 text: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
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


def _usage_line(exc: click.UsageError) -> None:
    """click's own three-line form as our one line (exit 2, as click's)."""
    _, _, sub = exc.ctx.command_path.partition(" ") if exc.ctx else ("", "", "")
    command = f"devenv {sub}" if sub else "devenv"
    message = f"{exc.format_message()} (see `{command} --help`)"
    click.echo(f"devenv: error: {printable(message)}", err=True)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a CI timeout, `docker stop`, `kill`) ends a command like Ctrl-C does: its
    cleanup runs (containers, temporary files, the venv switch) and it exits 130."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    from devenv.container.engine_target import export_context

    ctx.obj = Context(project_dir, debug)
    # The docker CLI's current context, if one is chosen, for every engine client devenv runs.
    export_context()


for _name in COMMANDS:
    _command = importlib.import_module(f"devenv.commands.{_name}").command
    cli.add_command(_command, _name.replace("_", "-"))


def main() -> None:
    cli(prog_name="devenv")
