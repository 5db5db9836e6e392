"""docker/Dockerfile: three stages from the container step list.

`base` holds what both images share (the host's extra CA certificates, which each image's
apt step trusts as it installs ca-certificates; the PGDG repository); `db` and `dev` follow.
Steps are rendered in order, one RUN each, so the layer cache follows the step list: system
packages first, then only the requirements files and the Python install. The workspace is
never copied: compose mounts it. The classic builder must work (no BuildKit syntax).
"""

from __future__ import annotations

import json

from devenv.steps.model import Command, Kind, Mode, Step
from devenv.steps.recipe import Recipe, Setting, Stage

# hadolint rules we waive, each with the reason written next to it in the output.
_APT_UNPINNED = (
    "DL3008",
    "apt versions are pinned by devenv.lock when the project has one (`devenv lock`)",
)
_PIP_UNPINNED = ("DL3013", "the installer itself is upgraded on purpose; requirements are pinned")


def render_dockerfile(recipe: Recipe) -> str:
    out: list[str] = []
    for n, stage in enumerate(recipe.stages):
        last = n == len(recipe.stages) - 1
        out += [f"FROM {stage.parent} AS {stage.name}", ""]
        out += _settings(stage.before, last=False)
        out += _steps(recipe.stage_steps(stage), stage)
        out += _settings(stage.after, last=last)
    return "\n".join(out).rstrip("\n") + "\n"


def _settings(settings: tuple[Setting, ...], *, last: bool) -> list[str]:
    if not settings:
        return []
    return [s.line() for s in settings] + ([] if last else [""])


def _steps(steps: tuple[Step, ...], stage: Stage) -> list[str]:
    out: list[str] = []
    user = stage.user
    current = "root"
    for group in _layers(steps, user):
        wanted = _user_of(group[0], user)
        if wanted != current:
            out.append(f"USER {wanted}")
            current = wanted
        for step in group:
            out.append(f"# {step.phase.value}: {step.title}")
            out += [f"# {note}" for note in step.notes]
        for step in group:
            for source, dest in step.copies:
                chown = f"--chown={user}:{user} " if not step.root and user else ""
                out.append(f"COPY {chown}{_copy_args(source, dest)}")
        waived = list(dict.fromkeys(w for step in group for w in _waivers(step)))
        for rule, why in waived:
            out.append(f"# {rule}: {why}")
        if waived:
            out.append(f"# hadolint ignore={','.join(rule for rule, _ in waived)}")
        out += _runs([c for step in group for c in step.commands_for(Mode.CONTAINER)])
        out.append("")
    return out


def _runs(commands: list[Command]) -> list[str]:
    """RUN lines for a layer's commands: joined with && in the shell form, except a command
    carrying a program (an argument with line breaks), which the shell form cannot hold: it gets
    a RUN of its own in the exec form, whose JSON keeps every byte (no shell, no expansion)."""
    out: list[str] = []
    shell: list[str] = []
    for command in commands:
        if not any("\n" in arg for arg in command.argv):
            shell.append(command.display())
            continue
        if shell:
            out.append("RUN " + " \\\n && ".join(shell))
            shell = []
        env = ("env", *(f"{k}={v}" for k, v in command.env)) if command.env else ()
        out.append("RUN " + json.dumps([*env, *command.argv]))
    if shell:  # a step may have none (it only copies: the host's CA certificates)
        out.append("RUN " + " \\\n && ".join(shell))
    return out


_VENV_AND_INSTALLERS = (Kind.PIP_BOOTSTRAP, Kind.VENV)


def _user_of(step: Step, user: str | None) -> str:
    return "root" if step.root or user is None else user


def _layers(steps: tuple[Step, ...], user: str | None) -> list[list[Step]]:
    """One RUN per step, except where a layer of its own buys nothing: each costs a container
    and a commit. Checks (which change nothing) run in the layer of the step before them (on
    a requirements edit they re-run anyway), and the installers' upgrade in the layer that
    makes the venv (neither is ever cached without the other)."""
    layers: list[list[Step]] = []
    for step in steps:
        previous = layers[-1][-1] if layers else None
        if (
            previous is not None
            and (step.kind is Kind.CHECK or (step.kind, previous.kind) == _VENV_AND_INSTALLERS)
            and not step.copies
            and _user_of(step, user) == _user_of(previous, user)
        ):
            layers[-1].append(step)
        else:
            layers.append([step])
    return layers


def _copy_args(source: str, dest: str) -> str:
    """`src dest`, or the JSON form when a path has a space (the plain form would read it as
    two paths). The plan's grammar already keeps out flags, variables and globs."""
    if " " in source or " " in dest:
        return json.dumps([source, dest])
    return f"{source} {dest}"


def _waivers(step: Step) -> list[tuple[str, str]]:
    if step.kind is Kind.APT and any("=" not in p for p in step.packages):
        return [_APT_UNPINNED]
    if step.kind is Kind.PIP_BOOTSTRAP:
        return [_PIP_UNPINNED]
    return []
