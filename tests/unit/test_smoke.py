"""The smoke imports: derived from what the requirements name, and a failure that names the
module and the requirement expected to provide it (the program runs for real here)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from devenv.container.build import Progress, TargetResult, read_stream
from devenv.errors import BuildError
from devenv.flows.host_install import _smoke as host_diagnosis
from devenv.plan.lock_status import lock_inputs
from devenv.plan.lockfile import Lock, render_lock
from devenv.plan.model import load_plan
from devenv.project import smoke
from devenv.project.requirements import RequirementsSet, read_requirements
from devenv.render.dockerfile import render_dockerfile
from devenv.steps.compile import compile_steps
from devenv.steps.model import Mode
from devenv.steps.recipe import compile_plan, requirements_review
from tests.conftest import MakeProject

CASES = {
    "asyncpg only": ("fastapi==0.115.6\nasyncpg==0.30.0\n", ("fastapi", "asyncpg")),
    "psycopg2 from source, pgvector 0.2": (
        "psycopg2==2.9.9\npgvector==0.2.5\n",
        ("psycopg2", "pgvector.psycopg2"),
    ),
    "psycopg 3 + numpy + pgvector 0.4": (
        "psycopg[binary]==3.2.3\nnumpy==2.1.3\npgvector==0.4.1\n",
        ("psycopg", "numpy", "pgvector.psycopg"),
    ),
    "sqlalchemy + asyncpg + pgvector": (
        "SQLAlchemy[asyncio]==2.0.36\nasyncpg==0.30.0\npgvector==0.3.6\n",
        ("sqlalchemy", "asyncpg", "pgvector.asyncpg", "pgvector.sqlalchemy"),
    ),
    "sqlmodel brings sqlalchemy": (
        "sqlmodel==0.0.16\npsycopg2-binary==2.9.9\npgvector\n",
        ("sqlmodel", "psycopg2", "pgvector.psycopg2", "pgvector.sqlalchemy"),
    ),
    "a driver from a dialect extra": (
        "sqlalchemy[postgresql_asyncpg]>=2\npgvector\n",
        ("sqlalchemy", "asyncpg", "pgvector.asyncpg", "pgvector.sqlalchemy"),
    ),
    "django needs a driver for pgvector.django": (
        "Django==5.1\npsycopg[binary]\npgvector==0.3.6\n",
        ("django", "psycopg", "pgvector.psycopg", "pgvector.django"),
    ),
    "run-time libraries by their import names": (
        "python-magic==0.4.27\nopencv-python-headless==4.9.0.80\nPillow>=10\n",
        ("magic", "cv2", "PIL"),
    ),
    "pgvector with no driver": ("pgvector==0.3.6\nrequests\n", ("pgvector",)),
    "nothing devenv knows": ("requests==2.32.3\nopenai==1.58.1\n", ()),
}


def requirements_of(root: Path, text: str, name: str = "requirements.txt") -> RequirementsSet:
    (root / name).write_text(text)
    return read_requirements(root, (name,), allow_index_options=False)


@pytest.mark.parametrize("case", sorted(CASES))
def test_derived_from_what_the_requirements_name(tmp_path: Path, case: str) -> None:
    text, expected = CASES[case]
    assert smoke.derive(requirements_of(tmp_path, text)) == expected


@pytest.mark.parametrize(
    ("pin", "has_psycopg", "has_pg8000"),
    [
        ("==0.1.2", False, False),  # pgvector.psycopg came in 0.1.4 (0.1.3 had psycopg3)
        ("==0.1.4", True, False),
        ("<0.1.4", False, False),
        ("~=0.1.0", True, False),  # at most 0.1.x: no pg8000 module (0.4.0)
        (">=0.2,<0.4", True, False),
        ("==0.4.1", True, True),
        (">=0.3", True, True),  # the newest has every module
        ("", True, True),
    ],
)
def test_only_the_modules_that_pgvector_version_has(
    tmp_path: Path, pin: str, has_psycopg: bool, has_pg8000: bool
) -> None:
    derived = smoke.derive(requirements_of(tmp_path, f"psycopg\npg8000\npgvector{pin}\n"))
    assert ("pgvector.psycopg" in derived) is has_psycopg
    assert ("pgvector.pg8000" in derived) is has_pg8000


def test_markers_and_constraints_install_nothing_for_sure(tmp_path: Path) -> None:
    (tmp_path / "constraints.txt").write_text("asyncpg==0.30.0\nfastapi==0.115.6\n")
    text = '-c constraints.txt\npgvector\npsycopg2; sys_platform == "win32"\n'
    reqs = requirements_of(tmp_path, text)
    assert smoke.derive(reqs) == ("pgvector",)
    # The lock says what is installed: markers decided, transitive drivers included.
    pins = {"pgvector": "0.3.6", "psycopg2": "2.9.9", "asyncpg": "0.30.0", "numpy": "2.1.3"}
    assert smoke.derive(reqs, pins) == ("pgvector.psycopg2", "pgvector.asyncpg", "psycopg2")
    # ... and its pgvector version decides which modules exist.
    assert smoke.derive(requirements_of(tmp_path, "psycopg\npgvector\n"), {
        "psycopg": "3.2.3", "pgvector": "0.1.2"
    }) == ("psycopg", "pgvector")  # fmt: skip


def test_each_module_names_the_requirement_that_provides_it(tmp_path: Path) -> None:
    reqs = requirements_of(
        tmp_path, "pgvector==0.3.6\nsqlalchemy[postgresql-asyncpg]>=2.0,<3\nopencv-python\n"
    )
    assert smoke.arguments(("pgvector.asyncpg", "asyncpg", "cv2", "app"), reqs) == (
        "pgvector.asyncpg=pgvector==0.3.6 in requirements.txt",
        "asyncpg=sqlalchemy[postgresql-asyncpg]>=2.0,<3 in requirements.txt",
        "cv2=opencv-python in requirements.txt",
        "app",
    )
    pins = {"pgvector": "0.3.6", "opencv-python": "4.10.0.84"}
    assert smoke.arguments(("cv2",), reqs, pins) == (
        "cv2=opencv-python in requirements.txt, 4.10.0.84 in devenv.lock",
    )


def test_the_plan_derives_it_and_says_so(make_project: MakeProject) -> None:
    plan = load_plan(make_project())  # fastapi, sqlalchemy, psycopg[binary], pgvector 0.3.6
    derived = ("fastapi", "sqlalchemy", "psycopg", "pgvector.psycopg", "pgvector.sqlalchemy")
    assert plan.python.smoke == derived and plan.python.smoke_derived
    step = {
        s.id: s
        for s in compile_steps(plan, Mode.CONTAINER, requirements_review(plan, Mode.CONTAINER))
    }["smoke-imports"]
    assert step.title == f"Import {', '.join(derived)}"
    assert any(n.startswith("smoke (derived from requirements)") for n in step.notes)


def test_an_explicit_list_is_used_as_written(make_project: MakeProject) -> None:
    plan = load_plan(make_project("[python]\nsmoke = ['app', 'pgvector.psycopg']\n"))
    assert plan.python.smoke == ("app", "pgvector.psycopg") and not plan.python.smoke_derived
    step = {s.id: s for s in compile_steps(plan, Mode.HOST, requirements_review(plan, Mode.HOST))}[
        "smoke-imports"
    ]
    assert step.notes == ()
    assert step.commands[0].argv[1:] == (
        "-c",
        smoke.PROGRAM,
        "app",
        "pgvector.psycopg=pgvector==0.3.6 in requirements.txt",
    )
    empty = load_plan(make_project("[python]\nsmoke = []\n", name="none"))
    assert "smoke-imports" not in {
        s.id for s in compile_steps(empty, Mode.HOST, requirements_review(empty, Mode.HOST))
    }


def test_a_derived_list_is_no_input_of_the_lock(make_project: MakeProject) -> None:
    """It follows the lock (its pins decide it), so it can't make the lock stale."""
    root = make_project("", "pgvector\npsycopg[binary]\n")
    plan = load_plan(root)
    lock = Lock(inputs=(), base=(), python="3.12", apt=(), requirements="asyncpg==0.30.0\n")
    (root / "devenv.lock").write_text(render_lock(lock))
    locked = load_plan(root)
    assert locked.python.smoke != plan.python.smoke  # the lock has no pgvector or psycopg
    assert lock_inputs(locked) == lock_inputs(plan)
    explicit = dataclasses.replace(plan.python, smoke=("x",), smoke_derived=False)
    assert lock_inputs(dataclasses.replace(plan, python=explicit)) != lock_inputs(plan)


