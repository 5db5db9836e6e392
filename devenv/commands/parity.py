from __future__ import annotations

import click

from devenv.commands import Context, json_option, pass_ctx, text_to_stderr
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
    from devenv.flows.parity import parity

    with text_to_stderr(as_json) as emit:
        report = parity(ctx.plan(), lambda line: click.echo(line, err=True), with_db=with_db)
        if as_json:
            emit(report.as_json())
        else:
            click.echo("\n".join(report.text()))
    if not report.ok:
        raise click.exceptions.Exit(EXIT_FAILED)
