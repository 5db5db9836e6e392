from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from devenv.commands import (
    REPORT_FILE,
    Context,
    JsonTarget,
    json_result_option,
    pass_ctx,
    text_to_stderr,
    writable_file,
)


@click.command("verify")
@json_result_option
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
def command(
    ctx: Context, json_target: JsonTarget | None, junit_file: Path | None, timeout: float
) -> None:
    """Start the built images with testcontainers and prove they work (exit 1 names failures)."""
    from devenv.verify.lifecycle import verify
    from devenv.verify.report import failure, render_json, render_table, write_reports

    to_stdout = json_target is not None and json_target.stdout
    json_file = json_target.file if json_target is not None else None
    with text_to_stderr(to_stdout) as emit:
        report = verify(ctx.plan(), timeout=timeout)
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 0
        click.echo(render_table(report, width=width))
        write_reports(report, json_file=json_file, junit_file=junit_file)
        if to_stdout:
            emit(render_json(report))  # the bytes `--json FILE` writes
    if not report.ok:
        raise failure(report)
