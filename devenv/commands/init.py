from __future__ import annotations

import click

from devenv.commands import Context, pass_ctx


@click.command()
@pass_ctx
def command(ctx: Context) -> None:
    """Write a commented default devenv.toml (never overwrites one)."""
    from devenv.plan.init import init_plan

    path, found = init_plan(ctx.project_dir)
    click.echo(f"wrote {path}")
    click.echo(
        f"requirements: {', '.join(found) if found else 'none found (add them to [python])'}"
    )
    click.echo("next: devenv generate")
