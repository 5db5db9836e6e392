"""pyproject.toml projects (issue 27), without an engine: the Python the project asks for against
the base's, `devenv init` on the layouts real projects have, and uv.lock / poetry.lock turned into
pins. The real locks are tests/projects/fastapi-template-{uv,poetry} (see their SOURCE.md)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from devenv.cli import cli
from devenv.plan.init import init_plan
from devenv.plan.model import load_plan
from devenv.project.project_lock import GENERATED, export, poetry_pins
from devenv.project.pyproject import python_fits, read_project
from devenv.rules import distro
from devenv.steps.compile import compile_steps
from devenv.steps.model import Mode
from devenv.steps.recipe import requirements_review

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROJECTS = Path(__file__).resolve().parents[1] / "projects"
UV = PROJECTS / "fastapi-template-uv"
POETRY = PROJECTS / "fastapi-template-poetry"


def copy(source: Path, dest: Path, into: str = "backend") -> Path:
    """A checkout holding the project's pyproject + lock in `into` (no SOURCE.md)."""
    shutil.copytree(source / "backend", dest / into)
    return dest


@pytest.mark.parametrize(
    ("spec", "python", "fits"),
    [
        (">=3.10,<4.0", "3.12", True),
        (">=3.10, <4.0", "3.10", True),
        (">=3.13", "3.12", False),
        (">= 3.11, <3.13", "3.13", False),
        ("^3.10", "3.13", True),  # Poetry: >=3.10,<4
        ("^3.10", "3.12", True),
        ("~3.11", "3.12", False),  # Poetry: >=3.11,<3.12
        ("~=3.11", "3.13", True),
        ("==3.12.*", "3.12", True),
        ("!=3.12.*", "3.12", False),
        ("<3.12.4", "3.12", True),  # Ubuntu 24.04's python3 is 3.12.3
        (">3.12 || <3.11", "3.10", True),
        (">=3.9 <3.12", "3.11", True),
        ("*", "3.10", True),
    ],
)
def test_requires_python(spec: str, python: str, fits: bool) -> None:
    assert python_fits(spec, python) is fits


def test_an_unreadable_range_is_an_error() -> None:
    with pytest.raises(ValueError, match="version range"):
        python_fits(">=three", "3.12")


def write_project(root: Path, requires: str, *, base: str | None = None) -> None:
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "app"\nversion = "0"\nrequires-python = "{requires}"\n'
        'dependencies = ["fastapi==0.115.6"]\n'
    )
    env = f'[environment]\nbase = "{base}"\n' if base else ""
    (root / "devenv.toml").write_text(f'{env}[python]\nproject = "."\n')


def test_an_impossible_python_is_one_line_exit_2_naming_both_and_what_fits(
    tmp_path: Path,
) -> None:
    write_project(tmp_path, ">=3.13")
    result = CliRunner().invoke(cli, ["-C", str(tmp_path), "plan"])
    assert result.exit_code == 2, result.output
    error = [line for line in result.output.splitlines() if line.startswith("devenv: error")]
    assert len(error) == 1, result.output
    line = error[0]
    assert "Ubuntu 24.04 (noble) gives Python 3.12" in line
    assert "requires-python '>=3.13'" in line
    assert "bases whose Python fits: debian:13 (Python 3.13)" in line
    assert "[environment] base" in line
    assert not (tmp_path / GENERATED).exists()  # nothing ran, nothing written


def test_python_version_file_is_checked_too(tmp_path: Path) -> None:
    write_project(tmp_path, ">=3.10", base="debian:13")
    (tmp_path / "devenv.toml").write_text(
        '[environment]\nbase = "debian:13"\n[postgres]\nversion = 17\n[python]\nproject = "."\n'
    )
    (tmp_path / ".python-version").write_text("3.11\n")
    result = CliRunner().invoke(cli, ["-C", str(tmp_path), "plan"])
    assert result.exit_code == 2
    assert ".python-version asks for 3.11" in result.output
    assert "debian:12 (Python 3.11)" in result.output


