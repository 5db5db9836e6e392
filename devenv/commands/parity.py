from __future__ import annotations

import json

import click

from devenv.commands import Context, json_option, pass_ctx
from devenv.errors import EXIT_FAILED


@click.command()
@json_option
@click.option(
    "--with-db/--without-db",
    default=None,
    help="Compare the database packages with the db image. Default: when this host "
    "has the plan's PostgreSQL server installed.",
)
@pass_ctx
def command(ctx: Context, as_json: bool, with_db: bool | None) -> None:
    """Compare what host-install installed here with the dev (and db) image; exit 1 on any
    difference."""
    from devenv.verify.parity import parity

    report = parity(ctx.plan(), lambda line: click.echo(line, err=True), with_db=with_db)
    click.echo(json.dumps(report.as_json(), indent=2) if as_json else "\n".join(report.text()))
    if not report.ok:
        raise click.exceptions.Exit(EXIT_FAILED)
