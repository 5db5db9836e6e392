"""Fixtures for host mode: a "bare host" image and containers made from it.

The bare host is a bootstrapped base (Debian 13; Ubuntu 24.04 and Debian 12 for the default
plan's tests) with only python3, python3-venv, sudo and the
host's CA certificates (the ca-certificates package, our *.crt files, update-ca-certificates)
added, plus devenv itself in its own venv (/opt/devenv-tool; its dependencies from PyPI, devenv
from a wheel of this source tree), two users — `dev` with passwordless sudo, `nosudo` with no
sudo rights — and nothing else. The image is built once per session (per worker: the
second from the engine's cache); every test container is fresh from it.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from devenv.container.engine import Engine
from devenv.render.labels import LABEL_PREFIX
from tests.integration.workers import locked

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SOURCE = Path(__file__).resolve().parents[2]
BARE_HOST = "devenv-test/bare-host:latest"
BARE_NOBLE_HOST = "devenv-test/bare-host-noble:latest"
BARE_BOOKWORM_HOST = "devenv-test/bare-host-bookworm:latest"
LABELS = {f"{LABEL_PREFIX}test": "host-install"}
LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")
# The engine's socket here and in a bare host: under /run, not /var/run (a symlink to it), where
# Docker 28 refuses copies into the container ("mkdirat var/run: path escapes from parent").
DOCKER_SOCKET = "/run/docker.sock"

DOCKERFILE = """\
FROM {base} AS bare
RUN apt-get -o DPkg::Lock::Timeout=120 update \\
 && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y \\
    --no-install-recommends python3 python3-venv sudo ca-certificates
COPY certs/ /usr/local/share/ca-certificates/host/
RUN update-ca-certificates
RUN useradd -m -s /bin/bash dev \\
 && printf 'dev ALL=(ALL) NOPASSWD: ALL\\n' > /etc/sudoers.d/dev \\
 && chmod 0440 /etc/sudoers.d/dev \\
 && useradd -m -s /bin/bash nosudo
COPY deps.txt /opt/devenv-deps.txt
RUN python3 -m venv /opt/devenv-tool \\
 && /opt/devenv-tool/bin/pip install --no-cache-dir -r /opt/devenv-deps.txt
