from __future__ import annotations

import click

from devenv.commands import Context, pass_ctx
from devenv.commands.run import run_argv, with_mode_options


@click.command()
@with_mode_options
@pass_ctx
def command(ctx: Context, host: bool, container: bool, timeout: float) -> None:
    """An interactive shell in the environment (bash), where `devenv run` runs commands."""
    click.get_current_context().exit(run_argv(ctx, ("bash",), host, container, timeout))
