"""Run-time native libraries: what the review adds for packages that load system libraries, how
each release names those packages (t64), and the post-install check that finds a library an
extension module links but the system lacks — run for real on a module compiled here."""

from __future__ import annotations

import importlib.machinery
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devenv.plan.model import load_plan
from devenv.render.dockerfile import render_dockerfile
from devenv.review import native, source_builds
from devenv.review.resolver import Dist, Resolution, Target
from devenv.steps import native_libs
from devenv.steps.compile import compile_steps, system_packages
from devenv.steps.model import Mode
from devenv.steps.recipe import compile_plan, requirements_review
from tests.conftest import MakeProject

NOBLE = Target(python="3.12", machine="x86_64", glibc="2.39")


def test_a_package_that_loads_a_library_by_name_adds_the_releases_package() -> None:
    resolution = Resolution(
        target=NOBLE,
        dists=(
            Dist(name="fastapi", version="0.115.6", wheel=True, source="sdist"),
            Dist(name="python-magic", version="0.4.27", wheel=True, source="sdist"),
            Dist(name="opencv-python", version="4.10.0.84", wheel=True, source="sdist"),
        ),
    )
    noble = source_builds.decide(resolution, "noble")
    assert noble.packages() == ("libmagic1t64", "libgl1", "libglib2.0-0t64", "libsm6", "libxext6")
    assert "python-magic 0.4.27 loads libmagic by name at import → libmagic1t64" in noble.notes()
    bookworm = source_builds.decide(resolution, "bookworm")
    assert bookworm.packages() == ("libmagic1", "libgl1", "libglib2.0-0", "libsm6", "libxext6")


def test_the_offline_review_adds_them_too(make_project: MakeProject) -> None:
    project = make_project(requirements="python-magic==0.4.27\n")
    plan = load_plan(project)
    review = source_builds.fallback(plan, "offline")
    assert "libmagic1t64" in review.packages()


@pytest.mark.parametrize(
    ("base", "written", "installed"),
    [
        ("ubuntu:24.04", "libmagic1", "libmagic1t64"),
        ("debian:13", "libglib2.0-0", "libglib2.0-0t64"),
        ("debian:12", "libmagic1t64", "libmagic1"),
        ("ubuntu:22.04", "libssl3t64", "libssl3"),
        ("ubuntu:24.04", "libmagic1=1:5.45-3build1", "libmagic1t64=1:5.45-3build1"),
        ("ubuntu:24.04", "libpq-dev", "libpq-dev"),
    ],
)
def test_a_plans_package_is_installed_under_its_releases_name_in_both_modes(
    make_project: MakeProject, base: str, written: str, installed: str
) -> None:
    project = make_project(
        f'[environment]\nbase = "{base}"\n[postgres]\nsource = "pgdg"\n'
        f'[system]\npackages = ["{written}"]\n'
    )
    plan = load_plan(project)
    for mode in Mode:
        packages, notes = system_packages(plan, requirements_review(plan, mode))
        assert installed in packages
        if written != installed:
            assert written not in packages
            assert any(f"{written} is named {installed}" in n for n in notes)
        apt = next(
            s
            for s in compile_steps(plan, mode, requirements_review(plan, mode))
            if s.id == "system-packages"
        )
        assert installed in apt.packages


def test_every_soname_and_runtime_package_is_a_valid_apt_name() -> None:
    from devenv.rules import validate

    for codename in native.GLIBC:
        for package in [*native.SONAMES.values()] + [
            p for r in native.RUNTIME.values() for p in r.packages
        ]:
            validate.deb_package_spec(native.apt_name(package, codename))


# --- the post-install check, on a module compiled here ----------------------------------------

needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")


