from __future__ import annotations

import click

from devenv.commands import Context, json_option, pass_ctx, text_to_stderr
from devenv.errors import EXIT_FAILED


@click.command()
@json_option
@pass_ctx
def command(ctx: Context, as_json: bool) -> None:
    """Check this machine for the plan (exit 1 when something it needs is missing)."""
    from devenv.host.doctor import run_doctor

    with text_to_stderr(as_json) as emit:
        report = run_doctor(ctx.plan(), lambda line: click.echo(line, err=True))
        if as_json:
            emit(report.as_json())
        else:
            click.echo("\n".join(report.text()))
    if not report.ok:
        raise click.exceptions.Exit(EXIT_FAILED)
