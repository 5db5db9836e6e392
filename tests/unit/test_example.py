"""examples/backend is a devenv project as a user has it: its generated files are committed,
so VS Code opens it straight away. They must stay what its plan gives."""

from __future__ import annotations

from pathlib import Path

from devenv.fs import atomic as output
from devenv.plan.model import load_plan
from devenv.render.files import render_all
from devenv.steps.recipe import compile_plan

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "backend"


def test_the_example_backends_generated_files_are_current() -> None:
    """On failure: `devenv -C examples/backend generate`, then review and commit the diff."""
    plan = load_plan(EXAMPLE)
    assert plan.environment.base == "ubuntu:24.04" and plan.postgres.version == 16  # the default
    output.check(EXAMPLE, render_all(compile_plan(plan)))
