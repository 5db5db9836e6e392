"""VS Code's "Reopen in Container", run for real with the Dev Containers CLI (the reference
implementation VS Code runs) on a freshly generated project of the default plan (Ubuntu 24.04 +
PostgreSQL 16): the example backend (examples/backend), renamed and on its own port.

The CLI is run as VS Code would be: by an ordinary host user in the docker group who owns the
workspace. As root the test makes one for itself (UID 1234, or the next free one) and removes
it afterwards; as any other user it runs the CLI as that user. Inside, `devcontainer exec`
checks pip, the smoke imports, psycopg + pgvector through DATABASE_URL, who owns what the
container writes to the workspace, and runs the example's own tests against the db service.

Builds: the CLI runs `docker compose build`. With DOCKER_BUILDKIT=0 compose uses the classic
builder, whose layer cache `devenv build` already filled for the same base and steps, so the
images come in seconds; set DEVENV_TEST_BUILDKIT=1 to let compose use BuildKit as it does on
most desktops (a first build then takes minutes). Whatever happens, the services, network,
volume, the CLI's images, the workspace and the user are removed at the end.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devenv.container.compose import parse_ps
from devenv.plan.model import load_plan
from tests.integration.conftest import devenv_cli, log

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "backend"
SOURCES = (
    "devenv.toml", "requirements.txt", "pyproject.toml", "alembic.ini", "app", "db", "migrations",
    "tests",
)  # fmt: skip
LOCAL = (
    '[devcontainer]\nextensions = ["vscodevim.vim"]\nsettings = { "editor.fontSize" = 17 }\n'
    '[system]\npackages = ["jq"]\n'  # compose builds this machine's app image
)
NAME = "itest-dc"
PORT = 55442
USER = "devenvit"
FIRST_UID = 1234
PASSTHROUGH = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "TMPDIR")


@dataclass(frozen=True)
class HostUser:
    name: str
    uid: int
    gid: int
    home: Path
    created: bool  # made by this test (run through runuser), else the user running the tests


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    log("+ " + shlex.join(argv))
    kwargs.setdefault("timeout", 120)
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)


def free_id(first: int) -> int:
    for number in range(first, first + 100):
        try:
            pwd.getpwuid(number)
            continue
        except KeyError:
            pass
        try:
            grp.getgrgid(number)
            continue
        except KeyError:
            return number
    raise AssertionError(f"no free UID/GID between {first} and {first + 99}")


def remove_user(name: str) -> None:
    run(["userdel", "--remove", name])
    run(["groupdel", name])  # when userdel left it


@pytest.fixture(scope="module")
def host_user() -> Iterator[HostUser]:
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        yield HostUser(me.pw_name, me.pw_uid, me.pw_gid, Path(me.pw_dir), created=False)
        return
    try:
        grp.getgrnam("docker")
    except KeyError:
        pytest.fail("no 'docker' group: the engine's socket can't be shared", pytrace=False)
    try:
        pwd.getpwnam(USER)
        remove_user(USER)  # left by a run that was killed
    except KeyError:
        try:
            grp.getgrnam(USER)
            run(["groupdel", USER])  # a killed run's group without its user
        except KeyError:
            pass
    number = free_id(FIRST_UID)
    made = run(["groupadd", "--gid", str(number), USER])
    assert made.returncode == 0, made.stderr
    ids = ["--uid", str(number), "--gid", str(number), "--groups", "docker"]
    made = run(["useradd", "--create-home", *ids, "--shell", "/bin/sh", USER])
    assert made.returncode == 0, made.stderr
    try:
        yield HostUser(USER, number, number, Path(pwd.getpwnam(USER).pw_dir), created=True)
    finally:
        remove_user(USER)
        shutil.rmtree(Path(tempfile.gettempdir()) / f"devcontainercli-{USER}", ignore_errors=True)


def user_env(user: HostUser) -> dict[str, str]:
    if user.created:
        env = {"HOME": str(user.home), "USER": user.name, "LOGNAME": user.name}
        env |= {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG": "C.UTF-8"}
        env |= {k: os.environ[k] for k in PASSTHROUGH if os.environ.get(k)}
    else:
        env = dict(os.environ)
    if not os.environ.get("DEVENV_TEST_BUILDKIT"):
        env["DOCKER_BUILDKIT"] = "0"
    return env


def as_user(
    user: HostUser, argv: list[str], *, cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    prefix = ["runuser", "-u", user.name, "--"] if user.created else []
    return run(prefix + argv, env=user_env(user), cwd=cwd, timeout=timeout)


def devcontainer_cli() -> str:
    found = shutil.which("devcontainer")
    if found is None:
        pytest.fail(
            "the Dev Containers CLI is not installed: run scripts/dev-setup.sh", pytrace=False
        )
    return found


def chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(Path(folder) / name, uid, gid, follow_symlinks=False)


def remove_project(workspace: Path) -> None:
    """The services, network and volume; the images, the CLI's named after the folder."""
    run(["docker", "compose", "--project-name", NAME, "down", "--volumes", "--remove-orphans"])
    cli_images = f"reference=vsc-{workspace.name.lower()}-*"
    filters = ["--filter", cli_images, "--filter", f"reference=devenv/{NAME}-*"]
    images = run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", *filters])
    refs = images.stdout.split()
    if refs:
        run(["docker", "image", "rm", *refs])


