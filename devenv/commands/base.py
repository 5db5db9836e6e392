from __future__ import annotations

import click

from devenv.commands import Context, pass_ctx


@click.command()
@click.option("--force", is_flag=True, help="Bootstrap again even if the image exists.")
@click.option("--pull", is_flag=True, help="Try a registry pull first (short timeout).")
@pass_ctx
def command(ctx: Context, force: bool, pull: bool) -> None:
    """Make the plan's base image locally (debootstrap + import) when it is missing."""
    from devenv.base import ensure_plan_base
    from devenv.engine import Engine

    plan = ctx.plan()
    with Engine.connect() as engine:
        log = lambda line: click.echo(line, err=True)  # noqa: E731
        result = ensure_plan_base(engine, plan, log=log, force=force, try_pull=pull)
    state = "bootstrapped" if result.bootstrapped else "already present"
    click.echo(f"{result.ref}: {state} ({result.image_id[:19]})")
