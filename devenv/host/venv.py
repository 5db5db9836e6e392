"""The host venv as generations: each one built in its own folder, then switched to atomically.

A venv can't be moved after creation (its scripts hold absolute paths), so host-install never
builds at the plan's venv path. It builds `.devenv/venvs/<id>/<venv name>` and, once the install
succeeded, points the plan's path (e.g. `.venv`) at it with a symlink replaced in one rename. An
install interrupted half way (Ctrl-C, kill -9, network loss) leaves the symlink — and so the
previous working venv — untouched. Each generation records the stamp of what it was built from
(requirements content, installer, Python), so an unchanged plan installs nothing.

A venv devenv did not create (a real folder, or a symlink pointing elsewhere) is never deleted
without --recreate.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from devenv.errors import HostError
from devenv.fs.atomic import atomic_write
from devenv.fs.safety import STATE_DIR, check_real_dirs, remove_tree
from devenv.host.execute import Executor
from devenv.plan.model import Plan
from devenv.steps.model import Kind, Mode
from devenv.steps.recipe import Recipe, compile_plan

VENVS_DIR = f"{STATE_DIR}/venvs"
MARKER = "devenv.json"  # in each generation folder, next to the venv


@dataclass(frozen=True, kw_only=True)
class Stamp:
    digest: str
    inputs: Mapping[str, Any]

    @property
    def short(self) -> str:
        return self.digest[:12]


class Ownership(str, enum.Enum):
    ABSENT = "absent"  # nothing there (or an empty folder)
    OURS = "ours"  # a symlink into .devenv/venvs
    FOREIGN = "foreign"  # anything else: never deleted without --recreate


class Action(str, enum.Enum):
    KEEP = "keep"  # the active generation matches the stamp
    REUSE = "reuse"  # a kept generation matches: switch to it
    BUILD = "build"  # build a new generation


@dataclass(frozen=True, kw_only=True)
class VenvState:
    link: Path  # the plan's venv path
    ownership: Ownership
    generation: Path | None  # the generation folder the link points at (ours only)
    marker: Mapping[str, Any] | None

    @property
    def complete_stamp(self) -> str | None:
        if self.generation is None or self.marker is None or not self.marker.get("complete"):
            return None
        if not (self.generation / self.link.name / "bin" / "python").exists():
            return None
        stamp = self.marker.get("stamp")
        return stamp if isinstance(stamp, str) else None


@dataclass(frozen=True, kw_only=True)
class Decision:
    action: Action
    generation: Path

    def venv(self, state: VenvState) -> Path:
        return self.generation / state.link.name


def venvs_root(plan: Plan) -> Path:
    return plan.project_dir / VENVS_DIR


def python_identity(executor: Executor) -> tuple[str, str] | None:
    """(real path, `python3 --version`) of the python3 the venv step runs, or None."""
    found = shutil.which("python3")
    if found is None:
        return None
    probe = executor.probe(("python3", "--version"))
    if probe.returncode != 0:
        return None
    return os.path.realpath(found), (probe.stdout or probe.stderr).strip()


def compute_stamp(plan: Plan, python: tuple[str, str], recipe: Recipe | None = None) -> Stamp:
    """What decides the venv's content; any change builds a new generation.

    Read from the recipe's host steps, their places unresolved (so the same whichever
    generation folder the venv goes to): the venv and install commands, and the content of
    every file those steps need (their `copies`: the requirements files, or devenv.lock when
    the project has one)."""
    recipe = recipe or compile_plan(plan)
    steps = [s for s in recipe.host if s.kind in (Kind.VENV, Kind.PIP_BOOTSTRAP, Kind.PIP_INSTALL)]
    files = dict.fromkeys(source for s in steps for source, _ in s.copies)
    inputs = {
        "project": str(plan.project_dir),  # venv scripts hold absolute paths
        "venv": plan.python.venv,
        "installer": plan.python.installer,
        "python": {"path": python[0], "version": python[1]},
        "commands": [c.display() for s in steps for c in s.commands_for(Mode.HOST)],
        "files": {
            name: hashlib.sha256((plan.project_dir / name).read_bytes()).hexdigest()
            for name in files
        },
    }
    blob = json.dumps(inputs, sort_keys=True).encode()
    return Stamp(digest=hashlib.sha256(blob).hexdigest(), inputs=inputs)


def read_marker(generation: Path) -> Mapping[str, Any] | None:
    try:
        data = json.loads((generation / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def inspect(plan: Plan) -> VenvState:
    link = plan.project_dir / plan.python.venv
    if not os.path.lexists(link) or (
        link.is_dir() and not link.is_symlink() and not any(link.iterdir())
    ):
        return VenvState(link=link, ownership=Ownership.ABSENT, generation=None, marker=None)
    if link.is_symlink():
        target = Path(os.path.realpath(link))
        root = Path(os.path.realpath(venvs_root(plan)))
        if target.parent.parent == root and target.name == link.name:
            return VenvState(
                link=link,
                ownership=Ownership.OURS,
                generation=target.parent,
                marker=read_marker(target.parent),
            )
    return VenvState(link=link, ownership=Ownership.FOREIGN, generation=None, marker=None)


def foreign_problem(state: VenvState) -> HostError | None:
    if state.ownership is not Ownership.FOREIGN:
        return None
    if state.link.is_symlink():
        what, fix = "a symlink devenv did not make", "replace the link, keeping its target"
    else:
        what, fix = "not made by devenv", "delete it and build a new venv there"
    return HostError(
        f"{state.link} exists and is {what}; nothing was changed",
        hint=f"pass --recreate to {fix}, or set [python] venv in devenv.toml to another path",
    )


def decide(plan: Plan, state: VenvState, stamp: Stamp, *, recreate: bool) -> Decision:
    if not recreate:
        if state.generation is not None and state.complete_stamp == stamp.digest:
            return Decision(action=Action.KEEP, generation=state.generation)
        # The newest matching generation: a --recreate'd one wins over the one it replaced.
        newest_first = sorted(_generations(plan), key=_finished_at, reverse=True)
        for generation in newest_first:
            marker = read_marker(generation)
            python = generation / state.link.name / "bin" / "python"
            if (
                marker
                and marker.get("complete")
                and marker.get("stamp") == stamp.digest
                and python.exists()
            ):
                return Decision(action=Action.REUSE, generation=generation)
    return Decision(action=Action.BUILD, generation=_new_generation(plan, stamp))


def start_generation(decision: Decision, stamp: Stamp) -> None:
    """Create the generation folder and mark it as devenv's, not yet complete."""
    check_real_dirs(decision.generation.parents[2], (VENVS_DIR,))
    decision.generation.mkdir(parents=True, exist_ok=False)
    write_marker(decision.generation, stamp, complete=False, previous=None)


