from __future__ import annotations

import click

from devenv.commands import (
    Context,
    JsonTarget,
    json_result_option,
    json_text,
    pass_ctx,
    text_to_stderr,
)


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
@json_result_option
@pass_ctx
def command(
    ctx: Context,
    with_db: bool,
    dry_run: bool,
    recreate: bool,
    frozen: bool,
    json_target: JsonTarget | None,
) -> None:
    """Run the plan's steps natively: apt (sudo -n), the venv, checks; no Docker needed."""
    from devenv.host.install import host_install
    from devenv.host.report import Options, write_report
    from devenv.lock.resolve import lock_status

    plan = ctx.plan().personal()  # devenv.local.toml's extra packages count here
    to_stdout = json_target is not None and json_target.stdout
    json_file = json_target.file if json_target is not None else None
    with text_to_stderr(to_stdout) as emit:
        click.echo(lock_status(plan, frozen=frozen))
        options = Options(with_db=with_db, dry_run=dry_run, recreate=recreate)
        report = host_install(plan, options, click.echo)
        if json_file:
            write_report(json_file, report)
        if to_stdout:
            emit(json_text(report.as_json()))  # the bytes write_report writes
        for line in report.summary():
            click.echo(line)
    report.raise_for_status()
