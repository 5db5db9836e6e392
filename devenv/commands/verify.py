from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from devenv.commands import (
    REPORT_FILE,
    Context,
    json_option,
    pass_ctx,
    text_to_stderr,
    writable_file,
)


@click.command("verify")
@json_option
@click.option(
    "--junit",
    "junit_file",
    type=REPORT_FILE,
    callback=writable_file,
    help="Also write the report as JUnit XML.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds a container may take to become ready.",
)
@pass_ctx
def command(ctx: Context, as_json: bool, junit_file: Path | None, timeout: float) -> None:
    """Start the built images with testcontainers and prove they work (exit 1 names failures)."""
    from devenv.verify.lifecycle import verify
    from devenv.verify.report import failure, render_table, write_junit

    with text_to_stderr(as_json) as emit:
        report = verify(ctx.plan(), timeout=timeout)
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 0
        click.echo(render_table(report, width=width))
        if junit_file is not None:
            write_junit(junit_file, report)
        if as_json:
            emit(report.as_json())
    if not report.ok:
        raise failure(report)
