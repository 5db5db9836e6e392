"""The source-build review: the decision on resolver reports uv really wrote (recorded in
tests/data/pylock, with the index's host replaced), the per-release table, the cache, the
offline fallback, and the diagnosis of a compile that slipped through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devenv.container.build import Progress, TargetResult, read_stream
from devenv.errors import BuildError
from devenv.plan.model import load_plan
from devenv.review import diagnosis as build_diagnosis
from devenv.review import native, resolver, source_builds
from devenv.review.resolver import Dist, Resolution, Target
from devenv.rules import validate
from devenv.rules.distro import RELEASES
from devenv.steps.compile import compile_steps
from devenv.steps.model import Mode
from devenv.steps.recipe import requirements_review
from tests.conftest import MakeProject

PYLOCK = Path(__file__).resolve().parent.parent / "data" / "pylock"
# uv pip compile --format pylock.toml --python-version 3.1x --python-platform
# x86_64-manylinux_2_40 of these pins (tests/data/pylock/cp31x-x86_64.toml):
RECORDED = "asyncpg==0.29.0 psycopg2==2.9.9 cffi==1.16.0 lxml==5.3.0 fastapi==0.115.6"
PY313 = Target(python="3.13", machine="x86_64", glibc="2.41")
PY312 = Target(python="3.12", machine="x86_64", glibc="2.39")
TRIXIE = (
    "[environment]\nbase = 'debian:trixie'\n[postgres]\nversion = 17\n[system]\npackages = []\n"
)


def recorded(name: str, target: Target) -> Resolution:
    return resolver.parse_pylock((PYLOCK / name).read_text(), target)


def test_on_python_3_13_the_pins_without_cp313_wheels_build_from_source() -> None:
    review = source_builds.decide(recorded("cp313-x86_64.toml", PY313), "trixie")
    assert [(d.name, d.version) for d in review.builds] == [
        ("asyncpg", "0.29.0"),
        ("cffi", "1.16.0"),
        ("psycopg2", "2.9.9"),
    ]
    assert review.notes() == (
        "asyncpg 0.29.0 has no wheel for CPython 3.13 on x86_64: builds from source"
        " → build-essential, python3-dev",
        "cffi 1.16.0 has no wheel for CPython 3.13 on x86_64: builds from source against"
        " libffi (ffi.h) → build-essential, python3-dev, libffi-dev, pkg-config",
        "psycopg2 2.9.9 has no wheel for CPython 3.13 on x86_64: builds from source against"
        " pg_config and libpq's headers → build-essential, python3-dev, libpq-dev",
    )
    assert review.packages() == (
        "build-essential",
        "python3-dev",
        "libffi-dev",
        "pkg-config",
        "libpq-dev",
    )


def test_on_python_3_12_the_same_pins_have_wheels_but_psycopg2() -> None:
    """The pair (requirements, interpreter) decides: Ubuntu 24.04's 3.12 has wheels."""
    review = source_builds.decide(recorded("cp312-x86_64.toml", PY312), "noble")
    assert [d.name for d in review.builds] == ["psycopg2"]  # psycopg2 never ships Linux wheels
    assert "lxml" in {d.name for d in recorded("cp312-x86_64.toml", PY312).dists}


def test_the_target_names_the_manylinux_platform_uv_knows() -> None:
    assert PY313.platform() == "x86_64-manylinux_2_40"  # glibc 2.41: uv's newest tag
    assert PY312.platform() == "x86_64-manylinux_2_39"
    assert PY313.label == "CPython 3.13 on x86_64"


def test_every_release_has_a_glibc_and_every_table_package_is_a_debian_name() -> None:
    for release in RELEASES:
        assert release.codename in native.GLIBC
        for name in native.NATIVE:
            for package in native.build_needs(name, release.codename):
                validate.deb_package(package)
    assert native.build_needs("python-ldap", "trixie")[2] == "libldap-dev"
    assert native.build_needs("python-ldap", "noble")[2] == "libldap2-dev"
    assert native.build_needs("unknown-ext", "noble") == native.COMPILER


def test_the_cache_round_trips_and_is_keyed_by_bytes_and_target(tmp_path: Path) -> None:
    resolution = recorded("cp313-x86_64.toml", PY313)
    assert resolver.load(resolver.dump(resolution)) == resolution
    inputs = (("requirements.txt", b"asyncpg==0.29.0\n"),)
    key = resolver.cache_key(inputs, PY313)
    assert key == resolver.cache_key(inputs, Target(python="3.13", machine="x86_64", glibc="2.41"))
    assert key != resolver.cache_key(inputs, PY312)
    assert key != resolver.cache_key((("requirements.txt", b"asyncpg==0.30.0\n"),), PY313)


