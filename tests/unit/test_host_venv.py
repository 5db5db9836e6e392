"""Venv generations: the stamp, who owns the venv path, keep / reuse / build, the switch."""

from __future__ import annotations

import os
from pathlib import Path

from devenv.host import venv as host_venv
from devenv.host.venv import Action, Ownership
from devenv.plan.model import Plan, load_plan
from tests.conftest import MakeProject

PYTHON = ("/usr/bin/python3.13", "Python 3.13.5")


def plan_of(make_project: MakeProject, toml: str = "") -> Plan:
    return load_plan(make_project(toml))


def build(plan: Plan, *, recreate: bool = False) -> host_venv.Decision:
    """What host-install does around the venv commands, with a stand-in venv."""
    state = host_venv.inspect(plan)
    stamp = host_venv.compute_stamp(plan, PYTHON)
    decision = host_venv.decide(plan, state, stamp, recreate=recreate)
    if decision.action is Action.BUILD:
        host_venv.start_generation(decision, stamp)
        python = decision.venv(state) / "bin" / "python"
        python.parent.mkdir(parents=True)
        python.touch()
    if decision.action is not Action.KEEP:
        host_venv.activate(plan, state, decision, stamp)
    return decision


def test_the_stamp_follows_requirements_installer_and_python(make_project: MakeProject) -> None:
    plan = plan_of(make_project)
    stamp = host_venv.compute_stamp(plan, PYTHON).digest
    assert host_venv.compute_stamp(plan, PYTHON).digest == stamp
    assert host_venv.compute_stamp(plan, ("/usr/bin/python3.13", "Python 3.13.6")).digest != stamp
    (plan.project_dir / "requirements.txt").write_text("httpx\n")
    assert host_venv.compute_stamp(plan, PYTHON).digest != stamp
    uv = plan_of(make_project, "[python]\ninstaller = 'uv'\n")
    assert host_venv.compute_stamp(uv, PYTHON).inputs["installer"] == "uv"


def test_ownership(make_project: MakeProject, tmp_path: Path) -> None:
    plan = plan_of(make_project)
    link = plan.project_dir / ".venv"
    assert host_venv.inspect(plan).ownership is Ownership.ABSENT
    link.mkdir()
    assert host_venv.inspect(plan).ownership is Ownership.ABSENT  # an empty folder
    (link / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert host_venv.inspect(plan).ownership is Ownership.FOREIGN
    assert host_venv.foreign_problem(host_venv.inspect(plan)) is not None
    (link / "pyvenv.cfg").unlink()
    link.rmdir()
    link.symlink_to(tmp_path)
    assert host_venv.inspect(plan).ownership is Ownership.FOREIGN
    link.unlink()
    build(plan)
    state = host_venv.inspect(plan)
    assert state.ownership is Ownership.OURS and state.complete_stamp is not None
    assert host_venv.foreign_problem(state) is None


def test_keep_reuse_build(make_project: MakeProject) -> None:
    plan = plan_of(make_project)
    first = build(plan)
    assert first.action is Action.BUILD and first.generation.name.endswith("-1")
    assert build(plan).action is Action.KEEP
    again = build(plan, recreate=True)
    assert again.action is Action.BUILD and again.generation.name.endswith("-2")
    assert again.generation.name.split("-")[0] == first.generation.name.split("-")[0]
    requirements = plan.project_dir / "requirements.txt"
    old = requirements.read_text()
    requirements.write_text("httpx\n")
    other = build(plan)
    assert other.action is Action.BUILD
    requirements.write_text(old)
    back = build(plan)
    assert back.action is Action.REUSE and back.generation == again.generation


def test_an_incomplete_generation_is_never_kept_or_reused(make_project: MakeProject) -> None:
    plan = plan_of(make_project)
    build(plan)
    state = host_venv.inspect(plan)
    stamp = host_venv.compute_stamp(plan, PYTHON)
    assert state.generation is not None
    host_venv.write_marker(state.generation, stamp, complete=False, previous=None)
    assert host_venv.decide(plan, host_venv.inspect(plan), stamp, recreate=False).action is (
        Action.BUILD
    )


def test_the_switch_is_one_relative_symlink_and_leftovers_go(make_project: MakeProject) -> None:
    plan = plan_of(make_project, "[python]\nvenv = 'envs/dev'\n")
    decision = build(plan)
    link = plan.project_dir / "envs" / "dev"
    assert os.readlink(link) == f"../.devenv/venvs/{decision.generation.name}/dev"
    (plan.project_dir / ".devenv" / "venvs" / "junk-1").mkdir()
    (link.parent / ".dev.devenv-999").symlink_to("nowhere")
    removed = host_venv.collect_garbage(plan, {decision.generation.name})
    assert removed == ("junk-1",)
    assert not os.path.lexists(link.parent / ".dev.devenv-999")
    assert host_venv.kept_names(host_venv.inspect(plan)) == {decision.generation.name}
