"""docker/Dockerfile: three stages from the container step list.

`base` holds what both images share (the host's extra CA certificates, which each image's
apt step trusts as it installs ca-certificates; the PGDG repository); `db` and `dev` follow.
Steps are rendered in order, one RUN each, so the layer cache follows the step list: system
packages first, then only the requirements files and the Python install. The workspace is
never copied: compose mounts it. The classic builder must work (no BuildKit syntax).

With `cache_mounts`, the variant BuildKit builds (never written to docker/, so VS Code and
Compose keep the classic file): apt's and the installers' downloads go to cache mounts, kept
between builds and never in a layer, instead of being removed. Docker >= 23's built-in
Dockerfile frontend knows RUN --mount, so there is no `# syntax=` line (no frontend image to
pull).
"""

from __future__ import annotations

import dataclasses
import json

from devenv.steps.model import DEV_UID, Command, Kind, Mode, Step
from devenv.steps.recipe import Recipe, Setting, Stage

# hadolint rules we waive, each with the reason written next to it in the output.
_APT_UNPINNED = (
    "DL3008",
    "apt versions are pinned by devenv.lock when the project has one (`devenv lock`)",
)
_PIP_UNPINNED = ("DL3013", "the installer itself is upgraded on purpose; requirements are pinned")

# The cache mounts of the BuildKit variant. The base image's docker-clean (as the official
# images') deletes /var/cache/apt/archives/*.deb after every dpkg run, so apt downloads into a
# folder of the mount that it does not name.
APT_CACHE = "/var/cache/apt"
APT_LISTS = "/var/lib/apt/lists"
APT_ARCHIVES = "/var/cache/apt/kept/"
PIP_CACHE = "/var/cache/devenv/pip"
UV_CACHE = "/var/cache/devenv/uv"
# What empties the caches in an image layer: pointless (and harmful) on a cache mount.
_CACHE_CLEARING = (("apt-get", "clean"), ("find", APT_LISTS, "-type", "f", "-delete"))


def render_dockerfile(recipe: Recipe, *, cache_mounts: bool = False) -> str:
    out: list[str] = []
    for n, stage in enumerate(recipe.stages):
        last = n == len(recipe.stages) - 1
        out += [f"FROM {stage.parent} AS {stage.name}", ""]
        out += _settings(stage.before, last=False)
        out += _steps(recipe.stage_steps(stage), stage, cache_mounts=cache_mounts)
        out += _settings(stage.after, last=last)
    return "\n".join(out).rstrip("\n") + "\n"


def _settings(settings: tuple[Setting, ...], *, last: bool) -> list[str]:
    if not settings:
        return []
    return [s.line() for s in settings] + ([] if last else [""])


def _steps(steps: tuple[Step, ...], stage: Stage, *, cache_mounts: bool) -> list[str]:
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
        commands = [c for step in group for c in step.commands_for(Mode.CONTAINER)]
        if cache_mounts:
            uid = 0 if wanted == "root" else DEV_UID
            out += _runs(_with_caches(commands), mounts=_mounts(commands, uid))
        else:
            out += _runs(commands)
        out.append("")
    return out


def _runs(commands: list[Command], mounts: str = "") -> list[str]:
    """RUN lines for a layer's commands: joined with && in the shell form, except a command
    carrying a program (an argument with line breaks), which the shell form cannot hold: it gets
    a RUN of its own in the exec form, whose JSON keeps every byte (no shell, no expansion).
    `mounts` (`--mount=... `) go on the shell form's RUNs: the programs are checks."""
    out: list[str] = []
    shell: list[str] = []
    for command in commands:
        if not any("\n" in arg for arg in command.argv):
            shell.append(command.display())
            continue
        if shell:
            out.append(f"RUN {mounts}" + " \\\n && ".join(shell))
            shell = []
        env = ("env", *(f"{k}={v}" for k, v in command.env)) if command.env else ()
        out.append("RUN " + json.dumps([*env, *command.argv]))
    if shell:  # a step may have none (it only copies: the host's CA certificates)
        out.append(f"RUN {mounts}" + " \\\n && ".join(shell))
    return out


def _mounts(commands: list[Command], uid: int) -> str:
    """The cache mounts a layer's commands use. apt's are locked: two builds' apt runs wait for
    each other, as they would on one machine; the installers lock their caches themselves."""
    argvs = [c.argv for c in commands]
    mounts = []
    if any(argv[0] == "apt-get" for argv in argvs):
        mounts += [f"target={APT_CACHE},sharing=locked", f"target={APT_LISTS},sharing=locked"]
    if any("--no-cache-dir" in argv for argv in argvs):
        mounts.append(f"target={PIP_CACHE},uid={uid},gid={uid}")
    if any(("UV_NO_CACHE", "1") in c.env for c in commands):
        mounts.append(f"target={UV_CACHE},uid={uid},gid={uid}")
    return "".join(f"--mount=type=cache,{m} \\\n    " for m in mounts)


def _with_caches(commands: list[Command]) -> list[Command]:
    """The commands keeping their downloads on the cache mounts instead of removing them."""
    out = []
    for command in commands:
        argv, env = command.argv, command.env
        if argv in _CACHE_CLEARING:
            continue
        if argv[0] == "apt-get":
            argv = (argv[0], "-o", f"Dir::Cache::Archives={APT_ARCHIVES}", *argv[1:])
        if "--no-cache-dir" in argv:
            at = argv.index("--no-cache-dir")
            argv = (*argv[:at], "--cache-dir", PIP_CACHE, *argv[at + 1 :])
        if ("UV_NO_CACHE", "1") in env:
            # The venv is on another file system than the mount: uv copies (and says nothing).
            rest = tuple(e for e in env if e != ("UV_NO_CACHE", "1"))
            env = (("UV_CACHE_DIR", UV_CACHE), ("UV_LINK_MODE", "copy"), *rest)
        out.append(dataclasses.replace(command, argv=argv, env=env))
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
