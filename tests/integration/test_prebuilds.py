"""Team prebuilds with the real parts (scripts/services.sh starts them; .ci/run does in CI):
Debian's docker-registry with TLS from its own CA and htpasswd auth, a second dockerd over
TCP+TLS with an empty image store (the teammate's machine), and Podman's Docker API.

The core scenario: "CI" builds and pushes on the main engine; the teammate runs `devenv up`
on the second engine and gets images with the same ids, `pip freeze` and `dpkg-query` sets,
with zero build steps; a changed requirement gives a new tag and a miss, which the teammate's
engine builds (over TCP+TLS) and pushes, and CI pulls. Each run uses a namespace of its own,
so the registry starts empty for it. A small plan: the default plan is not the point here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv.container.engine import Engine, run_in_image
from devenv.container.tags import base_identity
from tests.integration.conftest import devenv_cli, log

ROOT = Path(__file__).resolve().parents[2]
NAME = "dvp14-pre"
PLAN = """\
[environment]
name = "{name}"
base = "debian:trixie"
{registry}

[system]
packages = []

[postgres]
version = 17
host_port = {port}

[python]
requirements = ["requirements.txt"]
smoke = ["psycopg"]

[devcontainer]
forward_ports = []
"""
REQUIREMENTS = "psycopg[binary]==3.3.9\npgvector==0.5.1\n"
CHANGED = REQUIREMENTS + "six==1.17.0\n"
PIP_FREEZE = ["/opt/venv/bin/python", "-m", "pip", "freeze", "--all"]
DPKG = ["dpkg-query", "-W", "-f", "${Package}=${Version}\\n"]
TC_ENV = {"TESTCONTAINERS_RYUK_DISABLED": "true", "TESTCONTAINERS_CONNECTION_MODE": "docker_host"}


def _services(*names: str) -> dict[str, str]:
    started = subprocess.run(
        ["bash", str(ROOT / "scripts" / "services.sh"), "start", *names],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert started.returncode == 0, started.stderr[-3000:]
    printed = subprocess.run(
        ["bash", str(ROOT / "scripts" / "services.sh"), "env", *names],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return dict(line.split("=", 1) for line in printed.stdout.splitlines() if "=" in line)


@pytest.fixture(scope="module")
def services() -> dict[str, str]:
    return _services("registry", "remote")


@pytest.fixture(scope="module")
def docker_config(services: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A docker CLI config that `docker login` wrote: where devenv must find the credentials."""
    config = tmp_path_factory.mktemp("docker-config")
    password = Path(services["DEVENV_TEST_REGISTRY_PASSWORD_FILE"]).read_text().strip()
    argv = ["docker", "--config", str(config), "login", services["DEVENV_TEST_REGISTRY"]]
    argv += ["--username", services["DEVENV_TEST_REGISTRY_USER"], "--password-stdin"]
    login = subprocess.run(
        argv, input=password, capture_output=True, text=True, timeout=60, check=False
    )
    assert login.returncode == 0, login.stderr
    return config


def _remote_env(services: dict[str, str]) -> dict[str, str]:
    return {
        "DOCKER_HOST": services["DEVENV_TEST_REMOTE_HOST"],
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": services["DEVENV_TEST_REMOTE_CERT_PATH"],
    }


@pytest.fixture(scope="module")
def teammate(services: dict[str, str]) -> Iterator[Engine]:
    """The second engine, emptied: it is this test's own (no other helper uses it)."""
    with Engine.connect(_remote_env(services)) as engine:
        for container in engine.api.containers(all=True):
            engine.api.remove_container(container["Id"], force=True, v=True)
        for image in engine.api.images(all=True):
            with contextlib.suppress(Exception):  # removing a child removed its parents too
                engine.api.remove_image(image["Id"], force=True)
        for volume in engine.api.volumes().get("Volumes") or []:
            engine.api.remove_volume(volume["Name"], force=True)
        for network in engine.api.networks():
            if network["Name"] not in ("bridge", "host", "none"):
                engine.api.remove_network(network["Id"])
        assert engine.api.images() == []
        yield engine


