from __future__ import annotations

import click

from devenv.commands import Context, pass_ctx


@click.command()
@click.option("--check", is_flag=True, help="Exit 1 when the lock no longer matches the plan.")
@click.option("--upgrade", is_flag=True, help="Re-resolve everything to the newest versions.")
@pass_ctx
def command(ctx: Context, check: bool, upgrade: bool) -> None:
    """Pin the base image, apt packages and Python packages (with hashes) in devenv.lock."""
    from devenv.lock.resolve import make_lock, write_lock
    from devenv.plan.lock_status import check_lock

    plan = ctx.plan()
    if check:
        check_lock(plan)
        click.echo(f"{plan.project_dir / 'devenv.lock'} is current")
        return
    from devenv.container.engine import Engine

    with Engine.connect() as engine:
        lock = make_lock(plan, engine, upgrade=upgrade)
    path = write_lock(plan, lock)
    pins = lock.python_pins()
    click.echo(
        f"wrote {path}: base {dict(lock.base)['id'][:19]}, {len(lock.apt)} apt pins, "
        f"{len(pins)} Python packages with hashes"
    )
    from devenv.files.generate import generate_files

    # The generated files install from the lock: bring them in line with it now.
    for line in generate_files(ctx.plan(), check=False, force=False).lines():
        click.echo(line)
