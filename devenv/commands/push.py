from __future__ import annotations

import click

from devenv.commands import Context, pass_ctx


@click.command()
@click.option("-q", "--quiet", is_flag=True, help="Print only the result (and errors).")
@pass_ctx
def command(ctx: Context, quiet: bool) -> None:
    """Push the built images under their content tags (and latest), and the base."""
    from devenv.container.build import TARGETS
    from devenv.container.engine import Engine
    from devenv.container.registry import current_tags, publish, registry_of
    from devenv.support.exclusive_run import images_lock

    def log(line: str) -> None:
        if not quiet:
            click.echo(line, err=True)

    plan = ctx.plan()
    registry_of(plan)  # no registry: say so before connecting
    with images_lock(plan.project_dir), Engine.connect() as engine:
        tags = current_tags(plan, engine, TARGETS, log)
        pushed = publish(plan, engine, tags, log)
    for ref in pushed:
        click.echo(f"pushed {ref}")
