from __future__ import annotations

import json

import click

from devenv.commands import Context, json_option, pass_ctx


@click.command("plan")
@json_option
@click.option(
    "--mode",
    type=click.Choice(["container", "host", "both"]),
    default="both",
    show_default=True,
    help="Which mode's steps to show.",
)
@pass_ctx
def command(ctx: Context, as_json: bool, mode: str) -> None:
    """Print the steps, grouped by phase, for the container and the host."""
    from devenv.steps.describe import describe_steps, steps_text

    data = describe_steps(ctx.plan(), mode)
    click.echo(json.dumps(data, indent=2) if as_json else steps_text(data))