@pytest.fixture(scope="module")
def workspace(host_user: HostUser, noble_base: str) -> Iterator[Path]:
    """The example's sources in a folder the user owns, generated afresh. In the system temp
    folder: pytest's own temporary folders are private to the user running the tests."""
    root = Path(tempfile.mkdtemp(prefix="devenv-dc-"))
    try:
        for name in SOURCES:
            source = EXAMPLE / name
            if source.is_dir():
                shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, root / name)
        plan = root / "devenv.toml"
        text = re.sub(r'(?m)^name = "docsearch"', f'name = "{NAME}"', plan.read_text())
        text = re.sub(r"(?m)^host_port = \d+", f"host_port = {PORT}", text)
        plan.write_text(text)
        assert load_plan(root).environment.name == NAME
        # This machine's own VS Code part (devenv.local.toml): never in the committed files.
        (root / "devenv.local.toml").write_text(LOCAL)
        generated = devenv_cli("-C", str(root), "generate")
        assert generated.returncode == 0, generated.stderr
        if host_user.created:
            chown_tree(root, host_user.uid, host_user.gid)
        yield root
    finally:
        remove_project(root)
        shutil.rmtree(root, ignore_errors=True)


def last_json(text: str) -> Mapping[str, Any]:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            data: Mapping[str, Any] = json.loads(line)
            return data
    return {}


@pytest.fixture(scope="module")
def container(host_user: HostUser, workspace: Path) -> Mapping[str, Any]:
    up = as_user(
        host_user,
        [devcontainer_cli(), "up", "--workspace-folder", str(workspace)],
        cwd=workspace,
        timeout=1500,
    )
    outcome = last_json(up.stdout)
    assert up.returncode == 0 and outcome.get("outcome") == "success", (
        f"devcontainer up exited {up.returncode}: {outcome}\n{up.stderr[-6000:]}"
    )
    return outcome


