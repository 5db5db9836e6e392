from __future__ import annotations

import json

import click

from devenv.commands import Context, json_option, pass_ctx
from devenv.errors import EXIT_FAILED


@click.command()
@json_option
@pass_ctx
def command(ctx: Context, as_json: bool) -> None:
    """Check this machine for the plan (exit 1 when something it needs is missing)."""
    from devenv.host.doctor import run_doctor

    report = run_doctor(ctx.plan(), lambda line: click.echo(line, err=True))
    click.echo(json.dumps(report.as_json(), indent=2) if as_json else "\n".join(report.text()))
    if not report.ok:
        raise click.exceptions.Exit(EXIT_FAILED)
