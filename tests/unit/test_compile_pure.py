"""The step compiler is pure: given a plan and the requirements review its caller computed, it
opens no socket, starts no process and reads no file (issue 25)."""

from __future__ import annotations

import builtins
import io
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devenv.plan.model import Plan, load_plan
from devenv.review import source_builds
from devenv.steps.compile import compile_steps, host_only_steps
from devenv.steps.model import Mode, Place
from devenv.steps.recipe import requirements_review
from tests.conftest import MakeProject

PROJECTS = Path(__file__).resolve().parents[1] / "projects"
# Unrecorded resolutions fall back to the table: still a review, computed before the compile.
pytestmark = pytest.mark.filterwarnings("ignore:no recorded resolution:UserWarning")


class Touched(AssertionError):
    """The compiler reached for the network, a process or a file."""


def _refuse(what: str) -> object:
    def refuse(*args: object, **kwargs: object) -> None:
        raise Touched(f"{what} called with {args!r}")

    return refuse


@contextmanager
def no_io(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with monkeypatch.context() as m:
        m.setattr(socket, "socket", _refuse("socket.socket"))
        m.setattr(subprocess, "Popen", _refuse("subprocess.Popen"))
        m.setattr(builtins, "open", _refuse("open"))
        m.setattr(io, "open", _refuse("io.open"))
        m.setattr(os, "open", _refuse("os.open"))
        for name in ("open", "read_text", "read_bytes"):
            m.setattr(Path, name, _refuse(f"Path.{name}"))
        yield


def _default(make_project: MakeProject, tmp_path: Path) -> Plan:
    return load_plan(make_project())


def _extra_packages(make_project: MakeProject, tmp_path: Path) -> Plan:
    # libmagic1 has its release's name on Ubuntu 24.04 (the compiler's rename and note);
    # psycopg2 builds from source and opencv loads libGL (the review's packages and notes).
    toml = '[system]\npackages = ["libmagic1", "libpq-dev"]\n'
    return load_plan(make_project(toml, requirements="psycopg2==2.9.10\nopencv-python\n"))


def _pyproject(make_project: MakeProject, tmp_path: Path) -> Plan:
    shutil.copytree(PROJECTS / "fastapi-template-uv" / "backend", tmp_path / "backend")
    (tmp_path / "devenv.toml").write_text('[python]\nproject = "backend"\n')
    return load_plan(tmp_path)


PLANS = {"default": _default, "extra packages": _extra_packages, "pyproject": _pyproject}


@pytest.mark.parametrize("case", sorted(PLANS))
def test_compiling_touches_no_network_process_or_file(
    make_project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    plan = PLANS[case](make_project, tmp_path)
    reviews = {mode: requirements_review(plan, mode) for mode in Mode}  # the caller's part
    with no_io(monkeypatch):
        compiled = {mode: compile_steps(plan, mode, reviews[mode]) for mode in Mode}
        generation = compile_steps(plan, Mode.HOST, reviews[Mode.HOST], venv=Place.VENV.value)
        host_only = host_only_steps(plan)
    assert all(compiled.values()) and generation and host_only
    if case == "extra packages":
        step = next(s for s in compiled[Mode.HOST] if s.id == "system-packages")
        assert {"libmagic1t64", "build-essential", "libpq-dev"} <= set(step.packages)
    # The same inputs, the same steps: nothing else decides them.
    assert compiled[Mode.CONTAINER] == compile_steps(plan, Mode.CONTAINER, reviews[Mode.CONTAINER])


def test_the_patch_catches_the_review(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Honest: the review (the impure part) does trip the patch that the compile passes."""
    plan = load_plan(make_project())
    source_builds._MEMO.clear()
    with no_io(monkeypatch), pytest.raises(Touched):
        requirements_review(plan, Mode.CONTAINER)
