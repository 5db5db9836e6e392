"""The container user is you: `devenv up` (its setup tasks) and `devenv run` write in the
workspace as the caller's UID and GID, as root and as an unprivileged user (UID 1001), with the
team's image as built (no image per user).

UID 1001 reaches the engine the way a developer does: as a member of the group that owns the
engine's socket (`setpriv --reuid 1001 --regid 1001 --groups <the socket's GID>`), nothing more.
Every resource is named `hf-cu-…`, host ports 56601-56602; all are removed at the end.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import TRIXIE_PLAN, TRIXIE_REQUIREMENTS, log

SOCKET = "/run/docker.sock"  # /var/run/docker.sock through its symlink
UID = 1001
TASKS = '[tasks]\nsetup = ["python tasks/write.py setup-ran"]\n'
WRITE = """\
import os, sys
with open(sys.argv[1], "w") as out:
    out.write(f"{os.getuid()}:{os.getgid()} HOME={os.environ.get('HOME')}\\n")
"""


def write_project(root: Path, name: str, port: int) -> None:
    plan = TRIXIE_PLAN.replace('name = "itest"', f'name = "{name}"')
    plan = plan.replace("version = 17\n", f"version = 17\nhost_port = {port}\n")
    (root / "devenv.toml").write_text(plan + TASKS)
    (root / "requirements.txt").write_text(TRIXIE_REQUIREMENTS)
    (root / "tasks").mkdir()
    (root / "tasks" / "write.py").write_text(WRITE)


def as_caller(uid: int) -> list[str]:
    """The prefix that runs devenv as `uid`: root as it is; another UID in the socket's group
    only (what `usermod -aG docker` gives a developer)."""
    if uid == 0:
        return []
    group = os.stat(SOCKET).st_gid
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", f"--groups={group}", "--"]


@pytest.fixture(scope="module")
def python_for_all() -> Iterator[str]:
    """A Python with devenv installed that every UID can run: this interpreter lives in root's
    home. The system's python3, a venv outside any home, devenv installed from this checkout."""
    venv = Path(tempfile.mkdtemp(prefix="hf-cu-venv-"))
    venv.chmod(0o755)
    repo = Path(__file__).resolve().parents[2]
    uv = [sys.executable, "-m", "uv"]
    try:
        made = subprocess.run([*uv, "venv", "-q", "--allow-existing", "-p", "/usr/bin/python3",
                               str(venv)], capture_output=True, text=True, check=False)  # fmt: skip
        assert made.returncode == 0, made.stderr
        python = str(venv / "bin" / "python")
        done = subprocess.run([*uv, "pip", "install", "-q", "--python", python, "-e", str(repo)],
                              capture_output=True, text=True, check=False, timeout=900)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        yield python
    finally:
        shutil.rmtree(venv, ignore_errors=True)


def devenv(
    uid: int,
    root: Path,
    home: Path,
    *args: str,
    python: str = sys.executable,
    timeout: float = 1800,
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    argv = [*as_caller(uid), python, "-m", "devenv", "-C", str(root), *args]
    log(f"+ (uid {uid}) devenv {' '.join(args)}")
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    log(done.stdout[-3000:])
    log(done.stderr[-3000:])
    return done


@pytest.fixture
def place() -> Iterator[Path]:
    """A folder every UID can reach (pytest's own tmp folders are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="hf-cu-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(
    ("uid", "name", "port"), [(0, "hf-cu-root", 56601), (UID, "hf-cu-u1001", 56602)]
)
def test_up_tasks_and_run_write_in_the_workspace_as_the_caller(
    place: Path, python_for_all: str, uid: int, name: str, port: int
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root, to act as root and as UID 1001")
    root, home = place / name, place / f"{name}-home"
    root.mkdir()
    home.mkdir()
    write_project(root, name, port)

    def run(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        python = sys.executable if uid == 0 else python_for_all
        return devenv(uid, root, home, *args, python=python, timeout=timeout)

    for path in (root, home, *root.rglob("*")):
        os.chown(path, uid, uid)
    try:
        up = run("up", "--no-verify")
        assert up.returncode == 0, up.stderr[-4000:]
        assert "tasks     1/1 ran" in up.stdout
        made = root / "setup-ran"
        info = made.stat()
        assert (info.st_uid, info.st_gid) == (uid, uid), made.read_text()
        assert made.read_text().startswith(f"{uid}:{uid} ")

        ran = run("run", "--container", "--", "python", "tasks/write.py", "run-made")
        assert ran.returncode == 0, ran.stderr
        info = (root / "run-made").stat()
        assert (info.st_uid, info.st_gid) == (uid, uid)

        # 127 and 126, as a shell says, through the same path.
        missing = run("run", "--container", "--", "no-such-program")
        assert missing.returncode == 127, missing.stderr
        (root / "not-exec").write_text("#!/bin/sh\n")
        os.chown(root / "not-exec", uid, uid)
        denied = run("run", "--container", "--", "./not-exec")
        assert denied.returncode == 126, denied.stderr
        who = run("run", "--container", "--", "id")
        assert who.returncode == 0 and who.stdout.startswith(f"uid={uid}("), who.stdout
        shown = subprocess.run(["ls", "-ln", str(root)], capture_output=True, text=True)
        log(f"demonstration (caller UID {uid}):\n{up.stdout}{who.stdout}{shown.stdout}"
            f"setup-ran: {made.read_text()}")  # fmt: skip
        # Nothing in the workspace belongs to anyone else.
        strangers = [
            str(p)
            for p in (root, *root.rglob("*"))
            if p.lstat().st_uid != uid and not stat.S_ISLNK(p.lstat().st_mode)
        ]
        assert strangers == []
    finally:
        down = run("down", "--volumes", timeout=300)
        log(f"down: {down.returncode}")
        for target in ("dev", "db"):
            subprocess.run(
                ["docker", "image", "rm", f"devenv/{name}-{target}:latest"],
                capture_output=True,
                check=False,
            )
