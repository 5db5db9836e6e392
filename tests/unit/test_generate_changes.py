"""`devenv generate` returns data (one Changed per path); its text is rendered in one place and
is what the command prints, byte for byte."""

from __future__ import annotations

from click.testing import CliRunner

from devenv.cli import cli
from devenv.files.generate import Change, Changed, Generated, generate_files
from devenv.plan.model import load_plan
from tests.conftest import MakeProject


def test_a_fresh_project_then_a_second_run(make_project: MakeProject) -> None:
    root = make_project()
    first = generate_files(load_plan(root), check=False, force=False)
    kinds = {c.path: c.change for c in first.changes}
    assert kinds["docker/Dockerfile"] is Change.CREATED
    assert kinds[".devenv/db.env"] is Change.CREATED
    assert kinds[".devenv/compose.local.yaml"] is Change.WROTE
    assert kinds[".gitignore"] is Change.UPDATED
    again = generate_files(load_plan(root), check=False, force=False)
    assert again.changed == ()
    assert again.lines(changed_only=True) == []
    assert {c.change for c in again.changes} == {Change.UNCHANGED}
    checked = generate_files(load_plan(root), check=True, force=False)
    assert checked.checked and checked.changed == ()
    assert checked.lines() == [f"{len(again.changes)} generated files are current"]
    assert checked.lines(changed_only=True) == []


def test_an_update_is_the_only_changed_entry(make_project: MakeProject) -> None:
    root = make_project()
    generate_files(load_plan(root), check=False, force=False)
    plan = (root / "devenv.toml").read_text()
    (root / "devenv.toml").write_text(plan + '\n[system]\npackages = ["jq"]\n')
    result = generate_files(load_plan(root), check=False, force=False)
    assert [(c.path, c.change) for c in result.changed] == [("docker/Dockerfile", Change.UPDATED)]


def test_the_printed_text_is_the_rendered_value(make_project: MakeProject) -> None:
    root = make_project()
    printed = CliRunner().invoke(cli, ["-C", str(root), "generate"])
    assert printed.exit_code == 0, printed.output
    lines = printed.output.splitlines()
    assert "created   docker/Dockerfile" in lines
    assert "created   .devenv/db.env (database password, git-ignored)" in lines
    again = CliRunner().invoke(cli, ["-C", str(root), "generate"])
    expected = generate_files(load_plan(root), check=False, force=False).lines()
    assert again.output.splitlines() == expected


def test_line_forms() -> None:
    assert Changed(path="a/b", change=Change.UNCHANGED).line() == "unchanged a/b"
    assert Changed(path=".gitignore", change=Change.UPDATED, note="+ x").line() == (
        "updated   .gitignore (+ x)"
    )
    synced = Changed(path="docker/certs", change=Change.SYNCED, note="1 written, 0 removed")
    assert synced.line() == "synced    docker/certs: 1 written, 0 removed"
    result = Generated(changes=(synced, Changed(path="x", change=Change.UNCHANGED)))
    assert result.lines(changed_only=True) == [synced.line()]
