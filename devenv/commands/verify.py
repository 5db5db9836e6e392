from __future__ import annotations

from pathlib import Path

import click

from devenv.commands import Context, pass_ctx

FILE = click.Path(dir_okay=False, path_type=Path)


@click.command("verify")
@click.option("--json", "json_file", type=FILE, help="Also write the report as JSON to this file.")
@click.option("--junit", "junit_file", type=FILE, help="Also write the report as JUnit XML.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds a container may take to become ready.",
)
@pass_ctx
def command(ctx: Context, json_file: Path | None, junit_file: Path | None, timeout: float) -> None:
    """Start the built images with testcontainers and prove they work (exit 1 names failures)."""
    from devenv.report import failure, render_table, write_reports
    from devenv.verify import verify

    report = verify(ctx.plan(), timeout=timeout)
    click.echo(render_table(report))
    write_reports(report, json_file=json_file, junit_file=junit_file)
    if not report.ok:
        raise failure(report)