def test_a_cached_resolution_is_used_without_the_index(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = make_project(TRIXIE, "asyncpg==0.29.0\n")
    plan = load_plan(root)
    monkeypatch.setenv("DEVENV_CACHE_DIR", str(tmp_path / "cache"))
    target = source_builds.container_target(plan)
    key = resolver.cache_key((("requirements.txt", b"asyncpg==0.29.0\n"),), target)
    cached = Resolution(
        target=target, dists=(Dist(name="asyncpg", version="0.29.0", wheel=False, source="sdist"),)
    )
    (tmp_path / "cache" / "resolutions").mkdir(parents=True)
    (tmp_path / "cache" / "resolutions" / f"{key}.json").write_text(resolver.dump(cached))
    steps = {
        s.id: s
        for s in compile_steps(plan, Mode.CONTAINER, requirements_review(plan, Mode.CONTAINER))
    }
    assert {"build-essential", "python3-dev"} <= set(steps["system-packages"].packages)
    assert steps["system-packages"].notes[0].startswith("asyncpg 0.29.0 has no wheel for CPython")


def test_offline_the_table_decides_and_says_so_in_one_line(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEVENV_CACHE_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("DEVENV_OFFLINE", "1")
    plan = load_plan(make_project(TRIXIE, "fastapi==0.115.6\nasyncpg==0.29.0\nlxml==5.3.0\n"))
    step = next(
        s
        for s in compile_steps(plan, Mode.CONTAINER, requirements_review(plan, Mode.CONTAINER))
        if s.id == "system-packages"
    )
    assert step.notes[0] == (
        "the package index can't be reached for CPython 3.13 on x86_64 (DEVENV_OFFLINE is set):"
        " reviewed from devenv's table only"
    )
    assert step.notes[1] == (
        "asyncpg, lxml not known to be pure Python: may build from source"
        " → build-essential, python3-dev"
    )
    assert {"build-essential", "python3-dev", "libxml2-dev", "libxslt1-dev"} <= set(step.packages)
    assert not (tmp_path / "empty").exists()  # a fallback is never cached


def test_offline_with_only_pure_python_nothing_is_added(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEVENV_CACHE_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("DEVENV_OFFLINE", "1")
    plan = load_plan(make_project(TRIXIE, "fastapi==0.115.6\npsycopg[binary]==3.2.3\n"))
    step = next(
        s
        for s in compile_steps(plan, Mode.CONTAINER, requirements_review(plan, Mode.CONTAINER))
        if s.id == "system-packages"
    )
    assert len(step.notes) == 1 and "python3-dev" not in step.packages


def test_the_plan_shows_each_addition_with_its_reason_for_both_modes(
    make_project: MakeProject,
) -> None:
    """Recorded (tests/data/resolutions): asyncpg 0.29.0 on the image's 3.13 and the host's
    3.11 (which has a wheel)."""
    from devenv.flows.describe import describe_steps, steps_text

    data = describe_steps(load_plan(make_project(TRIXIE, "asyncpg==0.29.0\n")), "both")
    container = next(s for s in data["container"] if s["id"] == "system-packages")
    host = next(s for s in data["host"] if s["id"] == "system-packages")
    assert container["notes"] == [
        "asyncpg 0.29.0 has no wheel for CPython 3.13 on x86_64: builds from source"
        " → build-essential, python3-dev"
    ]
    assert host["notes"] == []  # asyncpg 0.29.0 has cp311 wheels
    assert "note: asyncpg 0.29.0 has no wheel" in steps_text(data)
    json.dumps(data)


# -- a compile that slipped through ---------------------------------------------------------

PIP_FAILED = (
    "Step 12/20 : RUN /opt/venv/bin/python -m pip install --no-cache-dir -r /x/requirements.txt",
    " ---> Running in 0123",
    "Collecting cffi==1.16.0",
    "Building wheels for collected packages: cffi",
    "  Building wheel for cffi (pyproject.toml): started",
    "  error: subprocess-exited-with-error",
    "      src/c/_cffi_backend.c:15:10: fatal error: ffi.h: No such file or directory",
    "         15 | #include <ffi.h>",
    "      compilation terminated.",
    "      error: command '/usr/bin/x86_64-linux-gnu-gcc' failed with exit code 1",
    *(f"      filler line {n}" for n in range(40)),  # pushed out of the 25-line tail
    "  ERROR: Failed building wheel for cffi",
    "Failed to build cffi",
)


def test_a_missing_header_names_the_package_and_its_provider_for_the_release() -> None:
    release = next(r for r in RELEASES if r.codename == "trixie")
    result = TargetResult(target="dev", ref="devenv/x-dev:latest")
    messages = [{"stream": line + "\n"} for line in PIP_FAILED]
    messages.append({"errorDetail": {"message": "code: 1"}, "error": "code: 1"})
    with pytest.raises(BuildError) as caught:
        read_stream("dev", messages, Progress(), result, release)
    assert caught.value.message == (
        "cffi failed to build from source: it needs ffi.h, which libffi-dev provides on "
        "Debian 13 (trixie)"
    )
    assert caught.value.hint is not None and '"libffi-dev"' in caught.value.hint


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            [
                "Building wheel for asyncpg (pyproject.toml)",
                "x.c:1: fatal error: Python.h: No such file or directory",
            ],
            ("asyncpg", "Python.h", "python3-dev"),
        ),
        (
            ["Error: pg_config executable not found.", "  x Failed to build `psycopg2==2.9.9`"],
            ("psycopg2", "pg_config", "libpq-dev"),
        ),
        (
            ["fatal error: openssl/ssl.h: No such file or directory", "Failed to build pycurl"],
            ("pycurl", "openssl/ssl.h", "libssl-dev"),
        ),
        (
            ["fatal error: libpq-fe.h: No such file or directory"],
            ("a requirement", "libpq-fe.h", "libpq-dev"),
        ),
        (
            ["fatal error: lber.h: No such file or directory"],
            ("a requirement", "lber.h", "libldap-dev"),
        ),
        (["fatal error: nothing-we-know.h: No such file or directory"], None),
        (  # pip 25.1 (Debian 13's, in a uv venv): no name in the error; the one it collected
            [
                "Collecting six==1.17.0",
                "Collecting psycopg2==2.9.10",
                "  Downloading psycopg2-2.9.10.tar.gz (385 kB)",
                "  Getting requirements to build wheel: started",
                "      Error: pg_config executable not found.",
                "\u00d7 Getting requirements to build wheel did not run successfully.",
            ],
            ("psycopg2", "pg_config", "libpq-dev"),
        ),
    ],
)
def test_diagnosis_of_compile_output(
    lines: list[str], expected: tuple[str, str, str] | None
) -> None:
    assert build_diagnosis.failed_compile(lines, "trixie") == expected