def dc_exec(
    user: HostUser, workspace: Path, *argv: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    argv_ = [devcontainer_cli(), "exec", "--workspace-folder", str(workspace), *argv]
    return as_user(user, argv_, cwd=workspace, timeout=timeout)


def test_devcontainer_up_starts_app_as_dev_with_the_db(container: Mapping[str, Any]) -> None:
    assert container["composeProjectName"] == NAME
    assert container["remoteUser"] == "dev"
    assert container["remoteWorkspaceFolder"] == "/workspace"
    listed = run(["docker", "compose", "--project-name", NAME, "ps", "--format", "json"])
    states = {s.service: s.state for s in parse_ps(listed.stdout)}
    assert states == {"app": "running", "db": "running"}, listed.stdout


def test_pip_check_and_the_smoke_imports(
    container: Mapping[str, Any], host_user: HostUser, workspace: Path
) -> None:
    checked = dc_exec(host_user, workspace, "python", "-m", "pip", "check")
    assert checked.returncode == 0 and "No broken requirements found" in checked.stdout, (
        checked.stdout + checked.stderr[-3000:]
    )
    smoke = load_plan(workspace).python.smoke
    code = f"import sys, {', '.join(smoke)}; print(sys.prefix)"
    imported = dc_exec(host_user, workspace, "python", "-c", code)
    assert imported.returncode == 0, imported.stderr[-3000:]
    assert imported.stdout.strip().splitlines()[-1] == "/opt/venv"


PGVECTOR_QUERY = """
import json, os, psycopg
from pgvector.psycopg import register_vector
url = os.environ["DATABASE_URL"]
with psycopg.connect(url, autocommit=True) as conn:
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)
    conn.execute("CREATE TEMP TABLE items (id int, v vector(3))")
    conn.execute("INSERT INTO items VALUES (1, '[1,2,3]'), (2, '[1,2,4]'), (3, '[9,9,9]')")
    rows = conn.execute("SELECT id FROM items ORDER BY v <-> '[1,2,3.4]' LIMIT 2").fetchall()
    version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    print(json.dumps({"url": url, "ids": [r[0] for r in rows], "vector": version.fetchone()[0],
                      "server": conn.info.server_version, "host": conn.info.host}))
"""


def test_psycopg_and_pgvector_reach_the_db_service_through_database_url(
    container: Mapping[str, Any], host_user: HostUser, workspace: Path
) -> None:
    queried = dc_exec(host_user, workspace, "python", "-c", PGVECTOR_QUERY)
    assert queried.returncode == 0, queried.stdout + queried.stderr[-3000:]
    answer = last_json(queried.stdout)
    assert answer["url"] == "postgresql://postgres@db:5432/app"  # the password is not in it
    assert answer["host"] == "db" and answer["ids"] == [1, 2]
    assert answer["vector"] == "0.6.0" and 160000 <= answer["server"] < 170000  # Ubuntu 24.04


def test_files_made_inside_belong_to_the_host_user(
    container: Mapping[str, Any], host_user: HostUser, workspace: Path
) -> None:
    script = "id -u && mkdir -p /workspace/made/inside && echo hi > /workspace/made/inside/file"
    made = dc_exec(host_user, workspace, "sh", "-c", script)
    assert made.returncode == 0, made.stderr[-3000:]
    assert made.stdout.split()[0] == str(host_user.uid)
    for path in (workspace / "made", workspace / "made" / "inside" / "file"):
        info = path.stat()
        assert (info.st_uid, info.st_gid) == (host_user.uid, host_user.gid), path


def test_the_venv_stays_writable_after_the_uid_update(
    container: Mapping[str, Any], host_user: HostUser, workspace: Path
) -> None:
    """updateRemoteUserUID re-owns only the home; the venv's files live there."""
    code = (
        "import os, sysconfig; site = sysconfig.get_paths()['purelib']; "
        "probe = os.path.join(site, 'devenv-probe.pth'); open(probe, 'w').close(); "
        "os.remove(probe); print(os.stat(site).st_uid)"
    )
    probed = dc_exec(host_user, workspace, "python", "-c", code)
    assert probed.returncode == 0, probed.stderr[-3000:]
    assert probed.stdout.split()[-1] == str(host_user.uid)


def test_the_example_backends_tests_pass_inside(
    container: Mapping[str, Any], host_user: HostUser, workspace: Path
) -> None:
    tested = dc_exec(host_user, workspace, "sh", "-c", "cd /workspace && python -m pytest -q")
    out = tested.stdout + tested.stderr[-3000:]
    assert tested.returncode == 0, out
    passed = re.search(r"(\d+) passed", tested.stdout)
    assert passed and int(passed.group(1)) >= 10 and "failed" not in tested.stdout, out


def test_vscode_ran_the_setup_tasks_and_merged_the_local_overrides(
    container: Mapping[str, Any], host_user: HostUser, workspace: Path
) -> None:
    """postStartCommand ran [tasks] setup (the example's migration), and the CLI merged
    devenv.local.toml's extension and setting (the devcontainer.metadata label)."""
    code = (
        "import os, psycopg; c = psycopg.connect(os.environ['DATABASE_URL']); "
        "print(c.execute('SELECT version_num FROM alembic_version').fetchone()[0])"
    )
    migrated = dc_exec(host_user, workspace, "python", "-c", code)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr[-3000:]
    assert migrated.stdout.split()[-1] == "0001"
    argv = [devcontainer_cli(), "read-configuration", "--workspace-folder", str(workspace),
            "--include-merged-configuration"]  # fmt: skip
    merged = as_user(host_user, argv, cwd=workspace)
    assert merged.returncode == 0, merged.stderr[-3000:]
    configuration = json.dumps(last_json(merged.stdout).get("mergedConfiguration", {}))
    assert "vscodevim.vim" in configuration and '"editor.fontSize": 17' in configuration
    assert "ms-python.python" in configuration  # the team's, still there
    jq = dc_exec(host_user, workspace, "jq", "--version")
    assert jq.returncode == 0 and jq.stdout.strip().startswith("jq-"), jq.stdout + jq.stderr