def _venv_with_a_module_linking(tmp_path: Path, soname: str) -> Path:
    """A venv whose site-packages holds an extension module linked against `soname`, a library
    that existed when the module was linked and is gone now."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['platlib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    libs = tmp_path / "libs"
    libs.mkdir()
    (libs / "gone.c").write_text("int devenv_gone(void) { return 1; }\n")
    subprocess.run(
        ["cc", "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o", str(libs / soname), "gone.c"],
        cwd=libs,
        check=True,
    )
    (libs / "module.c").write_text(
        "int devenv_gone(void);\nint f(void) { return devenv_gone(); }\n"
    )
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    package = Path(site) / "needy"
    package.mkdir(parents=True)
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-o", str(package / f"core{suffix}"), "module.c", soname],
        cwd=libs,
        check=True,
    )
    (libs / soname).unlink()
    return python


@needs_cc
def test_a_library_an_extension_module_links_and_the_system_lacks_is_named(
    tmp_path: Path,
) -> None:
    python = _venv_with_a_module_linking(tmp_path, "libdevenvgone.so.7")
    argv = native_libs.argv(str(python), "noble", "Ubuntu 24.04 (noble)")
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("libdevenvgone.so.7"))
    assert "needy/core" in line
    assert "apt-file search libdevenvgone.so.7" in line
    # A soname devenv knows names the release's package.
    known = [*argv, "libdevenvgone.so.7=libdevenvgone7t64"]
    done = subprocess.run(known, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert (
        "libdevenvgone7t64 provides it on Ubuntu 24.04 (noble): add it to [system] packages"
    ) in done.stdout


@needs_cc
def test_a_library_the_venv_carries_itself_is_the_wheels_to_find(tmp_path: Path) -> None:
    """opencv-python's bundled OpenBLAS links a bundled libgfortran that ldd cannot find from
    outside (no RPATH of its own): a file of that name in the venv is the wheel's business."""
    python = _venv_with_a_module_linking(tmp_path, "libgfortran-91cc3cb1.so.3.0.0")
    site = next((tmp_path / "venv").glob("lib/python3*/site-packages"))
    (site / "needy.libs").mkdir()
    (site / "needy.libs" / "libgfortran-91cc3cb1.so.3.0.0").write_bytes(b"")
    done = subprocess.run(
        native_libs.argv(str(python), "noble", "Ubuntu 24.04 (noble)"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert "0 libraries missing" in done.stdout


def test_a_build_that_fails_the_check_says_which_library_and_package() -> None:
    from devenv.container.build import missing_libraries

    tail = [
        "libGL.so.1 is not on this system, and cv2/cv2.abi3.so links it: libgl1 provides it on "
        "Debian 13 (trixie): add it to [system] packages",
        "23 extension modules checked, 1 libraries missing",
    ]
    error = missing_libraries(tail, "dev", "dev")
    assert error is not None
    assert error.message == (
        "building the dev image failed at the run-time library check: " + tail[0]
    )
    assert error.hint == native_libs.HINT
    assert missing_libraries(["something else"], "dev", "dev") is None


@needs_cc
def test_a_gpu_driver_library_is_not_asked_of_the_archive(tmp_path: Path) -> None:
    python = _venv_with_a_module_linking(tmp_path, "libcuda.so.1")
    done = subprocess.run(
        native_libs.argv(str(python), "noble", "Ubuntu 24.04 (noble)"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert "1 extension modules checked, 0 libraries missing" in done.stdout


def test_the_check_renders_as_an_exec_form_run_that_keeps_every_byte(
    make_project: MakeProject,
) -> None:
    plan = load_plan(make_project())
    step = next(
        s
        for s in compile_steps(plan, Mode.CONTAINER, requirements_review(plan, Mode.CONTAINER))
        if s.id == "native-libs"
    )
    lines = render_dockerfile(compile_plan(plan)).splitlines()
    run = next(x for x in lines if x.startswith('RUN ["') and "ldd" in x)
    assert json.loads(run[len("RUN ") :]) == list(step.commands[0].argv)


def test_a_plan_without_requirements_installs_nothing_and_still_checks(
    make_project: MakeProject,
) -> None:
    """init on a project whose requirements it can't find writes `requirements = []`: the
    images must still build (an installer given no files refuses to run)."""
    plan = load_plan(make_project("[python]\nrequirements = []\nsmoke = []\n", requirements=None))
    for mode in Mode:
        ids = [s.id for s in compile_steps(plan, mode, requirements_review(plan, mode))]
        assert "requirements" not in ids
        assert {"venv", "pip-check", "native-libs"} <= set(ids)
    assert "uv pip install" not in render_dockerfile(compile_plan(plan))


def test_a_virtual_name_is_found_through_the_package_that_provides_it() -> None:
    """On this host (Debian), mawk provides the virtual awk: dpkg lists no package named awk."""
    from devenv.host.apt import query_installed, query_providers
    from devenv.host.execute import Executor

    executor = Executor(echo=lambda line: None, dry_run=False)
    assert "awk" not in query_installed(executor, ["awk"])
    assert query_providers(executor, ["awk", "no-such-virtual-package"]) == {"awk": "mawk"}


# --- a pin older than the image's Python, named at the failure ---------------------------------

GREENLET_ON_313 = [
    "Resolved 3 packages in 2.10s",
    "  \u00d7 Failed to build `greenlet==3.0.3`",  # uv marks an error with a multiplication sign
    "  ├─▶ The build backend returned an error",
    "  ╰─▶ Call to `setuptools.build_meta.build_wheel` failed (exit status: 1)",
    "      src/greenlet/greenlet_greenlet.hpp:831:35: error: 'PyThreadState' {aka 'struct _ts'}"
    " has no member named 'cframe'",
    "      error: command '/usr/bin/x86_64-linux-gnu-g++' failed with exit code 1",
]


def test_a_failed_build_with_advice_names_the_package_the_python_and_what_works() -> None:
    from devenv.container.build import incompatible_pin
    from devenv.rules.distro import find_release

    trixie = find_release("debian", "13")
    advice = {"greenlet": "greenlet 3.1.0 is the first with a wheel for CPython 3.13 on x86_64"}
    error = incompatible_pin(GREENLET_ON_313, GREENLET_ON_313[-2:], trixie, advice)
    assert error is not None
    assert error.message == (
        "greenlet failed to build from source on Debian 13 (trixie)'s Python 3.13"
    )
    assert error.hint is not None and error.hint.startswith("greenlet 3.1.0 is the first")
    assert "cframe" in error.details
    # No advice for it, or another package: the generic message stays.
    assert incompatible_pin(GREENLET_ON_313, [], trixie, {"asyncpg": "x"}) is None


def test_the_review_asks_the_index_what_installs_from_wheels_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers recorded from the real index (tests/data/wheels) by uv."""
    trixie = Target(python="3.13", machine="x86_64", glibc="2.41")
    advice = dict(
        source_builds.advise(
            [
                Dist(name="greenlet", version="3.0.3", wheel=False, source="sdist"),
                Dist(name="psycopg2", version="2.9.9", wheel=False, source="sdist"),
            ],
            trixie,
        )
    )
    assert advice == {
        "greenlet": "greenlet 3.1.0 is the first with a wheel for CPython 3.13 on x86_64; "
        "greenlet 3.0.3 has wheels for ubuntu:22.04 (Python 3.10), ubuntu:24.04 "
        "(Python 3.12), debian:12 (Python 3.11)"
    }


def test_a_slow_review_says_what_it_is_doing_and_a_fast_one_stays_quiet(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import time

    from devenv.review.resolver import _said_while_slow

    with _said_while_slow("reviewing", after=0.05):
        time.sleep(0.3)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "devenv: reviewing..."
    assert lines[1].startswith("devenv: reviewing: 0.") and lines[1].endswith("s")
    with _said_while_slow("reviewing", after=5):
        pass
    assert capsys.readouterr().err == ""


def test_every_library_loaded_at_import_is_proven_by_a_smoke_import() -> None:
    """ldd sees only linked libraries: a package that loads one by name (ctypes, cffi) is
    proven by importing it, so the smoke list derived from the requirements names it."""
    from devenv.project import smoke

    run_programs = {"pdf2image", "pytesseract"}  # they run programs when called, not at import
    assert set(native.RUNTIME) - run_programs <= set(smoke.IMPORTS)


def test_host_install_says_which_library_is_missing_not_the_program() -> None:
    from devenv.flows.host_install import _native_libs

    said = (
        "libmagic.so.1 is not on this system, and magic/x.so links it: libmagic1t64 provides it"
        " on Ubuntu 24.04 (noble): add it to [system] packages"
    )
    message, hint = _native_libs(["+ python -c ...", said, "9 extension modules checked"]) or (
        "",
        "",
    )
    assert message == said and hint.startswith(native_libs.HINT)
    assert _native_libs(["Traceback (most recent call last):"]) is None


def test_a_verify_with_only_skipped_checks_names_them() -> None:
    from devenv.verify.report import CheckResult, Report, Status, failure

    def check(name: str, status: Status) -> CheckResult:
        return CheckResult(name=name, title=name, group="dev", status=status, detail="", seconds=0)

    report = Report(
        project="p",
        run_id="r",
        images={},
        checks=(check("dev-python", Status.PASSED), check("dev-db-roundtrip", Status.SKIPPED)),
        postgres={},
        dev={},
        seconds=0.0,
    )
    assert failure(report).message == "verify of p: 1 check(s) skipped: dev-db-roundtrip"
