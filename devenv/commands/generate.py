from __future__ import annotations

import click

from devenv.commands import Context, pass_ctx


@click.command()
@click.option("--check", is_flag=True, help="Exit 1 with a diff when a generated file is stale.")
@click.option("--force", is_flag=True, help="Replace generated files even if edited by hand.")
@pass_ctx
def command(ctx: Context, check: bool, force: bool) -> None:
    """Write docker/, compose.yaml and .devcontainer/ from the plan."""
    from devenv.files.generate import generate_files

    for line in generate_files(ctx.plan(), check=check, force=force).lines():
        click.echo(line)
