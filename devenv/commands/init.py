from __future__ import annotations

import click

from devenv.commands import Context, pass_ctx


@click.command()
@pass_ctx
def command(ctx: Context) -> None:
    """Write a commented default devenv.toml (never overwrites one)."""
    from devenv.plan.init import init_plan

    for line in init_plan(ctx.project_dir).lines():
        click.echo(line)
    click.echo("next: devenv generate")
