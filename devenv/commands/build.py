from __future__ import annotations

from typing import TYPE_CHECKING

import click

from devenv.commands import Context, json_option, pass_ctx, text_to_stderr

if TYPE_CHECKING:
    from devenv.container.build import BuildSummary
    from devenv.steps.recipe import Recipe


@click.command()
@click.option("--no-cache", is_flag=True, help="Rebuild every step.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the result (and errors).")
@click.option(
    "--target",
    "targets",
    type=click.Choice(["dev", "db"]),
    multiple=True,
    help="Build only this target (repeatable). Default: both.",
)
@click.option("--frozen", is_flag=True, help="Refuse to build when devenv.lock is stale.")
@click.option("--push", is_flag=True, help="Push the images to the plan's registry afterwards.")
@click.option("--no-registry", is_flag=True, help="Build here even when the registry has them.")
@json_option
@pass_ctx
def command(
    ctx: Context,
    no_cache: bool,
    quiet: bool,
    targets: tuple[str, ...],
    frozen: bool,
    push: bool,
    no_registry: bool,
    as_json: bool,
) -> None:
    """Build the dev and db images through the Docker Engine API."""
    from devenv.container.build import TARGETS, FailedBuild, build_images
    from devenv.container.engine import Engine
    from devenv.container.progress import choose
    from devenv.support.exclusive_run import images_lock

    recipe = _reviewed_recipe(ctx, push=push, frozen=frozen)
    plan = recipe.plan
    with (
        text_to_stderr(as_json) as emit,
        images_lock(plan.project_dir),
        Engine.connect() as engine,
    ):
        try:
            summary = build_images(
                plan,
                engine,
                choose(quiet),
                no_cache=no_cache,
                targets=tuple(t for t in TARGETS if t in targets) if targets else TARGETS,
                log=lambda line: None if quiet else click.echo(line, err=True),
                use_registry=not no_registry,
                push=push,
                recipe=recipe,
            )
        except FailedBuild as exc:  # a failed build is reported too: what ran, where it stopped
            if as_json:
                emit(exc.summary.as_json())
            raise
        if as_json:
            emit(summary.as_json())
        _print_summary(summary)


def _reviewed_recipe(ctx: Context, *, push: bool, frozen: bool) -> Recipe:
    """The plan's recipe, its requirements reviewed: what would stop the build stops it here,
    before the engine is connected to."""
    from devenv.container.registry import registry_of
    from devenv.plan.lock_status import lock_status
    from devenv.steps.model import Mode
    from devenv.steps.recipe import compile_plan
    from devenv.support.preload import preload

    preload("docker")  # while the requirements review below waits on the index
    plan = ctx.plan()
    if push:
        registry_of(plan)  # no registry to push to: say so before building
    lock_status(plan, frozen=frozen)  # a stale lock stops --frozen before anything runs
    recipe = compile_plan(plan)
    recipe.review(Mode.CONTAINER)  # before connecting: the index answers meanwhile (preload)
    return recipe


def _print_summary(summary: BuildSummary) -> None:
    """Each image (pulled, current or built, and its tag), what was pushed, why steps re-ran,
    and the step counts."""
    for target, ref in summary.images.items():
        came = summary.pulled.get(target)
        how = f", pulled from {came}" if came else ""
        how = ", current" if target in summary.current else how
        click.echo(f"{target}: {ref} (tag {summary.tags.get(target, '?')}{how})")
    for ref in summary.pushed:
        click.echo(f"pushed {ref}")
    for line in summary.why():
        click.echo(line)
    click.echo(
        f"{summary.steps_total} steps, {summary.steps_cached} cached, {summary.seconds:.1f}s"
    )
