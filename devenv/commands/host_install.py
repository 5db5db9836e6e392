from __future__ import annotations

import click

from devenv.commands import Context, json_option, pass_ctx, text_to_stderr


@click.command("host-install")
@click.option(
    "--with-db",
    is_flag=True,
    help="Also a local PostgreSQL cluster, a role and database for you, and pgvector.",
)
@click.option("--dry-run", is_flag=True, help="Print every command; change nothing.")
@click.option(
    "--recreate",
    is_flag=True,
    help="Build a fresh venv, replacing the one at the plan's path even if devenv "
    "did not make it (it is deleted).",
)
@click.option("--frozen", is_flag=True, help="Refuse to install when devenv.lock is stale.")
@json_option
@pass_ctx
def command(
    ctx: Context,
    with_db: bool,
    dry_run: bool,
    recreate: bool,
    frozen: bool,
    as_json: bool,
) -> None:
    """Run the plan's steps natively: apt (sudo -n), the venv, checks; no Docker needed."""
    from devenv.flows.host_install import host_install
    from devenv.host.report import Options
    from devenv.plan.lock_status import lock_status

    plan = ctx.plan().personal()  # devenv.local.toml's extra packages count here
    with text_to_stderr(as_json) as emit:
        click.echo(lock_status(plan, frozen=frozen))
        options = Options(with_db=with_db, dry_run=dry_run, recreate=recreate)
        report = host_install(plan, options, click.echo)
        if as_json:
            emit(report.as_json())
        for line in report.summary():
            click.echo(line)
    report.raise_for_status()
