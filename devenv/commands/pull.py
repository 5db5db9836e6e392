from __future__ import annotations

import click

from devenv.commands import Context, pass_ctx


@click.command()
@click.option("-q", "--quiet", is_flag=True, help="Print only the result (and errors).")
@pass_ctx
def command(ctx: Context, quiet: bool) -> None:
    """Fetch the images for the current inputs from the plan's registry (exit 1 if absent)."""
    from devenv.container.build import TARGETS
    from devenv.container.engine import Engine
    from devenv.container.registry import current_tags, fetch, pulled_summary, registry_of
    from devenv.errors import EngineError
    from devenv.support.exclusive_run import images_lock

    def log(line: str) -> None:
        if not quiet:
            click.echo(line, err=True)

    plan = ctx.plan()
    where = registry_of(plan)
    with images_lock(plan.project_dir), Engine.connect() as engine:
        tags = current_tags(plan, engine, TARGETS, log)
        fetched = fetch(plan, engine, tags, log)
    for line in pulled_summary(fetched, TARGETS):
        click.echo(line)
    if fetched.misses:
        missing = ", ".join(f"{t} ({tags[t]})" for t in fetched.misses)
        if fetched.unreachable:
            raise EngineError(
                f"pulling from {where} failed for {missing}: " + "; ".join(fetched.misses.values()),
                hint="check `docker login` for the registry and that the engine trusts its CA",
            )
        raise EngineError(
            f"the registry {where} has no images for the current inputs: {missing}",
            hint="build and publish them: `devenv build --push` (what CI runs)",
        )