def test_no_base_fits_says_so(tmp_path: Path) -> None:
    write_project(tmp_path, ">=3.14")
    result = CliRunner().invoke(cli, ["-C", str(tmp_path), "plan"])
    assert result.exit_code == 2
    assert "no supported base's Python fits" in result.output


# -- devenv init on layouts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "into", "lock"),
    [
        (UV, "backend", "uv.lock"),
        (UV, "py", "uv.lock"),
        (UV, ".", "uv.lock"),
        (POETRY, "backend", "poetry.lock"),
        (POETRY, ".", "poetry.lock"),
    ],
)
def test_init_finds_the_project_and_its_lock(
    tmp_path: Path, source: Path, into: str, lock: str
) -> None:
    root = tmp_path / "checkout"
    root.mkdir()
    for name in ("pyproject.toml", lock):
        (root / into).mkdir(parents=True, exist_ok=True)
        shutil.copy(source / "backend" / name, root / into / name)
    written = init_plan(root)
    plan_text = tomllib.loads(written.path.read_text())
    assert plan_text["python"]["project"] == into
    assert plan_text["python"]["groups"] == ["dev"]
    assert plan_text["python"]["requirements"] == []
    assert plan_text["environment"]["base"] == "ubuntu:24.04"  # >=3.10: the default fits
    said = "\n".join(written.lines())
    assert f"{lock}" in said and "editable" in said
    plan = load_plan(root)  # loads as written
    assert plan.python.requirements == (GENERATED,)
    assert "fastapi" in plan.requirements.names()
    assert "pytest" in plan.requirements.names()  # the dev group
    assert (root / GENERATED).is_file()


def test_a_lock_wins_over_a_requirements_export(tmp_path: Path) -> None:
    copy(UV, tmp_path)
    (tmp_path / "requirements.txt").write_text("fastapi==0.115.6\n")
    written = init_plan(tmp_path)
    assert tomllib.loads(written.path.read_text())["python"]["project"] == "backend"


def test_without_a_lock_requirements_txt_still_wins(tmp_path: Path) -> None:
    write_project(tmp_path, ">=3.10")
    (tmp_path / "devenv.toml").unlink()
    (tmp_path / "requirements.txt").write_text("fastapi==0.115.6\n")
    plan = tomllib.loads(init_plan(tmp_path).path.read_text())
    assert "project" not in plan["python"]
    assert plan["python"]["requirements"] == ["requirements.txt"]


def test_a_pyproject_without_a_lock_installs_its_dependencies(tmp_path: Path) -> None:
    write_project(tmp_path, ">=3.10")
    (tmp_path / "devenv.toml").unlink()
    written = init_plan(tmp_path)
    assert tomllib.loads(written.path.read_text())["python"]["project"] == "."
    plan = load_plan(tmp_path)
    assert [r.specifier for r in plan.requirements.requirements] == ["==0.115.6"]
    assert "devenv lock" in (tmp_path / GENERATED).read_text()


@pytest.mark.parametrize(
    ("requires", "base", "postgres"),
    [
        (">=3.13", "debian:13", "version = 17                      # PostgreSQL major; Debian 13"),
        ("~3.11", "debian:12", 'source = "pgdg"'),
        ("<3.11", "ubuntu:22.04", 'source = "pgdg"'),
    ],
)
def test_init_picks_a_base_whose_python_fits(
    tmp_path: Path, requires: str, base: str, postgres: str
) -> None:
    write_project(tmp_path, requires)
    (tmp_path / "devenv.toml").unlink()
    written = init_plan(tmp_path)
    text = written.path.read_text()
    assert tomllib.loads(text)["environment"]["base"] == base
    assert postgres in text
    assert any(line.startswith(f"base: {base}") for line in written.lines())
    plan = load_plan(tmp_path)  # the PostgreSQL it wrote is one that base can give
    assert plan.postgres.version in distro.available(plan.environment.release, plan.postgres.source)


# -- locks to pins --------------------------------------------------------------------------


def test_uv_lock_export_is_the_locks_exact_set_with_hashes(tmp_path: Path) -> None:
    project = read_project(UV, "backend")
    main = export(UV, project, (), "3.12")
    dev = export(UV, project, ("dev",), "3.12")
    assert main.text == export(UV, project, (), "3.12").text  # deterministic
    assert "fastapi==0.115.0 \\" in main.text and "--hash=sha256:" in main.text
    assert "pytest==" not in main.text and "pytest==" in dev.text
    assert "\napp==" not in main.text  # the project itself is not in its set
    assert main.source == "backend/uv.lock"