# -- the program, run for real ------------------------------------------------------------------


def python3() -> str:
    path = shutil.which("python3")
    assert path, "python3 is not on PATH"
    return path


def test_a_failing_import_names_the_module_and_the_requirement(tmp_path: Path) -> None:
    # A package whose submodule needs a driver that is not installed: pgvector.asyncpg's shape.
    (tmp_path / "vecpkg").mkdir()
    (tmp_path / "vecpkg" / "__init__.py").write_text("")
    (tmp_path / "vecpkg" / "drv.py").write_text("import devenv_no_such_driver\n")
    args = ("json", "vecpkg.drv=vecpkg==0.3.6 in requirements.txt", "devenv_no_such_module")
    result = subprocess.run(
        [python3(), "-c", smoke.PROGRAM, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "import vecpkg.drv failed: ModuleNotFoundError: No module named "
        "'devenv_no_such_driver' (expected from requirement vecpkg==0.3.6 in requirements.txt)",
        "import devenv_no_such_module failed: ModuleNotFoundError: No module named "
        "'devenv_no_such_module'",
    ]
    assert smoke.failures(result.stderr.splitlines()) == tuple(result.stderr.splitlines())
    passing = subprocess.run(
        [python3(), "-c", smoke.PROGRAM, "json", "os.path=nothing in requirements.txt"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (passing.returncode, passing.stdout, passing.stderr) == (0, "", "")


def test_the_step_runs_as_the_dockerfile_carries_it(
    make_project: MakeProject, tmp_path: Path
) -> None:
    """The Dockerfile carries the program in an exec-form RUN: the same argv, byte for byte."""
    plan = load_plan(make_project("[python]\nsmoke = ['json', 'fastapi']\n"))
    step = {
        s.id: s
        for s in compile_steps(plan, Mode.CONTAINER, requirements_review(plan, Mode.CONTAINER))
    }["smoke-imports"]
    (command,) = step.commands
    run = next(
        line
        for line in render_dockerfile(compile_plan(plan)).splitlines()
        if line.startswith("RUN [") and "importlib.import_module" in line
    )
    argv = json.loads(run[len("RUN ") :])
    assert argv == list(command.argv)
    argv[0] = python3()
    # A fastapi here (first on sys.path) that needs what is not installed.
    (tmp_path / "fastapi").mkdir()
    (tmp_path / "fastapi" / "__init__.py").write_text("import devenv_no_such_dependency\n")
    result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "import fastapi failed: ModuleNotFoundError: No module named "
        "'devenv_no_such_dependency' (expected from requirement fastapi==0.115.6 in "
        "requirements.txt)"
    )


def test_host_install_says_which_import_failed() -> None:
    lines = ["+ something", "import x.y failed: ImportError: boom (expected from requirement x)"]
    message, hint = host_diagnosis(lines) or ("", "")
    assert message == lines[1] and "[python] smoke" in hint
    assert host_diagnosis(["Traceback (most recent call last):"]) is None


def test_a_build_says_which_import_failed_not_the_program() -> None:
    said = (
        "import pgvector.psycopg failed: ModuleNotFoundError: No module named 'psycopg' "
        "(expected from requirement pgvector==0.3.6 in requirements.txt)"
    )
    program = json.dumps(["python", "-c", smoke.PROGRAM])
    lines = ["Step 1/3 : FROM ubuntu:24.04 AS dev", f"Step 2/3 : RUN {program}"]
    messages = [{"stream": line + "\n"} for line in (*lines, " ---> Running in 01", said)]
    messages.append({"error": "The command returned a non-zero code: 1"})
    with pytest.raises(BuildError) as caught:
        read_stream("dev", messages, Progress(), TargetResult(target="dev", ref="x-dev:latest"))
    assert caught.value.message == f"building the dev image failed at the smoke imports: {said}"
    assert caught.value.hint == smoke.HINT
