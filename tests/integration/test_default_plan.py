"""The default plan — what `devenv init` writes, untouched — end to end, as a new user on this
machine meets it: no ubuntu:24.04 image on the engine, no registry, and (on Debian 12) no Ubuntu
keyring on the host.

init → base → build → verify → up → down, in order; then host-install of the same plan on a
bare Ubuntu 24.04 host as a sudo user (first run, a second that changes nothing, --with-db with
a pgvector query, parity with the images just built), and the same plan refused cleanly on a
bare Debian 12 host with its packages unchanged. VS Code's path (the Dev Containers CLI) runs
on the default plan in test_devcontainer, through the example backend.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv.container.bootstrap.keyring import UBUNTU_KEYRING
from devenv.container.bootstrap.pipeline import LAYOUT
from devenv.container.engine import Engine
from devenv.render.labels import LABEL_BOOTSTRAPPED, LABEL_LAYOUT
from tests.conftest import REQUIREMENTS
from tests.integration.conftest import NOBLE, RunContainer, devenv_cli, log, run_networked
from tests.integration.conftest_host import (
    Host,
    bare_bookworm_host_image,  # noqa: F401 (a fixture)
    bare_noble_host_image,  # noqa: F401 (a fixture)
    start_host,
    stop_host,
)
from tests.integration.test_host_install import (
    VECTOR_ROUND_TRIP,
    install_json,
    report,
    snapshot,
    statuses,
)

NAME = "itest-default"  # the folder's name: init names the environment after it


def compose(*args: str) -> subprocess.CompletedProcess[str]:
    argv = ["docker", "compose", "--project-name", NAME, *args]
    log("+ " + " ".join(argv))
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("default") / NAME
    root.mkdir()
    (root / "requirements.txt").write_text(REQUIREMENTS)
    try:
        yield root
    finally:
        compose("down", "--volumes", "--remove-orphans")


def cli(project: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    done = devenv_cli("-C", str(project), *args, timeout=timeout)
    log(f"devenv {' '.join(args)}: exit {done.returncode}")
    return done


def test_init_writes_the_default_plan(project: Path) -> None:
    done = cli(project, "init")
    assert done.returncode == 0, done.stderr
    plan = (project / "devenv.toml").read_text()
    assert 'base = "ubuntu:24.04"' in plan and "version = 16" in plan


@pytest.mark.engine_exclusive  # other workers' tests use ubuntu:24.04: it is gone meanwhile
def test_base_bootstraps_noble_when_no_registry_answers(
    project: Path, engine: Engine, run_container: RunContainer
) -> None:
    for ref in (NOBLE, "ubuntu:noble"):  # start as a new machine would: no such image
        if engine.image_exists(ref):
            engine.api.remove_image(ref, force=True, noprune=True)  # untag; children keep it
    done = cli(project, "base")
    assert done.returncode == 0, done.stderr[-4000:]
    assert "no registry answered for ubuntu:24.04" in done.stderr
    if not UBUNTU_KEYRING.exists():
        assert "fetching ubuntu-keyring" in done.stderr
    assert done.stdout.startswith("ubuntu:24.04: bootstrapped")
    # One image under both names of the release.
    assert engine.image_id(NOBLE) == engine.image_id("ubuntu:noble")
    labels = engine.image_labels(NOBLE)
    assert labels[LABEL_BOOTSTRAPPED] == "true" and labels[LABEL_LAYOUT] == LAYOUT

    again = cli(project, "base")
    assert again.returncode == 0 and "already present" in again.stdout, again.stderr


def test_the_base_sees_every_component_and_the_security_suite(
    run_container: RunContainer, engine: Engine
) -> None:
    code, output = run_networked(
        engine,
        NOBLE,
        "apt-get update -qq && apt-cache policy && apt-cache policy postgresql-16-pgvector "
        "python3-venv && du -sk /var/cache/apt",
    )
    assert code == 0, output[-3000:]
    for suite in ("noble/universe", "noble-updates/main", "noble-security/main"):
        assert f" {suite} amd64 Packages" in output, output[-3000:]
    assert "noble-backports/" in output
    assert re.search(r"postgresql-16-pgvector:\n\s+Installed: \(none\)\n\s+Candidate: 0\.6", output)
    # apt keeps no .deb files and no binary caches after it ran (the base's docker-clean).
    assert int(output.split()[-2]) < 1024, output[-200:]


def test_build_makes_both_images_without_apt_caches(
    project: Path, engine: Engine, run_container: RunContainer
) -> None:
    done = cli(project, "build", "--json")
    assert done.returncode == 0, done.stderr[-6000:]
    data = json.loads(done.stdout)
    assert data["ok"] is True and set(data["images"]) == {"dev", "db"}
    for target in ("dev", "db"):
        ref = data["images"][target]
        code, out = run_container(
            ref, ["du", "-sk", "/var/cache/apt", "/var/lib/apt/lists"], user="root"
        )
        assert code == 0, out
        sizes = [int(line.split()[0]) for line in out.splitlines()]
        assert max(sizes) < 1024, f"{ref}: {out}"  # under 1 MB each
        size = engine.inspect_image(ref)["Size"]  # type: ignore[index]
        log(f"{ref}: {size / 1e6:.0f} MB; /var/cache/apt {sizes[0]} kB")


def test_verify_proves_postgresql_16_and_the_archives_pgvector(project: Path) -> None:
    done = cli(project, "verify", "--json", timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert all(c["ok"] for c in checks.values()), checks
    assert checks["db-server-version"]["detail"].startswith("PostgreSQL 16.")
    assert "0.6.0" in checks["db-extension-vector-version"]["detail"]


def test_up_then_down(project: Path) -> None:
    up = cli(project, "up", timeout=900)
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-4000:]
    assert "checks passed" in up.stdout
    assert re.search(r"database  \w+@app, PostgreSQL 16\.", up.stdout), up.stdout
    down = cli(project, "down", "--volumes", timeout=300)
    assert down.returncode == 0, down.stderr[-3000:]
    listed = compose("ps", "--all", "-q")
    assert listed.returncode == 0 and listed.stdout.strip() == ""


# -- host mode: the same plan, natively ---------------------------------------------------------


@pytest.fixture(scope="module")
def noble_host(
    engine: Engine,
    bare_noble_host_image: str,  # noqa: F811
    project: Path,
) -> Iterator[Host]:
    box = start_host(
        engine,
        bare_noble_host_image,
        user="dev",
        project=f"/home/dev/{NAME}",
        docker_socket=True,
    )
    try:
        box.put_project(project, box.project, "dev")
        yield box
    finally:
        stop_host(box)


def test_host_install_on_ubuntu_as_a_sudo_user(noble_host: Host) -> None:
    code, out = install_json(noble_host, "/tmp/first.json")
    assert code == 0, out[-5000:]
    first = statuses(report(noble_host, "/tmp/first.json"))
    assert first["system-packages"] == first["requirements"] == "changed"
    code, out = noble_host.run(
        [f"{noble_host.project}/.venv/bin/python", "-c", "import fastapi, pgvector.psycopg"]
    )
    assert code == 0, out

    code, out = install_json(noble_host, "/tmp/second.json")
    assert code == 0, out[-3000:]
    assert report(noble_host, "/tmp/second.json")["changed"] == 0, out


def test_host_install_with_db_answers_a_pgvector_query(noble_host: Host) -> None:
    code, out = noble_host.devenv("host-install", "--with-db")
    assert code == 0, out[-5000:]
    urls = re.findall(r"^DATABASE_URL=(\S+)$", out, re.M)
    assert urls, out[-2000:]
    code, out = noble_host.run(
        [f"{noble_host.project}/.venv/bin/python", "-c", VECTOR_ROUND_TRIP, urls[-1]]
    )
    assert (code, out.strip()) == (0, "2 [4.0, 5.0, 6.0]"), out


def test_parity_finds_no_difference_with_the_images(noble_host: Host) -> None:
    code, out = noble_host.devenv("parity", "--with-db", user="root", timeout=600)
    assert code == 0, out[-5000:]
    assert "parity: no difference" in out


def test_debian_12_refuses_the_default_plan_and_changes_nothing(
    engine: Engine,
    bare_bookworm_host_image: str,  # noqa: F811
    project: Path,
) -> None:
    box = start_host(
        engine, bare_bookworm_host_image, user="dev", project=f"/home/dev/{NAME}",
        docker_socket=False,
    )  # fmt: skip
    try:
        box.put_project(project, box.project, "dev")
        before = snapshot(box)
        for args in (
            ("host-install",),
            ("host-install", "--dry-run"),
            ("host-install", "--with-db"),
        ):
            code, out = box.devenv(*args)
            errors = [line for line in out.splitlines() if line.startswith("devenv: error:")]
            assert code == 2, out
            assert errors == [
                "devenv: error: this host is Debian 12 (bookworm): its archive has no PostgreSQL "
                "16 with pgvector, which the plan needs (it is written for Ubuntu 24.04 (noble)) "
                '(use [postgres] source = "pgdg" (the PostgreSQL apt repository), or `devenv up` '
                "(the Ubuntu 24.04 (noble) image))"
            ], out
            assert "Traceback" not in out
        assert snapshot(box) == before  # dpkg -l and the project folder, unchanged

        code, out = box.devenv("doctor")
        assert code == 1, out
        assert "host-install" not in "\n".join(
            line for line in out.splitlines() if line.strip().startswith("fix:")
        ), out
    finally:
        stop_host(box)
