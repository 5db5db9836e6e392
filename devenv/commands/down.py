from __future__ import annotations

import click

from devenv.commands import Context, pass_ctx


@click.command()
@click.option("--volumes", is_flag=True, help="Also delete the database volume (its data).")
@pass_ctx
def command(ctx: Context, volumes: bool) -> None:
    """Stop and remove the services; the database volume stays unless --volumes."""
    from devenv.flows.up import down

    result = down(ctx.plan(), volumes=volumes, log=lambda line: click.echo(line, err=True))
    for line in result.summary():
        click.echo(line)