def _project(root: Path, registry: str, requirements: str, port: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    line = f'registry = "{registry}"'
    (root / "devenv.toml").write_text(PLAN.format(name=NAME, registry=line, port=port))
    (root / "requirements.txt").write_text(requirements)
    return root


def _contents(engine: Engine, ref: str, argv: list[str]) -> set[str]:
    code, out, err = run_in_image(engine, ref, argv)
    assert code == 0, err
    return {line for line in out.splitlines() if line.strip()}


def _build_json(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.returncode == 0, result.stderr[-4000:]
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_ci_pushes_and_the_teammate_gets_the_same_images(
    engine: Engine,
    trixie_base: str,
    services: dict[str, str],
    docker_config: Path,
    teammate: Engine,
    tmp_path: Path,
) -> None:
    registry = f"{services['DEVENV_TEST_REGISTRY']}/dvp14-{uuid.uuid4().hex[:8]}"
    creds = {"DOCKER_CONFIG": str(docker_config)}
    ci = _project(tmp_path / "ci", registry, REQUIREMENTS, 5431)
    mate = _project(tmp_path / "teammate", registry, REQUIREMENTS, 5442)
    mate_env = {**creds, **TC_ENV, **_remote_env(services)}

    for target in ("dev", "db"):  # an earlier run's images would be current: start without
        engine.remove_image(f"devenv/{NAME}-{target}:latest")

    # CI: the registry is empty for this namespace, so a miss, a build, and a push.
    built = _build_json(devenv_cli("-C", str(ci), "build", "--json", env=creds))
    tags = built["tags"]
    assert isinstance(tags, dict) and set(tags) == {"dev", "db"}
    assert built["pulled"] == {} and built["steps_total"]
    published = devenv_cli("-C", str(ci), "push", env=creds)
    assert published.returncode == 0, published.stderr[-3000:]
    pushed = {line.split()[1].split("@")[0] for line in published.stdout.splitlines()}
    assert {f"{registry}/{NAME}-{t}:{tags[t]}" for t in tags} <= pushed
    assert {f"{registry}/{NAME}-{t}:latest" for t in tags} <= pushed
    assert f"{registry}/{NAME}-base:debian-trixie" in pushed
    ci_ids = {t: engine.image_id(f"devenv/{NAME}-{t}:latest") for t in tags}

    # A rebuild on CI: the tag is the same, nothing runs.
    again = _build_json(devenv_cli("-C", str(ci), "build", "--json", env=creds))
    assert again["tags"] == tags and again["steps_total"] == 0
    assert sorted(again["current"]) == ["db", "dev"]  # type: ignore[call-overload]

    # The teammate: an empty engine, a fresh checkout; `devenv up` pulls, builds nothing.
    try:
        up = devenv_cli("-C", str(mate), "up", env=mate_env)
        assert up.returncode == 0, up.stderr[-4000:] + up.stdout[-2000:]
        log(up.stdout)
        assert "(0 steps, 0 cached" in up.stdout and "; 2 pulled from the registry)" in up.stdout
        assert "pulling the team's" in up.stderr  # the base came from the registry too
        for target, tag in tags.items():
            assert f"registry: pulling {registry}/{NAME}-{target}:{tag}" in up.stderr
            ref = f"devenv/{NAME}-{target}:latest"
            assert teammate.image_id(ref) == ci_ids[target]
            assert _contents(teammate, ref, DPKG) == _contents(engine, ref, DPKG)
        dev = f"devenv/{NAME}-dev:latest"
        assert _contents(teammate, dev, PIP_FREEZE) == _contents(engine, dev, PIP_FREEZE)
        assert "psycopg==3.3.9" in _contents(teammate, dev, PIP_FREEZE)
    finally:
        down = devenv_cli("-C", str(mate), "down", "--volumes", env=mate_env)
        assert down.returncode == 0, down.stderr

    # A changed requirement: a new dev tag, which the registry does not have (one line, exit 1);
    # the db image does not depend on it.
    (mate / "requirements.txt").write_text(CHANGED)
    missed = devenv_cli("-C", str(mate), "pull", env=mate_env)
    assert missed.returncode == 1, missed.stderr
    error = missed.stderr.strip().splitlines()[-1]
    assert error.startswith(f"devenv: error: the registry {registry} has no images"), error
    assert "dev (" in error and "db (" not in error

    # The teammate's engine builds the miss over TCP+TLS and publishes it.
    rebuilt = _build_json(devenv_cli("-C", str(mate), "build", "--push", "--json", env=mate_env))
    new_tags = rebuilt["tags"]
    assert isinstance(new_tags, dict)
    assert new_tags["dev"] != tags["dev"] and new_tags["db"] == tags["db"]
    assert rebuilt["current"] == ["db"] and rebuilt["steps_total"]
    mate_dev = teammate.image_id(f"devenv/{NAME}-dev:latest")

    # CI, on the same change, pulls what the teammate pushed: the same image.
    (ci / "requirements.txt").write_text(CHANGED)
    pulled = devenv_cli("-C", str(ci), "pull", env=creds)
    assert pulled.returncode == 0, pulled.stderr
    assert f"dev: pulled {registry}/{NAME}-dev:{new_tags['dev']}" in pulled.stdout
    assert "db: current on the engine" in pulled.stdout
    assert engine.image_id(f"devenv/{NAME}-dev:latest") == mate_dev
    assert "six==1.17.0" in _contents(engine, f"devenv/{NAME}-dev:latest", PIP_FREEZE)


def test_two_projects_in_one_namespace_keep_their_own_base(
    engine: Engine,
    trixie_base: str,
    services: dict[str, str],
    docker_config: Path,
    tmp_path: Path,
) -> None:
    """Two projects push to one namespace, on the same release but different bases (the second
    one's is debian:trixie plus a label, as another CI's bootstrap would differ): each base is
    in the registry under its project's name, and the second push leaves the first one's."""
    registry = f"{services['DEVENV_TEST_REGISTRY']}/devenv-prebuilds-{uuid.uuid4().hex[:8]}"
    creds = {"DOCKER_CONFIG": str(docker_config)}
    other_base = "devenv-prebuilds-b/debian:trixie"
    made = subprocess.run(
        ["docker", "build", "-q", "-t", other_base, "-"],
        input=f"FROM {trixie_base}\nLABEL dev.devenv.test=devenv-prebuilds-b\n",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    projects = {"devenv-prebuilds-a": trixie_base, "devenv-prebuilds-b": other_base}
    expected = {
        name: base_identity(engine.inspect_image(base) or {}) for name, base in projects.items()
    }
    assert expected["devenv-prebuilds-a"] != expected["devenv-prebuilds-b"]
    try:
        for port, (name, base) in enumerate(projects.items(), start=5437):
            root = tmp_path / name
            root.mkdir()
            plan = PLAN.format(name=name, registry=f'registry = "{registry}"', port=port)
            (root / "devenv.toml").write_text(plan.replace('"debian:trixie"', f'"{base}"'))
            (root / "requirements.txt").write_text(REQUIREMENTS)
            built = _build_json(devenv_cli("-C", str(root), "build", "--push", "--json", env=creds))
            pushed = {ref.split("@")[0] for ref in built["pushed"]}  # type: ignore[union-attr]
            short = expected[name].removeprefix("sha256:")[:16]
            assert {f"{registry}/{name}-base:debian-trixie",
                    f"{registry}/{name}-base:debian-trixie-{short}"} <= pushed  # fmt: skip
        # What a teammate of each project pulls: its own base, whoever pushed last.
        for name in projects:
            ref = f"{registry}/{name}-base:debian-trixie"
            engine.remove_image(ref)
            argv = ["docker", "--config", str(docker_config), "pull", "-q", ref]
            pulled = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
            assert pulled.returncode == 0, pulled.stderr
            assert base_identity(engine.inspect_image(ref) or {}) == expected[name], name
    finally:
        for name in projects:
            for target in ("dev", "db"):
                engine.remove_image(f"devenv/{name}-{target}:latest")
        for image in engine.api.images():  # untag only: the bases are others' images too
            for tag in image.get("RepoTags") or []:
                if tag.startswith(f"{registry}/"):
                    engine.remove_image(tag)
        engine.remove_image(other_base)


def test_credentials_come_from_the_docker_config(
    services: dict[str, str], tmp_path: Path, trixie_base: str
) -> None:
    """No `docker login`: the registry refuses, and devenv says how to fix it in one line."""
    registry = f"{services['DEVENV_TEST_REGISTRY']}/dvp14-{uuid.uuid4().hex[:8]}"
    project = _project(tmp_path / "p", registry, REQUIREMENTS, 5433)
    empty = tmp_path / "no-login"
    empty.mkdir()
    result = devenv_cli("-C", str(project), "pull", env={"DOCKER_CONFIG": str(empty)})
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert "devenv: error:" in error
    assert "docker login" in error or "no basic auth credentials" in error, error


@pytest.fixture(scope="module")
def podman(trixie_base: str) -> dict[str, str]:
    return {"DOCKER_HOST": _services("podman")["DEVENV_TEST_PODMAN_HOST"], **TC_ENV}


def test_podman_build_verify_up_down_and_the_dev_containers_cli(
    podman: dict[str, str], tmp_path: Path
) -> None:
    """Through Podman's Docker-compatible socket: the base is copied over from this machine's
    engine, the build's STEP lines are read, verify and up work (devenv runs the healthchecks
    Podman would run from systemd timers), down removes everything."""
    name = "dvp14-pod"
    root = tmp_path / "pod"
    root.mkdir()
    (root / "devenv.toml").write_text(PLAN.format(name=name, registry="", port=5434))
    (root / "requirements.txt").write_text(REQUIREMENTS)
    built = _build_json(devenv_cli("-C", str(root), "build", "--json", env=podman))
    assert built["steps_total"], "Podman's build stream was read as no steps"
    try:
        up = devenv_cli("-C", str(root), "up", env=podman)
        assert up.returncode == 0, up.stderr[-4000:] + up.stdout[-2000:]
        assert re.search(r"verify +(\d+)/\1 checks passed", up.stdout), up.stdout
        assert "db running (healthy)" in up.stdout
        ran = devenv_cli("-C", str(root), "run", "--", "python", "-c", "import psycopg", env=podman)
        assert ran.returncode == 0, ran.stderr
    finally:
        down = devenv_cli("-C", str(root), "down", "--volumes", env=podman)
        assert down.returncode == 0, down.stderr

    # The Dev Containers CLI (what VS Code runs) on the same files and socket. Two settings of
    # the machine, not of devenv: DOCKER_BUILDKIT=0 (else Compose starts a BuildKit container
    # it must pull), and healthchecks, which Podman runs from systemd timers and this machine
    # has no systemd: the test runs them as the timers would (else `depends_on:
    # service_healthy` never passes and `devcontainer up` waits forever).
    cli = shutil.which("devcontainer")
    assert cli, "the Dev Containers CLI is missing (scripts/dev-setup.sh installs it)"
    env = {**os.environ, **podman, "DOCKER_BUILDKIT": "0"}
    stop = threading.Event()

    def timers() -> None:
        with Engine.connect({"DOCKER_HOST": podman["DOCKER_HOST"]}) as pod:
            while not stop.wait(1.0):
                pod.run_healthchecks(name)

    thread = threading.Thread(target=timers, daemon=True)
    thread.start()
    try:
        argv = [cli, "up", "--workspace-folder", str(root)]
        up = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
        assert up.returncode == 0, up.stderr[-3000:] + up.stdout[-2000:]
        assert json.loads(up.stdout.strip().splitlines()[-1])["outcome"] == "success"
        probe = "import os, psycopg; print(os.getcwd(), psycopg.__version__)"
        argv = [cli, "exec", "--workspace-folder", str(root), "python", "-c", probe]
        ran_there = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert ran_there.returncode == 0, ran_there.stderr
        assert ran_there.stdout.split()[-2:] == ["/workspace", "3.3.9"], ran_there.stdout
    finally:
        stop.set()
        thread.join(timeout=10)
        down = devenv_cli("-C", str(root), "down", "--volumes", env=podman)
        assert down.returncode == 0, down.stderr
    with Engine.connect({"DOCKER_HOST": podman["DOCKER_HOST"]}) as pod:
        label = f"com.docker.compose.project={name}"
        assert pod.api.containers(all=True, filters={"label": label}) == []
        assert not pod.volume_exists(f"{name}_db-data")