def write_marker(generation: Path, stamp: Stamp, *, complete: bool, previous: str | None) -> None:
    data = {
        "created_by": "devenv host-install",
        "stamp": stamp.digest,
        "complete": complete,
        "previous": previous,
        "inputs": stamp.inputs,
    }
    atomic_write(generation / MARKER, json.dumps(data, indent=2, sort_keys=True) + "\n")


def activate(plan: Plan, state: VenvState, decision: Decision, stamp: Stamp) -> str:
    """Point the plan's venv path at the generation, atomically; returns what it replaced."""
    link = state.link
    # The link's folder and .devenv/ must be real folders inside the project: never write or
    # delete through a symlink.
    check_real_dirs(plan.project_dir, (str(PurePosixPath(plan.python.venv).parent), VENVS_DIR))
    if os.path.lexists(link) and not (link.is_symlink() or link.is_dir()):
        raise HostError(
            f"{link} is a file, not a venv; nothing was changed",
            hint="move that file away, or set [python] venv in devenv.toml to another path",
        )
    previous = state.generation.name if state.generation is not None else None
    write_marker(decision.generation, stamp, complete=True, previous=previous)
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.parent / f".{link.name}.devenv-{os.getpid()}"
    if os.path.lexists(tmp):
        tmp.unlink()
    os.symlink(os.path.relpath(decision.venv(state), link.parent), tmp)
    replaced = "nothing"
    trash: Path | None = None
    if link.is_dir() and not link.is_symlink():
        if any(link.iterdir()):
            # Only reached with --recreate (foreign_problem stops the run otherwise). The
            # folder is moved into .devenv/ first and deleted only there; when it can't be
            # moved (another file system), nothing is deleted.
            trash = plan.project_dir / STATE_DIR / f"replaced-{link.name}-{os.getpid()}"
            try:
                os.rename(link, trash)
            except OSError as exc:
                tmp.unlink()
                raise HostError(
                    f"can't move {link} aside into {STATE_DIR}/ ({exc.strerror}); "
                    "nothing was deleted",
                    hint=f"delete {link} yourself, then run again",
                ) from None
            replaced = f"the folder {link} (deleted, --recreate)"
        else:
            link.rmdir()
    elif state.ownership is Ownership.FOREIGN:
        replaced = f"the link {link} -> {os.readlink(link)} (its target is kept)"
    elif state.generation is not None:
        replaced = f"generation {state.generation.name} (kept for a switch back)"
    os.replace(tmp, link)
    if trash is not None:
        remove_tree(plan.project_dir, trash)
    return replaced


def collect_garbage(plan: Plan, keep: set[str]) -> tuple[str, ...]:
    """Delete generations other than `keep` (names) and leftover temporary links."""
    removed = []
    check_real_dirs(plan.project_dir, (VENVS_DIR,))
    for generation in _generations(plan, complete_only=False):
        if generation.name not in keep:
            try:
                remove_tree(plan.project_dir, generation)
            except OSError:
                continue  # still in use or not ours to delete: left for the next run
            removed.append(generation.name)
    # A folder --recreate moved aside, when that run was killed before deleting it.
    for trash in (plan.project_dir / STATE_DIR).glob("replaced-*"):
        if trash.is_dir() and not trash.is_symlink():
            remove_tree(plan.project_dir, trash)
            removed.append(trash.name)
    link = plan.project_dir / plan.python.venv
    for leftover in link.parent.glob(f".{link.name}.devenv-*"):
        if leftover.is_symlink():
            leftover.unlink()
    return tuple(removed)


def kept_names(state: VenvState) -> set[str]:
    """The active generation and the one it replaced."""
    names = set()
    if state.generation is not None:
        names.add(state.generation.name)
        previous = (state.marker or {}).get("previous")
        if isinstance(previous, str):
            names.add(previous)
    return names


def _generations(plan: Plan, *, complete_only: bool = True) -> list[Path]:
    root = venvs_root(plan)
    if not root.is_dir():
        return []
    found = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    if complete_only:
        found = [p for p in found if (read_marker(p) or {}).get("complete")]
    return found


def _finished_at(generation: Path) -> float:
    try:
        return (generation / MARKER).stat().st_mtime
    except OSError:
        return 0.0


def _new_generation(plan: Plan, stamp: Stamp) -> Path:
    root = venvs_root(plan)
    taken = {p.name for p in root.iterdir()} if root.is_dir() else set()
    n = 1
    while f"{stamp.short}-{n}" in taken:
        n += 1
    return root / f"{stamp.short}-{n}"
