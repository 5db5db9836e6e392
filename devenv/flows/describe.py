"""`devenv plan`: the compiled steps as data (for --json) and as text."""

from __future__ import annotations

from typing import Any

from devenv.host.execute import Executor
from devenv.plan import local as local_plan
from devenv.plan.model import Plan, Target
from devenv.steps.model import Command, Mode, Place, Role, Step
from devenv.steps.recipe import Recipe, compile_plan

# The local cluster's role and database are made as the postgres user.
_AS_POSTGRES = (Role.CREATE_ROLE, Role.CREATE_DATABASE)


def describe_steps(plan: Plan, mode: str) -> dict[str, Any]:
    modes = [Mode.CONTAINER, Mode.HOST] if mode == "both" else [Mode(mode)]
    team = compile_plan(plan)
    env = plan.environment
    data: dict[str, Any] = {
        "name": env.name,
        "base": env.base,
        "release": f"{env.release.distro} {env.release.version} ({env.release.codename})",
        "postgres": {
            "version": plan.postgres.version,
            "source": plan.postgres.source,
            "extensions": list(plan.postgres.extensions),
        },
        "digest": team.fingerprint(Target.DEV),
        "tasks": list(plan.tasks.setup),
        "env": {"files": [".env (if present)", *plan.env.files], "vars": dict(plan.env.vars)},
        "local": local_plan.describe(plan.local),
    }
    personal = plan.personal()  # the steps as they run on this machine
    recipe = team if personal is plan else compile_plan(personal)
    # Host commands are shown as host-install runs them for this user (sudo -n when not root).
    executor = Executor(echo=lambda _: None, dry_run=True)
    places = {Place.USER: executor.user}
    for m in modes:
        data[m.value] = [
            {
                "id": s.id,
                "phase": s.phase.value,
                "title": s.title,
                "scope": s.scope.value,
                "root": s.root,
                "at_build": s.at_build,
                "notes": list(s.notes),
                "commands": [_shown(executor, s, c, m) for c in s.commands_for(m)],
            }
            for s in recipe.steps(m, places)
        ]
    if Mode.CONTAINER in modes:
        data["images"] = _images(recipe)
    return data


def _shown(executor: Executor, step: Step, command: Command, mode: Mode) -> str:
    if mode is Mode.CONTAINER or not step.root:
        return command.display()
    if command.role in _AS_POSTGRES:
        return executor.as_postgres(command.argv).display()
    return executor.as_root(command).display()


def _images(recipe: Recipe) -> dict[str, Any]:
    """Each Dockerfile stage: what it starts from, its user, its settings (ENV, ENTRYPOINT...)."""
    return {
        stage.name: {
            "from": stage.parent,
            "user": stage.user or "root",
            "settings": [s.line() for s in (*stage.before, *stage.after)],
        }
        for stage in recipe.stages
    }


def steps_text(data: dict[str, Any]) -> str:
    lines = [
        f"{data['name']}: {data['base']} — {data['release']}, PostgreSQL "
        f"{data['postgres']['version']} ({data['postgres']['source']}) with "
        f"{', '.join(data['postgres']['extensions'])}"
    ]
    for mode in ("container", "host"):
        if mode not in data:
            continue
        lines.append(f"\n== {mode} ==")
        phase = None
        for n, step in enumerate(data[mode], start=1):
            if step["phase"] != phase:
                phase = step["phase"]
                lines.append(f"\n[{phase}]")
            where = {"db": " (db)", "base": "", "dev": ""}[step["scope"]]
            when = "" if step["at_build"] else " (needs a running database)"
            lines.append(f"{n:2}. {step['title']}{where}{when}")
            lines += [f"      note: {note}" for note in step["notes"]]
            lines += [f"      + {cmd}" for cmd in step["commands"]]
    if "images" in data:
        lines.append("\n[image settings] (besides the steps' RUN and COPY)")
        for name, stage in data["images"].items():
            lines.append(f"{name}: FROM {stage['from']}, user {stage['user']}")
            lines += [f"      {setting}" for setting in stage["settings"]]
    if data["tasks"]:
        lines.append("\n[setup tasks] (after up, in VS Code on start, host-install --with-db)")
        lines += [f"{n:2}. {task}" for n, task in enumerate(data["tasks"], start=1)]
    env = data["env"]
    lines.append(f"\nenv files, later wins: {', '.join(env['files'])}; then [env] vars "
                 f"({', '.join(env['vars']) or 'none'}); then DATABASE_URL/PG*")  # fmt: skip
    if data["local"]:
        lines += ["", *data["local"]]
    return "\n".join(lines)