def test_poetry_lock_2_0_is_walked_from_the_pyproject() -> None:
    main = poetry_pins(POETRY / "backend", (), "3.12")
    pins = dict(line.split(" ;")[0].split("==") for line in main.splitlines())
    assert pins["fastapi"] == "0.114.2" and pins["sqlmodel"] == "0.0.21"
    assert pins["uvicorn"] == "0.24.0.post1"  # through fastapi[standard]
    assert "uvloop" in pins  # through uvicorn[standard]
    assert "pytest" not in pins and "ruff" not in pins
    assert 'exceptiongroup==1.2.2 ; (python_version < "3.11")' in main
    assert "psycopg-binary==3.2.1" in main  # through psycopg[binary]
    dev = poetry_pins(POETRY / "backend", ("dev",), "3.12")
    assert "pytest==7.4.4" in dev and "ruff==" in dev


def test_poetry_lock_2_1_groups_and_markers(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["a"]\n')
    (tmp_path / "poetry.lock").write_text(
        '[[package]]\nname = "a"\nversion = "1.0"\ngroups = ["main"]\n\n'
        '[[package]]\nname = "b"\nversion = "2.0"\ngroups = ["main"]\n'
        'markers = "sys_platform == \\"linux\\""\n\n'
        '[[package]]\nname = "pytest"\nversion = "8.0"\ngroups = ["dev"]\n\n'
        '[metadata]\nlock-version = "2.1"\n'
    )
    assert poetry_pins(tmp_path, (), "3.12") == ('a==1.0\nb==2.0 ; sys_platform == "linux"\n')
    assert "pytest==8.0" in poetry_pins(tmp_path, ("dev",), "3.12")


def test_an_undeclared_group_is_a_plan_error(tmp_path: Path) -> None:
    copy(UV, tmp_path)
    (tmp_path / "devenv.toml").write_text('[python]\nproject = "backend"\ngroups = ["docs"]\n')
    result = CliRunner().invoke(cli, ["-C", str(tmp_path), "plan"])
    assert result.exit_code == 2
    assert "group 'docs' is not declared in backend/pyproject.toml (declared: dev)" in (
        result.output
    )


def test_the_project_is_editable_from_the_workspace_and_the_lock_installs_first(
    tmp_path: Path,
) -> None:
    copy(UV, tmp_path)
    (tmp_path / "devenv.toml").write_text('[python]\nproject = "backend"\n')
    plan = load_plan(tmp_path)
    container = {
        s.id: s
        for s in compile_steps(plan, Mode.CONTAINER, requirements_review(plan, Mode.CONTAINER))
    }
    host = {s.id: s for s in compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST))}
    pth = container["project-path"].commands[0].argv
    assert pth[-2:] == ("devenv-project.pth", "/workspace/backend")
    assert host["project-path"].commands[0].argv[-1] == str(tmp_path.resolve() / "backend")
    assert not container["project-path"].copies  # no project source enters the image
    assert container["requirements"].copies == (
        (GENERATED, f"/opt/devenv/requirements/{GENERATED}"),
    )
    ids = list(container)
    assert ids.index("project-path") < ids.index("requirements")  # a lock edit keeps it cached


def test_a_lock_edit_rewrites_the_pins_at_once(tmp_path: Path) -> None:
    copy(UV, tmp_path)
    (tmp_path / "devenv.toml").write_text('[python]\nproject = "backend"\n')
    load_plan(tmp_path)
    before = (tmp_path / GENERATED).read_text()
    lock = tmp_path / "backend" / "uv.lock"
    text = lock.read_text().replace("fastapi-0.115.0", "fastapi-0.115.1")
    lock.write_text(text.replace('version = "0.115.0"', 'version = "0.115.1"', 1))
    load_plan(tmp_path)
    after = (tmp_path / GENERATED).read_text()
    assert before != after and "fastapi==0.115.1" in after
