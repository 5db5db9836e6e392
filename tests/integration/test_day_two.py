"""Day two for real: `devenv run`/`shell`, [tasks] setup, env files and devenv.local.toml, in
the app container (compose on Debian 13: the shared built project's layers, so its images come
from the cache) and on a bare Debian 13 host (host-install --with-db, no Docker inside).

Every Docker resource is named `day2-…`, host ports 56400-56499; all are removed at the end.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devenv.container.compose import parse_ps
from devenv.container.engine import Engine
from tests.integration.conftest import (
    TRIXIE_PLAN,
    TRIXIE_REQUIREMENTS,
    BuiltProject,
    log,
)
from tests.integration.conftest_host import (
    Host,
    bare_host_image,  # noqa: F401 (a fixture)
    start_host,
    stop_host,
)

NAME = "day2-ct"
PORT = 56410
LOCAL_PORT = 56411
SECRET = f"day2-secret-{secrets.token_hex(8)}"
TASKS = '[tasks]\nsetup = ["python tasks/record.py first", "psql -X -tAc \'SELECT 1\'", "python tasks/record.py second"]\n'  # noqa: E501
ENV = '[env]\nfiles = [".env.shared"]\nvars = { FROM_PLAN = "plan" }\n'
RECORD = """\
import os, sys
with open("ran.txt", "a") as out:
    out.write(f"{sys.argv[1]} {os.environ.get('LAYER')} {bool(os.environ.get('DATABASE_URL'))}\\n")
"""
FAIL = 'import sys\nprint("the migration exploded: table x exists")\nsys.exit(3)\n'
SHOW = """\
import json, os, sys
keys = ("LAYER", "FROM_PLAN", "ONLY_DOTENV", "SECRET_TOKEN", "DATABASE_URL", "PGPASSWORD")
print(json.dumps({"env": {k: os.environ.get(k) for k in keys}, "cwd": os.getcwd(),
                  "tty": sys.stdin.isatty(), "user": os.getuid()}))
"""
TRAP = 'trap "echo got-$0; exit 42" TERM; echo ready; sleep 100 & wait'
INT = """\
import signal, sys, time
def stop(signum, frame):
    print("got-INT", flush=True)
    sys.exit(43)
signal.signal(signal.SIGINT, stop)
print("ready", flush=True)
time.sleep(100)
"""


def write_project(root: Path, *, name: str, port: int, tasks: str = TASKS) -> None:
    plan = TRIXIE_PLAN.replace('name = "itest"', f'name = "{name}"')
    plan = plan.replace("version = 17\n", f"version = 17\nhost_port = {port}\n")
    (root / "devenv.toml").write_text(plan + tasks + ENV)
    (root / "requirements.txt").write_text(TRIXIE_REQUIREMENTS)
    (root / "tasks").mkdir(exist_ok=True)
    (root / "tasks" / "record.py").write_text(RECORD)
    (root / "tasks" / "fail.py").write_text(FAIL)
    (root / "show.py").write_text(SHOW)
    (root / "int.py").write_text(INT)
    (root / ".env").write_text(
        f"SECRET_TOKEN={SECRET}\nLAYER=dotenv\nFROM_PLAN=dotenv\nONLY_DOTENV='yes $1'\n"
    )
    (root / ".env.shared").write_text("LAYER=shared\n")


def devenv(
    root: Path, *args: str, timeout: float = 900, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The devenv CLI as a user runs it; stdin is empty unless `input` is given."""
    argv = [sys.executable, "-m", "devenv", "-C", str(root), *args]
    log("+ devenv " + " ".join(args))
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
    )


