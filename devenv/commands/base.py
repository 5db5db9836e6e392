from __future__ import annotations

import click

from devenv.commands import Context, pass_ctx


@click.command()
@click.option("--force", is_flag=True, help="Make it again even if the image exists.")
@click.option(
    "--pull", "source", flag_value="pull", help="Only pull it from a registry; never bootstrap."
)
@click.option(
    "--bootstrap",
    "source",
    flag_value="bootstrap",
    help="Only bootstrap it (debootstrap); never try a registry.",
)
@pass_ctx
def command(ctx: Context, force: bool, source: str | None) -> None:
    """Make sure the plan's base image exists: pull it (one short try), else bootstrap it."""
    from devenv.container.base import BaseSource, ensure_plan_base
    from devenv.container.engine import Engine

    plan = ctx.plan()
    with Engine.connect() as engine:
        log = lambda line: click.echo(line, err=True)  # noqa: E731
        if not force and source != "bootstrap":
            from devenv.container.registry import base_from_elsewhere

            # The team's base (the registry's; its id is in every content tag), else this
            # machine's engine's when devenv talks to another one; then the usual pull/bootstrap.
            base_from_elsewhere(plan, engine, log)
        result = ensure_plan_base(
            engine, plan, log=log, force=force, source=BaseSource(source or "auto")
        )
    state = "already present" if result.how == "present" else result.how
    click.echo(f"{result.ref}: {state} ({result.image_id[:19]})")