# -- with a lock: the lock's set is what is resolved, and its apt pins get the additions -----

SDIST = "d1c49e1f44fffafd9a55e1a9b101590859d881d639ea2922516f5d9c512d354e"  # asyncpg's sdist
LOCKED = f"asyncpg==0.29.0 \\\n    --hash=sha256:{SDIST}\n"


def locked(make_project: MakeProject) -> Path:
    from devenv.plan.lockfile import Lock, render_lock

    root = make_project(TRIXIE, "asyncpg\n")
    lock = Lock(inputs=(), base=(), python="3.13", apt=(), requirements=LOCKED)
    (root / "devenv.lock").write_text(render_lock(lock))
    return root


def test_with_a_lock_its_pins_are_reviewed_and_the_lock_pins_the_additions(
    make_project: MakeProject,
) -> None:
    from devenv.lock.resolve import apt_packages

    plan = load_plan(locked(make_project))
    step = next(
        s
        for s in compile_steps(plan, Mode.CONTAINER, requirements_review(plan, Mode.CONTAINER))
        if s.id == "system-packages"
    )
    assert step.notes[0].startswith("asyncpg 0.29.0 has no wheel for CPython 3.13 on x86_64")
    assert ("dev", "python3-dev") in apt_packages(plan)


def test_with_a_lock_offline_the_table_reads_its_pins(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEVENV_CACHE_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("DEVENV_OFFLINE", "1")
    plan = load_plan(locked(make_project))
    step = next(
        s
        for s in compile_steps(plan, Mode.CONTAINER, requirements_review(plan, Mode.CONTAINER))
        if s.id == "system-packages"
    )
    assert step.notes[1].startswith("asyncpg not known to be pure Python")


def test_a_message_from_uv_reaches_a_note_as_one_line_without_credentials() -> None:
    text = "Failed to fetch: https://me:s3cret@index.invalid/simple/x/\n\x1b[1mmore"
    assert source_builds._one_line(text) == (
        "Failed to fetch: https://***@index.invalid/simple/x/  [1mmore"
    )
