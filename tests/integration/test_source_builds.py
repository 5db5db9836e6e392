"""The source-build review against the real index, and real builds that need what it adds.

Pins with no wheel for Debian 13's Python 3.13 (checked with `pip download --only-binary=:all:
--python-version 3.13`): asyncpg 0.29.0 and ujson 5.8.0 (both have cp312 wheels, so Ubuntu
24.04 needs no compiler for them), and psycopg2 2.9.10, which never ships Linux wheels and
compiles against libpq (pg_config, libpq-fe.h). (cffi 1.16.0 has no cp313 wheel either, but its
C code predates 3.13's API and fails to compile whatever is installed.) On the default plan
(Ubuntu 24.04, Python 3.12): psycopg2 2.9.10 and ujson 5.7.0 (no cp312 wheel). Each set builds
in the image and on a bare host of the release. The plans list no system packages: whatever
compiles, compiles because the review added it.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devenv.container.build import Progress, TargetResult, read_stream
from devenv.container.engine import Engine, run_in_image
from devenv.errors import BuildError
from devenv.review import native
from devenv.rules.distro import RELEASES
from tests.integration.conftest import RunContainer, devenv_cli, log
from tests.integration.conftest import base as ensure_base_once
from tests.integration.conftest_host import LABELS, Host, build_bare_host, start_host, stop_host

PREFIX = "srcb"
# psycopg 3 and pgvector (wheels everywhere) for verify's round trip to the database.
NATIVE_REQUIREMENTS = "psycopg2==2.9.10\nujson==5.8.0\npsycopg[binary]==3.3.9\npgvector==0.5.1\n"
SMOKE = ["psycopg2", "psycopg2.extensions", "ujson"]
# An index address in this task's port range where nothing listens.
UNREACHABLE = "http://127.0.0.1:56399/simple"


def plan_toml(name: str, base: str = "debian:trixie", smoke: list[str] | None = None) -> str:
    pg = "[postgres]\nversion = 17\nhost_port = 56311\n" if "trixie" in base else ""
    return (
        f'[environment]\nname = "{name}"\nbase = "{base}"\n{pg}'
        "[system]\npackages = []\n"
        f"[python]\nsmoke = {json.dumps(smoke or [])}\n"
        "[devcontainer]\nforward_ports = []\n"
    )


def project(root: Path, toml: str, requirements: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "devenv.toml").write_text(toml)
    (root / "requirements.txt").write_text(requirements)
    return root


def plan_json(root: Path, env: dict[str, str], mode: str = "both") -> dict[str, Any]:
    result = devenv_cli("-C", str(root), "plan", "--json", "--mode", mode, env=env)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def system_step(data: dict[str, Any], mode: str) -> dict[str, Any]:
    step: dict[str, Any] = next(s for s in data[mode] if s["id"] == "system-packages")
    return step


def test_the_real_index_says_which_pins_build_from_source_on_each_release(
    tmp_path: Path,
) -> None:
    env = {"DEVENV_CACHE_DIR": str(tmp_path / "cache")}
    requirements = "asyncpg==0.29.0\nfastapi==0.115.6\n"
    trixie = project(tmp_path / "trixie", plan_toml(f"{PREFIX}-t"), requirements)
    noble = project(tmp_path / "noble", plan_toml(f"{PREFIX}-n", "ubuntu:24.04"), requirements)

    started = time.monotonic()
    cold = plan_json(trixie, env, "container")
    cold_s = time.monotonic() - started
    started = time.monotonic()
    warm = plan_json(trixie, env, "container")
    warm_s = time.monotonic() - started
    log(f"source-build review: cold plan {cold_s:.2f}s, cached plan {warm_s:.2f}s")
    assert warm == cold  # the cache gives the same answer
    assert len(list((tmp_path / "cache" / "resolutions").iterdir())) == 1

    step = system_step(cold, "container")
    assert step["notes"] == [
        "asyncpg 0.29.0 has no wheel for CPython 3.13 on x86_64: builds from source"
        " → build-essential, python3-dev",
        # What installs from wheels instead, as the index says (asyncpg 0.29.0's C code does
        # not compile for 3.13: tests/integration/test_incompatible_pins.py).
        "if asyncpg fails to build: asyncpg 0.30.0 is the first with a wheel for CPython 3.13 "
        "on x86_64; asyncpg 0.29.0 has wheels for ubuntu:22.04 (Python 3.10), ubuntu:24.04 "
        "(Python 3.12), debian:12 (Python 3.11)",
    ]
    assert "build-essential" in step["commands"][1] and "python3-dev" in step["commands"][1]

    step = system_step(plan_json(noble, env, "container"), "container")
    assert step["notes"] == [] and "python3-dev" not in step["commands"][1]  # cp312 wheels


def test_with_the_index_unreachable_the_table_decides_and_says_so(tmp_path: Path) -> None:
    env = {
        "DEVENV_CACHE_DIR": str(tmp_path / "cache"),
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),  # nothing uv could answer from
        "UV_INDEX_URL": UNREACHABLE,
        "UV_DEFAULT_INDEX": UNREACHABLE,
    }
    root = project(tmp_path / "p", plan_toml(f"{PREFIX}-off"), NATIVE_REQUIREMENTS)
    step = system_step(plan_json(root, env, "container"), "container")
    assert step["notes"][0].startswith(
        "the package index can't be reached for CPython 3.13 on x86_64 ("
    )
    assert step["notes"][0].endswith("): reviewed from devenv's table only")
    install = step["commands"][1]
    for package in ("build-essential", "python3-dev", "libpq-dev"):
        assert package in install
    assert not (tmp_path / "cache" / "resolutions").exists()  # a fallback is not cached
    # Generating works offline too, and says the same in the Dockerfile.
    assert devenv_cli("-C", str(root), "generate", env=env).returncode == 0
    assert "reviewed from devenv's table only" in (root / "docker" / "Dockerfile").read_text()


@pytest.mark.parametrize(
    ("base", "codename"), [("debian:trixie", "trixie"), ("ubuntu:24.04", "noble")]
)
def test_every_package_the_table_names_is_in_the_release_archive(
    engine: Engine, trixie_base: str, noble_base: str, base: str, codename: str
) -> None:
    """The table is data about real archives: ask them (apt-cache policy in the base)."""
    names = sorted(
        {p for name in native.NATIVE for p in native.build_needs(name, codename)}
        | {native.apt_name(p, codename) for p in native.MISSING_HEADERS.values()}
        | {native.apt_name(p, codename) for _, _, p in native.MISSING_TOOLS}
    )
    script = 'apt-get update -qq >/dev/null && apt-cache policy "$@"'
    code, out, err = run_in_image(engine, base, ["sh", "-c", script, "sh", *names], network=True)
    assert code == 0, err
    candidates = dict(re.findall(r"^(\S+):\n(?:\s+Installed: .*\n)?\s+Candidate: (\S+)", out, re.M))
    missing = [n for n in names if candidates.get(n, "(none)") == "(none)"]
    assert not missing, f"{base} has no candidate for {missing}"


@pytest.fixture(scope="module")
def native_project(trixie_base: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = project(
        tmp_path_factory.mktemp("srcb") / "native",
        plan_toml(f"{PREFIX}-native", smoke=SMOKE),
        NATIVE_REQUIREMENTS,
    )
    assert devenv_cli("-C", str(root), "generate").returncode == 0
    return root


def test_a_requirement_set_without_cp313_wheels_builds_in_the_image(
    native_project: Path, run_container: RunContainer
) -> None:
    step = system_step(plan_json(native_project, {}, "container"), "container")
    builds = [n for n in step["notes"] if not n.startswith("if ")]
    assert [n.split(" has no wheel")[0] for n in builds] == ["psycopg2 2.9.10", "ujson 5.8.0"]
    # ujson has later wheels for 3.13 (the review says which); psycopg2 never ships any.
    assert [n.split(":")[0] for n in step["notes"] if n.startswith("if ")] == [
        "if ujson fails to build"
    ]
    assert "libpq-dev" in step["commands"][1]
    dockerfile = (native_project / "docker" / "Dockerfile").read_text()
    assert "# psycopg2 2.9.10 has no wheel for CPython 3.13 on x86_64" in dockerfile

    started = time.monotonic()
    built = devenv_cli("-C", str(native_project), "build", "--target", "dev", "--quiet")
    log(f"source-build image: built in {time.monotonic() - started:.0f}s")
    assert built.returncode == 0, built.stderr[-3000:]
    # The build ran pip check and the smoke imports; the wheels were made here, from sdists.
    code, out = run_container(
        f"devenv/{PREFIX}-native-dev:latest",
        [
            "/opt/venv/bin/python",
            "-c",
            "import psycopg2, ujson; from importlib.metadata import distribution as d; "
            "print(psycopg2.extensions.libpq_version() > 0, ujson.dumps([1]), "
            "*(d(n).read_text('WHEEL').split('Tag: ')[1].split()[0] for n in ('psycopg2', "
            "'ujson')))",
        ],
    )
    assert code == 0, out
    # Wheels tagged for this very interpreter: built here from sdists, not downloaded.
    assert out.split() == ["True", "[1]", "cp313-cp313-linux_x86_64", "cp313-cp313-linux_x86_64"]


def test_verify_passes_on_the_source_built_image(native_project: Path) -> None:
    built = devenv_cli("-C", str(native_project), "build", "--target", "db", "--quiet")
    assert built.returncode == 0, built.stderr[-3000:]
    verified = devenv_cli("-C", str(native_project), "verify")
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-3000:]


def test_a_compile_that_misses_a_header_names_the_package_and_its_provider(
    native_project: Path, engine: Engine
) -> None:
    """Take libpq-dev away again and rebuild psycopg2 from its sdist: the real build's output
    ends in one line naming psycopg2 and libpq-dev for Debian 13."""
    dev = f"devenv/{PREFIX}-native-dev:latest"
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}-") as tmp:
        (Path(tmp) / "Dockerfile").write_text(
            f"FROM {dev}\nUSER root\n"
            "RUN dpkg --purge --force-depends libpq-dev\n"
            "RUN /opt/venv/bin/pip install --no-cache-dir --force-reinstall --no-deps "
            "psycopg2==2.9.10\n"
        )
        stream = engine.build(
            path=Path(tmp),
            dockerfile="Dockerfile",
            target=None,
            tag=f"{PREFIX}/no-libpq:latest",
            labels=LABELS,
            buildargs={},
            nocache=True,
        )
        release = next(r for r in RELEASES if r.codename == "trixie")
        result = TargetResult(target="dev", ref=f"{PREFIX}/no-libpq:latest")
        with pytest.raises(BuildError) as caught:
            read_stream("dev", stream, Progress(), result, release)
    log(f"diagnosis: {caught.value}\n{caught.value.details}")
    assert caught.value.message == (
        "psycopg2 failed to build from source: it needs pg_config, which libpq-dev provides on "
        "Debian 13 (trixie)"
    )


# -- the default plan: Ubuntu 24.04, Python 3.12 ---------------------------------------------

NOBLE_REQUIREMENTS = "psycopg2==2.9.10\nujson==5.7.0\npsycopg[binary]==3.3.9\npgvector==0.5.1\n"


@pytest.fixture(scope="module")
def noble_base(engine: Engine) -> str:
    return ensure_base_once(engine, "ubuntu:24.04", "ubuntu", "noble", "24.04")


def test_on_the_default_plan_pins_without_cp312_wheels_build_in_the_image(
    noble_base: str, tmp_path: Path, run_container: RunContainer
) -> None:
    """ujson 5.7.0 predates Python 3.12 (no cp312 wheel); psycopg2 has no Linux wheels."""
    root = project(
        tmp_path / "noble",
        f'[environment]\nname = "{PREFIX}-noble"\n[system]\npackages = []\n'
        '[python]\nsmoke = ["psycopg2", "ujson", "pgvector.psycopg"]\n'
        "[devcontainer]\nforward_ports = []\n",
        NOBLE_REQUIREMENTS,
    )
    step = system_step(plan_json(root, {}, "container"), "container")
    builds = [n for n in step["notes"] if not n.startswith("if ")]
    assert [n.split(" has no wheel")[0] for n in builds] == ["psycopg2 2.9.10", "ujson 5.7.0"]
    assert "CPython 3.12 on x86_64" in step["notes"][1]
    started = time.monotonic()
    built = devenv_cli("-C", str(root), "build", "--target", "dev", "--quiet")
    log(f"source-build image (ubuntu 24.04): built in {time.monotonic() - started:.0f}s")
    assert built.returncode == 0, built.stderr[-3000:]
    code, out = run_container(
        f"devenv/{PREFIX}-noble-dev:latest",
        [
            "/opt/venv/bin/python",
            "-c",
            "from importlib.metadata import distribution as d; "
            "print(*(d(n).read_text('WHEEL').split('Tag: ')[1].split()[0] for n in ('psycopg2', "
            "'ujson')))",
        ],
    )
    assert code == 0, out
    assert out.split() == ["cp312-cp312-linux_x86_64", "cp312-cp312-linux_x86_64"]


# -- host mode: the same requirements on a bare Debian 13 host ---------------------------------


@pytest.fixture(scope="module")
def host(engine: Engine, trixie_base: str, native_project: Path) -> Iterator[Host]:
    image = build_bare_host(engine, trixie_base, tag=f"{PREFIX}/bare-host:latest")
    box = start_host(engine, image, user="dev", project="/home/dev/proj", docker_socket=False)
    try:
        box.put_project(native_project, box.project, "dev")
        yield box
    finally:
        stop_host(box)


def test_host_install_adds_the_compiler_and_headers_and_builds(host: Host) -> None:
    code, out = host.devenv("plan", "--mode", "host")
    assert code == 0, out
    assert "psycopg2 2.9.10 has no wheel for CPython 3.13 on x86_64" in out
    code, out = host.run(["dpkg-query", "-W", "libpq-dev"], user="root", timeout=30)
    assert code != 0  # the bare host lacks it
    started = time.monotonic()
    code, out = host.devenv("host-install")
    log(f"source-build host-install: {time.monotonic() - started:.0f}s")
    assert code == 0, out[-3000:]
    code, out = host.run(
        ["/home/dev/proj/.venv/bin/python", "-c", "import psycopg2, ujson; print(ujson.dumps([2]))"]
    )
    assert code == 0 and out.strip() == "[2]", out


@pytest.fixture(scope="module")
def noble_host(
    engine: Engine, noble_base: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Host]:
    root = project(
        tmp_path_factory.mktemp("srcb") / "noble-host",
        f'[environment]\nname = "{PREFIX}-noble-host"\n[system]\npackages = []\n'
        '[python]\nsmoke = ["psycopg2", "ujson"]\n',
        NOBLE_REQUIREMENTS,
    )
    image = build_bare_host(engine, noble_base, tag=f"{PREFIX}/bare-host-noble:latest")
    box = start_host(engine, image, user="dev", project="/home/dev/proj", docker_socket=False)
    try:
        box.put_project(root, box.project, "dev")
        yield box
    finally:
        stop_host(box)


def test_on_a_bare_ubuntu_24_04_host_the_default_plan_builds_source_only_pins(
    noble_host: Host,
) -> None:
    code, out = noble_host.devenv("plan", "--mode", "host")
    assert code == 0, out
    assert "ujson 5.7.0 has no wheel for CPython 3.12 on x86_64" in out
    started = time.monotonic()
    code, out = noble_host.devenv("host-install")
    log(f"source-build host-install (ubuntu 24.04): {time.monotonic() - started:.0f}s")
    assert code == 0, out[-3000:]
    code, out = noble_host.run(
        [
            "/home/dev/proj/.venv/bin/python",
            "-c",
            "from importlib.metadata import distribution as d; "
            "print(*(d(n).read_text('WHEEL').split('Tag: ')[1].split()[0] for n in ('psycopg2', "
            "'ujson')))",
        ]
    )
    assert code == 0, out
    assert out.split() == ["cp312-cp312-linux_x86_64", "cp312-cp312-linux_x86_64"]
