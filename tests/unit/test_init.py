"""`devenv init` on the layouts real projects have: which requirements it chooses, what it says,
and a plan that loads as written (so `devenv plan` works right after)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from devenv.cli import cli
from devenv.plan.init import MAX_SUBFOLDERS, choose_requirements, init_plan
from devenv.plan.model import load_plan
from tests.conftest import REQUIREMENTS

APP = "fastapi==0.115.6\nasyncpg==0.30.0\npgvector==0.3.6\n"

# layout (path -> text) -> the file init chooses (None: none)
LAYOUTS: dict[str, tuple[dict[str, str], str | None]] = {
    "plain": ({"requirements.txt": APP}, "requirements.txt"),
    "a dev file includes the app's": (
        {"requirements.txt": APP, "requirements-dev.txt": "-r requirements.txt\npytest\n"},
        "requirements.txt",
    ),
    "only a dev file, which includes src/backend's": (  # Azure-Samples/rag-postgres-openai-python
        {
            "requirements-dev.txt": "-r src/backend/requirements.txt\npytest\n",
            "src/backend/requirements.txt": APP,
        },
        "src/backend/requirements.txt",
    ),
    "only a dev file, which includes one elsewhere": (
        {"requirements-dev.txt": "-r deps/app.txt\nruff\n", "deps/app.txt": APP},
        "deps/app.txt",
    ),
    "requirements.lite.txt": ({"requirements.lite.txt": APP}, "requirements.lite.txt"),
    "requirements_prod.txt beside test and docs sets": (
        {
            "requirements_prod.txt": APP,
            "requirements-test.txt": "pytest\n",
            "requirements-docs.txt": "mkdocs\n",
        },
        "requirements_prod.txt",
    ),
    "backend/": ({"backend/requirements.txt": APP}, "backend/requirements.txt"),
    "api/ with a requirements folder": (
        {"api/requirements/base.txt": APP, "api/requirements/ci.txt": "-r base.txt\ntox\n"},
        "api/requirements/base.txt",
    ),
    "cookiecutter-style requirements/": (
        {
            "requirements/base.txt": APP,
            "requirements/local.txt": "-r base.txt\npytest\n",
            "requirements/production.txt": "-r base.txt\ngunicorn\n",
        },
        "requirements/production.txt",  # the application's whole set: base and what it adds
    ),
    "the root before a sub-folder": (
        {"requirements.txt": APP, "server/requirements.txt": "flask\n"},
        "requirements.txt",
    ),
    "only a dev set": ({"requirements-dev.txt": "pytest\n"}, "requirements-dev.txt"),
    "none": ({"README.md": "hello\n"}, None),
    "node_modules and .venv are not searched": (
        {
            "src/node_modules/requirements.txt": APP,
            "src/.venv/requirements.txt": APP,
            ".venv/requirements.txt": APP,
        },
        None,
    ),
    "an editable install can't be the plan's": ({"requirements.txt": "-e .\n"}, None),
}


def make_layout(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(exist_ok=True)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def init(root: Path) -> str:
    result = CliRunner().invoke(cli, ["-C", str(root), "init"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_init_chooses_the_applications_requirements(tmp_path: Path, layout: str) -> None:
    files, expected = LAYOUTS[layout]
    root = make_layout(tmp_path / "proj", files)
    out = init(root)
    plan = load_plan(root)  # what `devenv plan` loads: the plan init wrote is valid as written
    assert plan.python.requirements == ((expected,) if expected else ())
    if expected:
        assert f"requirements: {expected} (" in out
    else:
        assert "the plan installs none" in out and plan.python.smoke == ()
    seen = [f for f in files if f.endswith(".txt") and "node_modules" not in f and ".venv" not in f]
    for other in set(seen) - {expected}:
        assert f"also found {other}: " in out
    assert ("edit [python] requirements in devenv.toml" in out) is bool(seen)


def test_init_says_why_and_what_it_left_out(tmp_path: Path) -> None:
    root = make_layout(
        tmp_path / "proj", LAYOUTS["only a dev file, which includes src/backend's"][0]
    )
    out = init(root).splitlines()
    assert out[1:5] == [
        "requirements: src/backend/requirements.txt (requirements-dev.txt includes it)",
        "  also found requirements-dev.txt: left out: a dev set",
        "  to change it: edit [python] requirements in devenv.toml",
        "smoke (derived from requirements): fastapi, asyncpg, pgvector.asyncpg",
    ]
    text = (root / "devenv.toml").read_text()
    assert "# chosen by devenv init (requirements-dev.txt includes it); also found: " in text
    assert "\n# smoke = " in text and "derived from the" in text  # commented: the default


def test_a_file_that_cant_be_the_plans_is_named_with_the_reason(tmp_path: Path) -> None:
    root = make_layout(
        tmp_path / "proj", {"requirements.txt": "-e .\n", "app/requirements.txt": APP}
    )
    out = init(root)
    assert "requirements: app/requirements.txt" in out
    assert "also found requirements.txt: can't be the plan's: requirements.txt:1: local and" in out
    assert load_plan(root).python.requirements == ("app/requirements.txt",)


def test_index_options_are_allowed_when_the_chosen_file_has_them(tmp_path: Path) -> None:
    text = "--extra-index-url https://packages.example/simple\nfastapi\n"
    root = make_layout(tmp_path / "proj", {"requirements.txt": text})
    assert "allow_index_options = true" in init(root)
    plan = load_plan(root)
    assert plan.python.allow_index_options and plan.python.requirements == ("requirements.txt",)


def test_no_requirements_found(tmp_path: Path) -> None:
    root = make_layout(tmp_path / "proj", {})
    out = init(root)
    assert "requirements: none found; the plan installs none" in out
    assert "smoke" not in out
    assert "\nrequirements = []\n" in (root / "devenv.toml").read_text()


def test_the_search_is_bounded(tmp_path: Path) -> None:
    files = {f"src/pkg{n:03}/requirements.txt": "fastapi\n" for n in range(MAX_SUBFOLDERS + 10)}
    root = make_layout(tmp_path / "proj", files)
    choice, _ = choose_requirements(root)
    assert len(choice.candidates) == MAX_SUBFOLDERS
    assert choice.chosen == "src/pkg000/requirements.txt"


def test_plan_runs_right_after_init(tmp_path: Path) -> None:
    root = make_layout(
        tmp_path / "proj",
        {"requirements-dev.txt": "-r requirements.txt\npytest\n", "requirements.txt": REQUIREMENTS},
    )
    init(root)
    result = CliRunner().invoke(cli, ["-C", str(root), "plan"])
    assert result.exit_code == 0, result.output
    assert "smoke (derived from requirements)" in result.output
    assert "Import fastapi, sqlalchemy, psycopg, pgvector.psycopg, pgvector.sqlalchemy" in (
        result.output
    )


# -- the file init writes, byte for byte -----------------------------------------------------

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "init"
PROJECTS = Path(__file__).resolve().parents[1] / "projects"


def pyproject(requires: str) -> dict[str, str]:
    return {
        "pyproject.toml": '[project]\nname = "app"\nversion = "0"\n'
        f'requires-python = "{requires}"\n'
        'dependencies = ["fastapi==0.115.6"]\n'
    }


def locked(template: str, lock: str, into: str) -> dict[str, str]:
    source = PROJECTS / template / "backend"
    return {f"{into}/{name}": (source / name).read_text() for name in ("pyproject.toml", lock)}


# case -> the files init finds. Each is what init detects today: keep its plan byte-identical.
WRITTEN: dict[str, dict[str, str]] = {
    "default": {},
    "requirements": {"requirements.txt": APP},
    "requirements-chosen-among-others": LAYOUTS["a dev file includes the app's"][0],
    "requirements-none-loads": {"requirements.txt": "-e .\n"},
    "index-options": {
        "requirements.txt": "--extra-index-url https://packages.example/simple\nfastapi\n"
    },
    "uv-project-backend": locked("fastapi-template-uv", "uv.lock", "backend"),
    "poetry-project-root": locked("fastapi-template-poetry", "poetry.lock", "."),
    "pyproject-dependencies": pyproject(">=3.10"),
    "base-debian-13": pyproject(">=3.13"),
    "base-debian-12-pgdg": pyproject("~3.11"),
    "base-ubuntu-22.04-pgdg": pyproject("<3.11"),
}


@pytest.mark.parametrize("case", sorted(WRITTEN))
def test_the_plan_init_writes(tmp_path: Path, case: str) -> None:
    """Set DEVENV_UPDATE_GOLDEN=1 to rewrite tests/golden/init after an intended change."""
    root = make_layout(tmp_path / "proj", WRITTEN[case])
    text = init_plan(root).path.read_text()
    golden = GOLDEN / f"{case}.toml"
    if os.environ.get("DEVENV_UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()
    load_plan(root)  # and it loads as written
