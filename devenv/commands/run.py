from __future__ import annotations

import click

from devenv.commands import Context, pass_ctx

MODE_OPTIONS = (
    click.option("--host", is_flag=True, help="In the host venv (the default without an engine)."),
    click.option("--container", is_flag=True, help="In the app container (the default with one)."),
    click.option("--timeout", type=click.FloatRange(min=1), default=120.0, show_default=True,
                 help="Seconds the services may take to start when they are not running."),
)  # fmt: skip


def with_mode_options(f: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(MODE_OPTIONS):
        f = option(f)
    return f


def run_argv(
    ctx: Context, argv: tuple[str, ...], host: bool, container: bool, timeout: float
) -> int:
    from devenv.run.command import choose_mode, run_in_container, run_on_host

    def log(line: str) -> None:
        click.echo(line, err=True)

    plan = ctx.plan().personal()
    if choose_mode(host, container) == "host":
        return run_on_host(plan, argv, log)
    return run_in_container(plan, argv, log, timeout=timeout)


# No ignore_unknown_options: `devenv run --hots -- x` is a typo to report, not a command. The
# first word that is not an option starts CMD (`devenv run pytest -x` passes -x to pytest).
@click.command(context_settings={"allow_interspersed_args": False})
@with_mode_options
@click.argument("argv", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- CMD [ARG]...")
@pass_ctx
def command(
    ctx: Context, host: bool, container: bool, timeout: float, argv: tuple[str, ...]
) -> None:
    """Run a command in the environment: the app container (as you: your UID and GID, in the
    workspace, starting the services if needed) or the host venv; its exit code is devenv's.

    Env files: `.env` (if present), then [env] files, then [env] vars, then the database's
    DATABASE_URL/PG* variables; a later one wins. Format: KEY=VALUE lines, `export ` and `#`
    comments allowed, values bare, 'single-quoted' or "double-quoted" (as Compose reads them);
    a literal `$` is `$$`, `\\$` in double quotes, or inside single quotes. A command not
    found exits 127, one that can't be executed 126."""
    click.get_current_context().exit(run_argv(ctx, argv, host, container, timeout))
