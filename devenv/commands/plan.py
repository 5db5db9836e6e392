from __future__ import annotations

import click

from devenv.commands import Context, json_option, pass_ctx, text_to_stderr


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
    from devenv.flows.describe import describe_steps, steps_text

    with text_to_stderr(as_json) as emit:
        data = describe_steps(ctx.plan(), mode)
        if as_json:
            emit(data)
        else:
            click.echo(steps_text(data))