def compose(*args: str) -> subprocess.CompletedProcess[str]:
    argv = ["docker", "compose", "--project-name", NAME, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


# Who runs commands in the app container: you (the image's user mapped to your UID, or root
# for root), as `devenv run` does and as VS Code's updateRemoteUserUID makes its remote user.
YOU = f"{os.getuid()}:{os.getgid()}"
YOUR_NAME = "root" if os.getuid() == 0 else "dev"


def in_app(*argv: str) -> subprocess.CompletedProcess[str]:
    """A command in the app container as VS Code's postStartCommand runs one: as you, in the
    workspace, the container's own environment."""
    full = ["docker", "exec", "-u", YOU, "-w", "/workspace", f"{NAME}-app-1", *argv]
    return subprocess.run(full, capture_output=True, text=True, timeout=300, check=False)


def db_port() -> str:
    argv = ["docker", "port", f"{NAME}-db-1", "5432"]
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()


def shown(out: str) -> dict[str, object]:
    # A terminal may put bytes before the line (`script` echoes the docker CLI's ^@).
    line = [x for x in out.splitlines() if "{" in x][-1]
    data: dict[str, object] = json.loads(line[line.index("{") :])
    return data


@pytest.fixture(scope="module")
def project(
    built_project: BuiltProject, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("day2")
    write_project(root, name=NAME, port=PORT)
    try:
        up = devenv(root, "up", "--no-verify")
        assert up.returncode == 0, up.stdout + up.stderr[-4000:]
        (root / "up.out").write_text(up.stdout + up.stderr)
        yield root
    finally:
        compose("down", "--volumes", "--remove-orphans")
        subprocess.run(
            ["docker", "image", "rm", f"devenv/{NAME}-dev:latest", f"devenv/{NAME}-db:latest"],
            capture_output=True,
            check=False,
        )


def test_up_runs_the_setup_tasks_in_order_once_the_database_is_healthy(project: Path) -> None:
    out = (project / "up.out").read_text()
    assert re.search(r"tasks +3/3 ran: python tasks/record.py first \(\d+\.\ds\), psql", out), out
    assert "task 2/3: psql -X -tAc 'SELECT 1' (in the app container)" in out
    # In order, in the workspace, with the env files and the database's URL.
    assert (project / "ran.txt").read_text() == "first shared True\nsecond shared True\n"


def test_run_exit_code_user_workspace_and_env_precedence(project: Path) -> None:
    assert devenv(project, "run", "--", "sh", "-c", "exit 7").returncode == 7
    missing = devenv(project, "run", "--", "no-such-command")
    assert missing.returncode == 127, missing.stderr
    ran = devenv(project, "run", "--", "python", "show.py")
    assert ran.returncode == 0, ran.stderr
    data = shown(ran.stdout)
    password = (project / ".devenv" / "db.env").read_text().split("PGPASSWORD=")[1].strip()
    assert data["env"] == {
        "LAYER": "shared",  # .env < [env] files
        "FROM_PLAN": "plan",  # < [env] vars
        "ONLY_DOTENV": "yes $1",  # single quotes: literal
        "SECRET_TOKEN": SECRET,
        "DATABASE_URL": "postgresql://postgres@db:5432/app",  # devenv's, over everything
        "PGPASSWORD": password,
    }
    # `devenv run` runs as the caller (issue 24: the container user is you), root included.
    assert data["cwd"] == "/workspace" and data["user"] == os.getuid() and data["tty"] is False
    # An edit after the container started counts at once (devenv re-reads the files).
    (project / ".env.shared").write_text("LAYER=edited\n")
    try:
        again = devenv(project, "run", "--", "python", "show.py")
        assert shown(again.stdout)["env"]["LAYER"] == "edited"  # type: ignore[index]
    finally:
        (project / ".env.shared").write_text("LAYER=shared\n")


def test_a_tty_when_stdin_is_one(project: Path) -> None:
    inner = f"{sys.executable} -m devenv -C {project} run -- python show.py"
    done = subprocess.run(
        ["script", "-qec", inner, "/dev/null"], capture_output=True, text=True, timeout=300,
        check=False, env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert shown(done.stdout)["tty"] is True


@pytest.mark.parametrize(
    ("sig", "argv", "code", "said"),
    [
        (signal.SIGTERM, ["sh", "-c", TRAP, "TERM"], 42, "got-TERM"),
        (signal.SIGINT, ["python", "int.py"], 43, "got-INT"),
    ],
)
def test_signals_reach_the_command(
    project: Path, sig: signal.Signals, argv: list[str], code: int, said: str
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "devenv", "-C", str(project), "run", "--", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # the wrapper wrote the pid before printing; let the command settle
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, out + err
    assert said in out


def test_shell_reads_its_commands_from_stdin(project: Path) -> None:
    done = devenv(project, "shell", input='echo "$0 $LAYER $(id -un)"; exit 3\n')
    assert done.returncode == 3, done.stderr
    assert done.stdout.strip() == f"bash shared {YOUR_NAME}"


def test_secrets_of_env_files_are_in_no_image_layer_or_history(project: Path) -> None:
    # The control: the secret does reach the running app container.
    env = in_app("env")
    assert f"SECRET_TOKEN={SECRET}" in env.stdout, env.stderr
    for target in ("dev", "db"):
        image = f"devenv/{NAME}-{target}:latest"
        history = subprocess.run(
            ["docker", "history", "--no-trunc", "--format", "{{.CreatedBy}}", image],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert history.stdout and SECRET not in history.stdout
        inspect = subprocess.run(["docker", "image", "inspect", image], capture_output=True,
                                 text=True, check=True)  # fmt: skip
        assert SECRET not in inspect.stdout
        saved = subprocess.run(["docker", "image", "save", image], capture_output=True,
                               check=True, timeout=300)  # fmt: skip
        assert len(saved.stdout) > 10_000_000 and SECRET.encode() not in saved.stdout
        with tarfile.open(fileobj=io.BytesIO(saved.stdout)) as tar:
            names = [m.name for m in tar.getmembers()]
            for member in tar.getmembers():
                if member.isfile() and member.name.endswith((".tar", "layer.tar")):
                    blob = tar.extractfile(member)
                    assert blob is not None
                    with tarfile.open(fileobj=blob) as layer:
                        files = layer.getnames()
                        assert not [f for f in files if f.endswith((".env", ".env.shared"))]
        assert names


def test_a_failing_task_stops_up_with_its_output(project: Path) -> None:
    failing = '[tasks]\nsetup = ["python tasks/record.py one", "python tasks/fail.py", "python tasks/record.py never"]\n'  # noqa: E501
    plan = (project / "devenv.toml").read_text()
    (project / "devenv.toml").write_text(plan.replace(TASKS, failing))
    (project / "ran.txt").unlink()
    try:
        up = devenv(project, "up", "--no-verify", "--quiet")
        assert up.returncode == 1, up.stdout + up.stderr
        assert "the migration exploded: table x exists" in up.stderr
        assert "setup task 2/3 `python tasks/fail.py` failed with exit 3" in up.stderr
        assert "1 before it ran, 1 after it did not" in up.stderr
        assert (project / "ran.txt").read_text() == "one shared True\n"
        # VS Code's postStartCommand script stops the same way.
        script = in_app("sh", "docker/setup-tasks.sh")
        assert script.returncode == 3, script.stdout + script.stderr
        assert "task 2/3 failed (exit 3, " in script.stderr
        assert (project / "ran.txt").read_text() == "one shared True\none shared True\n"
    finally:
        (project / "devenv.toml").write_text(plan)
        assert devenv(project, "generate").returncode == 0


def test_the_vscode_lifecycle_script_runs_the_tasks(project: Path) -> None:
    dc = (project / ".devcontainer" / "devcontainer.json").read_text()
    assert '"postStartCommand": [\n    "sh",\n    "docker/setup-tasks.sh"\n  ]' in dc
    (project / "ran.txt").unlink(missing_ok=True)
    script = in_app("sh", "docker/setup-tasks.sh")
    assert script.returncode == 0, script.stdout + script.stderr
    assert (
        re.search(r"task 3/3 ok \(\d+ms\)", script.stdout) and "setup tasks: 3 ran" in script.stdout
    )
    assert (project / "ran.txt").read_text() == "first shared True\nsecond shared True\n"


def test_run_starts_the_services_when_they_are_not_running(project: Path) -> None:
    assert compose("stop").returncode == 0
    assert {s.state for s in parse_ps(compose("ps", "--all", "--format", "json").stdout)} == {
        "exited"
    }
    done = devenv(project, "run", "--", "true")
    assert done.returncode == 0, done.stderr
    assert "the services are not running: starting them" in done.stderr
    states = {s.service: s.state for s in parse_ps(compose("ps", "--format", "json").stdout)}
    assert states == {"app": "running", "db": "running"}


def test_local_overrides_move_the_port_and_leave_the_committed_files_alone(project: Path) -> None:
    committed = {
        p: (project / p).read_text() for p in ("compose.yaml", ".devcontainer/devcontainer.json")
    }
    (project / "devenv.local.toml").write_text(
        f"[postgres]\nhost_port = {LOCAL_PORT}\n[devcontainer]\nextensions = ['vscodevim.vim']\n"
        "[system]\npackages = ['jq']\n"
    )
    try:
        up = devenv(project, "up", "--no-verify")
        assert up.returncode == 0, up.stdout + up.stderr[-3000:]
        assert f"db on 127.0.0.1:{LOCAL_PORT}" in up.stdout
        port = db_port()
        assert port == f"127.0.0.1:{LOCAL_PORT}", port
        inspect = subprocess.run(
            ["docker", "inspect", "--format", '{{index .Config.Labels "devcontainer.metadata"}}',
             f"{NAME}-app-1"], capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert "vscodevim.vim" in inspect.stdout, inspect.stdout + inspect.stderr
        # This machine's extra package is in the app container (its own image), not the team's.
        jq = devenv(project, "run", "--", "jq", "--version")
        assert jq.returncode == 0 and jq.stdout.startswith("jq-"), jq.stdout + jq.stderr
        team = subprocess.run(["docker", "run", "--rm", "--entrypoint", "sh",
                               f"devenv/{NAME}-dev:latest", "-c", "command -v jq"],
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert team.returncode != 0
        assert {p: (project / p).read_text() for p in committed} == committed
        assert devenv(project, "generate", "--check").returncode == 0
    finally:
        (project / "devenv.local.toml").unlink()
    back = devenv(project, "up", "--no-verify", "--quiet")
    assert back.returncode == 0, back.stderr[-3000:]
    assert db_port() == f"127.0.0.1:{PORT}"
    assert devenv(project, "run", "--", "jq", "--version").returncode == 127
    subprocess.run(["docker", "image", "rm", f"devenv/{NAME}-dev-local:latest"],
                   capture_output=True, check=False)  # fmt: skip


# -- the host: a bare Debian 13 machine, no Docker inside ------------------------------------

HOST_PROJECT = "/home/dev/proj"


def put_tree(box: Host, root: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(root)))
    assert box.run(["mkdir", "-p", HOST_PROJECT], user="dev")[0] == 0
    assert box.engine.api.put_archive(box.id, HOST_PROJECT, buffer.getvalue())
    assert box.run(["chown", "-R", "dev:dev", HOST_PROJECT], user="root")[0] == 0


@pytest.fixture(scope="module")
def host(
    engine: Engine,
    bare_host_image: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Host]:
    box = start_host(engine, bare_host_image, user="dev", project=HOST_PROJECT, docker_socket=False)
    try:
        root = tmp_path_factory.mktemp("day2-host")
        write_project(root, name="day2-host", port=PORT)
        put_tree(box, root)
        yield box
    finally:
        stop_host(box)


def test_host_install_with_db_runs_the_setup_tasks(host: Host) -> None:
    code, out = host.devenv("host-install", "--with-db")
    assert code == 0, out[-5000:]
    assert re.search(
        r"Setup tasks of \[tasks\] setup \(3\) \.\.\. changed "
        r"\(3/3 ran: python tasks/record.py first \(\d+\.\ds\)",
        out,
    ), out[-3000:]
    assert host.read(f"{HOST_PROJECT}/ran.txt") == "first shared True\nsecond shared True\n"


def test_run_on_the_host_by_default_without_an_engine(host: Host) -> None:
    code, out = host.devenv("run", "--", "python", "show.py")
    assert code == 0, out
    data = shown(out)
    env = data["env"]
    assert isinstance(env, dict)
    assert (
        env["LAYER"] == "shared" and env["FROM_PLAN"] == "plan" and env["ONLY_DOTENV"] == "yes $1"
    )
    assert env["SECRET_TOKEN"] == SECRET
    assert env["DATABASE_URL"] == "postgresql://dev@/app?host=/var/run/postgresql&port=5432"
    assert data["cwd"] == HOST_PROJECT and data["tty"] is False
    code, out = host.devenv("run", "--", "python", "-c", "import sys; print(sys.prefix)")
    assert code == 0 and out.strip().startswith(f"{HOST_PROJECT}/"), out  # the host venv
    assert host.devenv("run", "--", "sh", "-c", "exit 7")[0] == 7
    assert host.devenv("run", "--host", "--", "no-such-command")[0] == 127
    code, out = host.run(
        ["sh", "-c", f"echo 'echo $LAYER; exit 4' | devenv -C {HOST_PROJECT} shell"]
    )
    assert code == 4 and out.strip().splitlines()[-1] == "shared", out
    code, out = host.devenv("run", "--", "psql", "-X", "-tAc", "SELECT extname FROM pg_extension")
    assert code == 0 and "vector" in out, out


def test_signals_reach_the_command_on_the_host(host: Host) -> None:
    # --foreground: the signal goes to devenv alone, once. Without it timeout also signals its
    # whole process group, so the command got SIGINT twice and Python's print in the handler
    # could be re-entered (RuntimeError: reentrant call) — the test's doing, not devenv's.
    argv = ["timeout", "--foreground", "--preserve-status", "-s", "TERM", "3", "devenv", "-C",
            HOST_PROJECT, "run", "--", "sh", "-c", TRAP, "TERM"]  # fmt: skip
    code, out = host.run(argv)
    assert code == 42 and "got-TERM" in out, out
    argv = ["timeout", "--foreground", "--preserve-status", "-s", "INT", "3", "devenv", "-C",
            HOST_PROJECT, "run", "--", "python", "int.py"]  # fmt: skip
    code, out = host.run(argv)
    assert code == 43 and "got-INT" in out, out


def test_a_failing_task_stops_host_install(host: Host) -> None:
    failing = '[tasks]\nsetup = ["python tasks/record.py one", "python tasks/fail.py", "python tasks/record.py never"]\n'  # noqa: E501
    plan = host.read(f"{HOST_PROJECT}/devenv.toml")
    new = plan.replace(TASKS, failing)
    assert new != plan
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("devenv.toml")
        info.size, info.uid, info.gid, info.mode = len(new.encode()), 1000, 1000, 0o644
        tar.addfile(info, io.BytesIO(new.encode()))
    assert host.engine.api.put_archive(host.id, HOST_PROJECT, buffer.getvalue())
    assert host.run(["rm", "-f", f"{HOST_PROJECT}/ran.txt"])[0] == 0
    code, out = host.devenv("host-install", "--with-db")
    assert code == 1, out[-3000:]
    assert "the migration exploded: table x exists" in out
    assert "setup task 2/3 `python tasks/fail.py` failed with exit 3" in out
    assert host.read(f"{HOST_PROJECT}/ran.txt") == "one shared True\n"


# -- tests that start containers, from inside the app container ------------------------------

ENGINE_NAME = "day2-eng"
ENGINE_PORT = 56430
ENGINE_REQUIREMENTS = TRIXIE_REQUIREMENTS + (
    "testcontainers==4.15.0\ndocker==7.1.0\npython-dotenv==1.2.2\nwrapt==2.1.2\n"
    "typing_extensions==4.15.0\nurllib3==2.7.0\nrequests==2.34.2\ncharset-normalizer==3.4.7\n"
    "idna==3.13\ncertifi==2026.5.20\n"
)
# The user's own testcontainers code, unchanged: the db image devenv built, started by the
# test from inside the app container, reached over its published port.
TC_CHECK = """\
import os, psycopg
from testcontainers.postgres import PostgresContainer
image = os.environ["DB_IMAGE"]
with PostgresContainer(image, username="postgres", password="tc-pw", dbname="app",
                       driver=None).with_name("day2-eng-tc") as pg:
    url = pg.get_connection_url()
    with psycopg.connect(url) as conn:
        print("answer", conn.execute("SELECT 40 + 2").fetchone()[0], url.split("@")[1])
"""


@pytest.fixture(scope="module")
def engine_project(
    built_project: BuiltProject, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("day2-eng")
    plan = TRIXIE_PLAN.replace('name = "itest"', f'name = "{ENGINE_NAME}"')
    plan = plan.replace("version = 17\n", f"version = 17\nhost_port = {ENGINE_PORT}\n")
    plan = plan.replace("forward_ports = []\n", "forward_ports = []\nengine_access = true\n")
    plan += (
        '[env]\nvars = { TESTCONTAINERS_RYUK_DISABLED = "true", '
        f'DB_IMAGE = "devenv/{ENGINE_NAME}-db:latest" }}\n'
    )
    (root / "devenv.toml").write_text(plan)
    (root / "requirements.txt").write_text(ENGINE_REQUIREMENTS)
    (root / "tc_check.py").write_text(TC_CHECK)
    try:
        yield root
    finally:
        subprocess.run(
            ["docker", "rm", "-f", "-v", "day2-eng-tc"], capture_output=True, check=False
        )
        subprocess.run(
            ["docker", "compose", "--project-name", ENGINE_NAME, "down", "--volumes"],
            capture_output=True,
            check=False,
            timeout=120,
        )
        subprocess.run(
            ["docker", "image", "rm", f"devenv/{ENGINE_NAME}-dev:latest",
             f"devenv/{ENGINE_NAME}-db:latest"],
            capture_output=True, check=False,
        )  # fmt: skip


def test_testcontainers_from_inside_the_app_container(engine_project: Path) -> None:
    up = devenv(engine_project, "up", "--no-verify")
    assert up.returncode == 0, up.stdout + up.stderr[-4000:]
    who = devenv(engine_project, "run", "--", "id", "-un")
    assert who.stdout.strip() == YOUR_NAME, who.stderr  # commands still run as you
    ran = devenv(engine_project, "run", "--", "python", "tc_check.py", timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr[-4000:]
    assert "answer 42 host.docker.internal:" in ran.stdout, ran.stdout
    gone = subprocess.run(["docker", "ps", "-aq", "--filter", "name=day2-eng-tc"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert gone.stdout.strip() == ""


def test_engine_access_is_off_by_default(project: Path) -> None:
    done = devenv(project, "run", "--", "test", "-e", "/var/run/docker.sock")
    assert done.returncode == 1
