"""devenv.lock on a real engine: pins recorded, reproduced by a --no-cache rebuild, enforced."""

from __future__ import annotations

from pathlib import Path

import pytest

from devenv.container.engine import Engine
from devenv.plan.lockfile import read_lock
from devenv.project.requirements import normalise
from tests.integration.conftest import (
    TRIXIE_PLAN,
    TRIXIE_REQUIREMENTS,
    RunContainer,
    devenv_cli,
)
from tests.integration.conftest_host import (
    bare_host_image,  # noqa: F401 (a fixture)
    start_host,
    stop_host,
)

DEV = "devenv/lockt-dev:latest"
DB = "devenv/lockt-db:latest"


@pytest.fixture(scope="module")
def locked(trixie_base: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lockt")
    (root / "devenv.toml").write_text(TRIXIE_PLAN.replace('"itest"', '"lockt"'))
    (root / "requirements.txt").write_text(TRIXIE_REQUIREMENTS)
    result = devenv_cli("-C", str(root), "lock")
    assert result.returncode == 0, result.stderr
    return root


def installed(run_container: RunContainer, packages: list[str]) -> tuple[str, str, str]:
    code, freeze = run_container(DEV, ["python", "-m", "pip", "freeze", "--all"])
    assert code == 0, freeze
    code, dev_dpkg = run_container(DEV, ["dpkg-query", "-W", *packages])
    assert code == 0, dev_dpkg
    code, db_dpkg = run_container(DB, ["dpkg-query", "-W", "postgresql-17",
                                       "postgresql-17-pgvector"])  # fmt: skip
    assert code == 0, db_dpkg
    return freeze, dev_dpkg, db_dpkg


def test_lock_pins_pgvector_and_hashes(locked: Path) -> None:
    lock = read_lock(locked)
    assert lock is not None
    pgvector = lock.apt_version("postgresql-17-pgvector")
    assert pgvector and pgvector.startswith("0.8")
    assert "--hash=sha256:" in lock.requirements
    # uv (the default installer) and the venv's pip are locked too
    assert set(lock.python_pins()) >= {"psycopg", "psycopg-binary", "pgvector", "sqlalchemy",
                                        "pip", "uv"}  # fmt: skip
    assert devenv_cli("-C", str(locked), "lock", "--check").returncode == 0


def test_two_builds_one_without_cache_are_identical(
    locked: Path, run_container: RunContainer
) -> None:
    lock = read_lock(locked)
    assert lock is not None
    packages = sorted({p.package for p in lock.apt if p.scope == "dev"})
    first = devenv_cli("-C", str(locked), "build", "--frozen")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "installing exactly what devenv.lock pins" in first.stderr
    before = installed(run_container, packages)
    second = devenv_cli("-C", str(locked), "build", "--frozen", "--no-cache", "--quiet")
    assert second.returncode == 0, second.stderr[-3000:]
    after = installed(run_container, packages)
    assert before == after
    freeze, dev_dpkg, db_dpkg = after
    frozen_pins = {normalise(n): v for n, v in (ln.split("==") for ln in freeze.split())}
    assert frozen_pins == {normalise(n): v for n, v in lock.python_pins().items()}
    for pin in lock.apt:
        if pin.scope == "dev":
            assert f"{pin.package}\t{pin.version}" in dev_dpkg
    assert f"postgresql-17-pgvector\t{lock.apt_version('postgresql-17-pgvector')}" in db_dpkg


def test_requirements_edit_makes_the_lock_stale(locked: Path, tmp_path: Path) -> None:
    with (locked / "requirements.txt").open("a") as f:
        f.write("httpx==0.28.1\n")
    try:
        check = devenv_cli("-C", str(locked), "lock", "--check")
        assert check.returncode == 1
        assert "devenv.lock is stale: requirements.txt changed" in check.stderr
        frozen = devenv_cli("-C", str(locked), "build", "--frozen")
        assert frozen.returncode == 1
        assert "devenv.lock is stale: requirements.txt changed" in frozen.stderr
        assert "Step 1/" not in frozen.stderr  # refused before building anything
    finally:
        (locked / "requirements.txt").write_text(TRIXIE_REQUIREMENTS)


def test_a_pin_the_archive_no_longer_serves(locked: Path, tmp_path: Path) -> None:
    root = tmp_path / "unserved"
    root.mkdir()
    (root / "devenv.toml").write_text(TRIXIE_PLAN.replace('"itest"', '"unserved"'))
    (root / "requirements.txt").write_text(TRIXIE_REQUIREMENTS)
    lock = (locked / "devenv.lock").read_text()
    # Each image's apt step installs ca-certificates: its pin, wherever it is, is gone.
    pins = [ln for ln in lock.splitlines() if ln.startswith("# devenv: apt ") and " ca-cert" in ln]
    assert pins, lock
    for pinned in pins:
        lock = lock.replace(pinned, pinned.split("=")[0] + "=0.0-gone")
    (root / "devenv.lock").write_text(lock)
    result = devenv_cli("-C", str(root), "build", "--target", "db")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "the archive no longer serves ca-certificates=0.0-gone, pinned by devenv.lock" in last
    assert "devenv lock --upgrade" in last


def test_host_mode_installs_what_the_image_has(
    locked: Path,
    engine: Engine,
    bare_host_image: str,  # noqa: F811
    run_container: RunContainer,
) -> None:
    """After the builds above: a bare Debian 13 host installs the lock's exact versions."""
    lock = read_lock(locked)
    assert lock is not None
    packages = sorted({p.package for p in lock.apt if p.scope in ("base", "dev")})
    box = start_host(
        engine, bare_host_image, user="root", project="/srv/lockt", docker_socket=False
    )
    try:
        box.put_project(locked, box.project, "root")
        code, out = box.devenv("host-install", "--frozen")
        assert code == 0, out[-3000:]
        assert "installing exactly what devenv.lock pins" in out
        code, host_dpkg = box.run(["dpkg-query", "-W", *packages])
        assert code == 0, host_dpkg
        code, host_freeze = box.run([f"{box.project}/.venv/bin/python", "-m", "pip", "freeze",
                                     "--all"])  # fmt: skip
        assert code == 0, host_freeze
    finally:
        stop_host(box)
    code, image_dpkg = run_container(DEV, ["dpkg-query", "-W", *packages])
    assert code == 0, image_dpkg
    code, image_freeze = run_container(DEV, ["python", "-m", "pip", "freeze", "--all"])
    assert (host_dpkg, host_freeze) == (image_dpkg, image_freeze)
