from __future__ import annotations

from pathlib import Path

import click

from devenv.commands import Context, pass_ctx


@click.command()
@click.option("--no-verify", is_flag=True, help="Skip `devenv verify` once the services are up.")
@click.option("--pull", "base_source", flag_value="pull",
              help="Get a missing base image only from a registry.")  # fmt: skip
@click.option("--bootstrap", "base_source", flag_value="bootstrap",
              help="Bootstrap a missing base image; never try a registry.")  # fmt: skip
@click.option("--timeout", type=click.FloatRange(min=1), default=120.0, show_default=True,
              help="Seconds the services may take to become healthy.")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="Print only the result (and errors).")
@pass_ctx
def command(
    ctx: Context, no_verify: bool, base_source: str | None, timeout: float, quiet: bool
) -> None:
    """Generate if stale, build, start the services, wait for health, verify; how to attach."""
    from devenv.container.progress import choose
    from devenv.flows.up import attach_lines, up
    from devenv.support.exclusive_run import images_lock
    from devenv.verify.report import failure, render_table

    def log(line: str) -> None:
        if not quiet:
            click.echo(line, err=True)

    plan = ctx.plan()  # the team's: up generates from it; compose reads devenv.local.toml
    with images_lock(plan.project_dir):
        result = up(
            plan,
            progress=choose(quiet),
            log=log,
            verify=not no_verify,
            base_source=base_source or "auto",
            timeout=timeout,
        )
    if result.report is not None:
        click.echo(render_table(result.report))
    for line in result.summary() + attach_lines(plan, cwd=Path.cwd()):
        click.echo(line)
    if result.report is not None and not result.report.ok:
        raise failure(result.report)