COPY wheel/ /opt/devenv-wheel/
RUN /opt/devenv-tool/bin/pip install --no-cache-dir --no-deps /opt/devenv-wheel/*.whl \\
 && ln -s /opt/devenv-tool/bin/devenv /usr/local/bin/devenv
CMD ["sleep", "infinity"]
"""


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def build_wheel(target: Path) -> Path:
    """A wheel of this source tree, built from a copy (the tree itself gets no build files)."""
    with tempfile.TemporaryDirectory(prefix="devenv-src-") as tmp:
        src = Path(tmp)
        shutil.copytree(
            SOURCE / "devenv", src / "devenv", ignore=shutil.ignore_patterns("__pycache__")
        )
        for name in ("pyproject.toml", "README.md"):
            if (SOURCE / name).exists():
                shutil.copy2(SOURCE / name, src / name)
            else:
                (src / name).write_text("devenv\n")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "-w",
                str(target),
                str(src),
            ],
            check=True,
        )
    return next(target.glob("devenv-*.whl"))


def build_bare_host(engine: Engine, base: str, tag: str = BARE_HOST) -> str:
    """Built by one worker at a time: a second worker's build of the tag is then cached (but
    for devenv's own wheel, a few seconds)."""
    with locked(f"image-{tag}"), tempfile.TemporaryDirectory(prefix="devenv-bare-") as tmp:
        ctx = Path(tmp)
        (ctx / "certs").mkdir()
        for crt in sorted(LOCAL_CA_DIR.rglob("*.crt")) if LOCAL_CA_DIR.is_dir() else []:
            shutil.copy2(crt, ctx / "certs" / crt.name)
        project = tomllib.loads((SOURCE / "pyproject.toml").read_text())["project"]
        (ctx / "deps.txt").write_text("\n".join(project["dependencies"]) + "\n")
        build_wheel(ctx / "wheel")
        (ctx / "Dockerfile").write_text(DOCKERFILE.format(base=base))
        log(f"host tests: building {tag} from {base}")
        for message in engine.build(
            path=ctx,
            dockerfile="Dockerfile",
            target="bare",
            tag=tag,
            labels=LABELS,
            buildargs={},
            nocache=False,
        ):
            if "error" in message:
                raise AssertionError(f"building {tag} failed: {message['error']}")
            text = str(message.get("stream", "")).rstrip()
            if text.startswith("Step "):
                log(f"  {text}")
    return tag


@dataclass
class Host:
    """A running container of the bare host image."""

    engine: Engine
    id: str
    user: str  # who runs devenv in it
    project: str  # the project folder inside

    def run(
        self, argv: Sequence[str], *, user: str | None = None, timeout: int = 1500
    ) -> tuple[int, str]:
        """Run argv (bounded by coreutils' timeout) and return (exit code, stdout+stderr)."""
        api = self.engine.api
        exec_id = api.exec_create(
            self.id,
            ["timeout", "-k", "5", str(timeout), *argv],
            user=user or self.user,
            workdir="/",
        )
        saved, api.timeout = api.timeout, None  # an install runs longer than any API timeout
        try:
            output = api.exec_start(exec_id)
        finally:
            api.timeout = saved
        code = api.exec_inspect(exec_id)["ExitCode"]
        return int(code), output.decode("utf-8", "replace")

    def devenv(self, *args: str, user: str | None = None, timeout: int = 1500) -> tuple[int, str]:
        return self.run(["devenv", "-C", self.project, *args], user=user, timeout=timeout)

    def read(self, path: str) -> str:
        code, out = self.run(["cat", path], user="root", timeout=30)
        assert code == 0, out
        return out

    def put_project(self, source: Path, dest: str, owner: str) -> None:
        """Copy devenv.toml, devenv.lock and requirements files of `source` to `dest` (owner)."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for path in sorted(source.iterdir()):
                if path.is_file() and (
                    path.name in ("devenv.toml", "devenv.lock") or path.suffix == ".txt"
                ):
                    tar.add(path, arcname=path.name)
        code, out = self.run(["mkdir", "-p", dest], user="root", timeout=30)
        assert code == 0, out
        assert self.engine.api.put_archive(self.id, dest, buffer.getvalue())
        code, out = self.run(["chown", "-R", f"{owner}:{owner}", dest], user="root", timeout=30)
        assert code == 0, out


@pytest.fixture(scope="session")
def bare_host_image(engine: Engine, trixie_base: str) -> str:
    """Kept after the session: a rebuild then comes from the engine's cache."""
    return build_bare_host(engine, trixie_base)


@pytest.fixture(scope="session")
def bare_noble_host_image(engine: Engine, noble_base: str) -> str:
    """A bare Ubuntu 24.04 host: the default plan's own release."""
    return build_bare_host(engine, noble_base, BARE_NOBLE_HOST)


@pytest.fixture(scope="session")
def bare_bookworm_host_image(engine: Engine, bookworm_base: str) -> str:
    """A bare Debian 12 host: its archive has no PostgreSQL 16 with pgvector."""
    return build_bare_host(engine, bookworm_base, BARE_BOOKWORM_HOST)


def engine_socket() -> str:
    """The unix socket this test process talks to (DOCKER_HOST or the default)."""
    host = os.environ.get("DOCKER_HOST", "")
    return host.removeprefix("unix://") if host.startswith("unix://") else DOCKER_SOCKET


def start_host(
    engine: Engine,
    image: str,
    *,
    user: str,
    project: str,
    docker_socket: bool,
    init: bool = False,
) -> Host:
    """A fresh bare host; with docker_socket, the engine's socket appears at the default path;
    with init, a real PID 1 reaps orphans (as a machine's init does)."""
    binds = [f"{engine_socket()}:{DOCKER_SOCKET}"] if docker_socket else []
    container = engine.api.create_container(
        image=image,
        command=["sleep", "infinity"],
        labels=LABELS,
        host_config=engine.api.create_host_config(binds=binds, init=init or None),
    )
    engine.api.start(container)
    return Host(engine=engine, id=str(container["Id"]), user=user, project=project)


def stop_host(host: Host) -> None:
    host.engine.api.remove_container(host.id, force=True)


def put_tree(
    box: Host, source: Path, dest: str, owner: str, extra: Mapping[str, str] | None = None
) -> None:
    """Copy a project folder (subfolders too, not its SOURCE.md) into the host container, with
    `extra` files (relative path -> text) beside it, all owned by `owner`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(source.rglob("*")):
            if path.is_file() and path.name != "SOURCE.md":
                tar.add(path, arcname=str(path.relative_to(source)))
        for name, text in (extra or {}).items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    code, out = box.run(["mkdir", "-p", dest], user="root", timeout=30)
    assert code == 0, out
    assert box.engine.api.put_archive(box.id, dest, buffer.getvalue())
    code, out = box.run(["chown", "-R", f"{owner}:{owner}", dest], user="root", timeout=30)
    assert code == 0, out
