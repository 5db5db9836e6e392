"""host mode end to end on a bare Debian 13 host: as root, and as a user with passwordless sudo.

Each case gets one fresh container of the bare host image (see conftest_host) and walks the
life of a project in order: dry run, first run, second run, --with-db, parity with the images
`devenv build` made from the same plan, doctor. A user without sudo rights gets a clear message.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from devenv.container.engine import Engine
from tests.integration.conftest import BuiltProject, log
from tests.integration.conftest_host import (
    Host,
    bare_host_image,  # noqa: F401 (a fixture)
    start_host,
    stop_host,
)

SMOKE = "import psycopg, pgvector.psycopg, sqlalchemy"
CASES = {"root": "/srv/proj", "dev": "/home/dev/proj"}
VECTOR_ROUND_TRIP = """\
import sys, psycopg
from pgvector.psycopg import register_vector
with psycopg.connect(sys.argv[1]) as conn:
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)
    conn.execute("CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, embedding vector(3))")
    conn.execute("INSERT INTO items VALUES (1, '[1,2,3]'), (2, '[4,5,6]') ON CONFLICT DO NOTHING")
    row = conn.execute("SELECT id, embedding FROM items ORDER BY embedding <-> '[4,4,6]' LIMIT 1")
    found, embedding = row.fetchone()
    values = embedding.to_list() if hasattr(embedding, "to_list") else list(embedding)
    print(found, [float(v) for v in values])  # pgvector gives numpy floats with numpy
"""


@pytest.fixture(scope="module", params=list(CASES))
def host(
    request: pytest.FixtureRequest,
    engine: Engine,
    bare_host_image: str,  # noqa: F811
    built_project: BuiltProject,
) -> Iterator[Host]:
    user = str(request.param)
    box = start_host(engine, bare_host_image, user=user, project=CASES[user], docker_socket=True)
    try:
        box.put_project(built_project.root, box.project, user)
        yield box
    finally:
        stop_host(box)


def snapshot(host: Host) -> tuple[str, str]:
    """(dpkg -l, a listing of the project folder with sizes and times)."""
    code, packages = host.run(["dpkg", "-l"], user="root", timeout=60)
    assert code == 0, packages
    code, files = host.run(
        ["find", host.project, "-printf", "%p %y %s %T@ %l\\n"], user="root", timeout=60
    )
    assert code == 0, files
    return packages, "\n".join(sorted(files.splitlines()))


def install_json(host: Host, path: str, *args: str) -> tuple[int, str]:
    """`devenv host-install ARGS --json` in the host: its JSON result goes to PATH there (read
    it with report), its text is the output."""
    argv = ["devenv", "-C", host.project, "host-install", *args, "--json"]
    return host.run(["sh", "-c", 'out=$1; shift; exec "$@" >"$out"', "sh", path, *argv])


def report(host: Host, path: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(host.read(path))
    return data


def statuses(data: dict[str, object]) -> dict[str, str]:
    steps = data["steps"]
    assert isinstance(steps, list)
    return {s["name"]: s["status"] for s in steps}


def test_dry_run_changes_nothing(host: Host) -> None:
    code, out = host.devenv("doctor")
    assert code == 1, out  # the bare host lacks what the plan needs, and says so
    assert "fix: devenv host-install" in out

    before = snapshot(host)
    code, out = host.devenv("host-install", "--dry-run", "--with-db")
    assert code == 0, out
    apt = "DEBIAN_FRONTEND=noninteractive apt-get"
    assert (f"+ sudo -n env {apt}" if host.user != "root" else f"+ {apt}") in out
    assert "python3 -m venv" in out and "pg_ctlcluster" in out
    assert "dry run: nothing was changed" in out
    assert snapshot(host) == before


def test_first_run_installs_and_the_venv_imports(host: Host) -> None:
    started = time.monotonic()
    code, out = install_json(host, "/tmp/first.json")
    log(f"host-install as {host.user}, first run: {time.monotonic() - started:.1f}s")
    assert code == 0, out[-5000:]
    data = report(host, "/tmp/first.json")
    assert data["ok"] is True and isinstance(data["changed"], int) and data["changed"] >= 4
    steps = statuses(data)
    assert steps["system-packages"] == "changed"
    assert steps["postgres-server"] == steps["extension-pgvector"] == "skipped"
    assert steps["venv"] == steps["requirements"] == "changed"
    assert steps["pip-check"] == steps["smoke-imports"] == "unchanged"
    assert "source .venv/bin/activate" in out

    code, out = host.run([f"{host.project}/.venv/bin/python", "-c", SMOKE])
    assert code == 0, out
    code, link = host.run(["readlink", f"{host.project}/.venv"])
    assert code == 0 and link.startswith(".devenv/venvs/"), link


def test_second_run_changes_nothing(host: Host) -> None:
    started = time.monotonic()
    code, out = install_json(host, "/tmp/second.json")
    log(f"host-install as {host.user}, second run: {time.monotonic() - started:.1f}s")
    assert code == 0, out[-5000:]
    data = report(host, "/tmp/second.json")
    assert (data["ok"], data["changed"]) == (True, 0), out
    assert "apt-get" not in out and "pip install" not in out


def write(host: Host, path: str, text: str) -> None:
    assert host.run(["sh", "-c", 'printf %s "$1" > "$2"', "sh", text, path])[0] == 0


def test_a_failed_update_keeps_the_working_venv(host: Host) -> None:
    """A requirements change whose install fails, or whose new venv fails a check, never
    replaces the venv that works."""
    requirements, plan = f"{host.project}/requirements.txt", f"{host.project}/devenv.toml"
    original_requirements, original_plan = host.read(requirements), host.read(plan)
    _, before = host.run(["readlink", f"{host.project}/.venv"])
    try:
        # 1. pip's resolver refuses it: SQLAlchemy 2.0.44 needs typing-extensions >= 4.6.
        write(host, requirements, original_requirements + "typing-extensions==4.5.0\n")
        code, out = host.devenv("host-install")
        assert code == 1 and "requirements" in out, out[-3000:]
        assert host.run(["readlink", f"{host.project}/.venv"])[1] == before
        # 2. It installs, but an import the plan checks fails in the new venv.
        write(host, requirements, original_requirements + "six==1.17.0\n")
        write(
            host,
            plan,
            original_plan.replace('smoke = ["psycopg"', 'smoke = ["no_such_mod", "psycopg"'),
        )
        code, out = host.devenv("host-install")
        assert code == 1 and "no_such_mod" in out, out[-3000:]
        assert host.run(["readlink", f"{host.project}/.venv"])[1] == before
        code, out = host.run([f"{host.project}/.venv/bin/python", "-c", SMOKE])
        assert code == 0, out
    finally:
        write(host, requirements, original_requirements)
        write(host, plan, original_plan)
    code, out = install_json(host, "/tmp/restored.json")
    assert code == 0, out[-3000:]
    assert report(host, "/tmp/restored.json")["changed"] == 0


# Finds the requirements install (pip, started by host-install) and signals its process
# group, as a terminal's Ctrl-C or a CI timeout would; prints nothing until pip runs.
SIGNAL_PIP = """\
import os, sys, time
sig = int(sys.argv[1])
deadline = time.monotonic() + 300
while time.monotonic() < deadline:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
        except OSError:
            continue
        if b"pip" in argv and b"install" in argv and b"-r" in argv:
            time.sleep(1)
            os.killpg(os.getpgid(int(pid)), sig)
            sys.exit(print("signalled", pid) or 0)
    time.sleep(0.2)
sys.exit("pip install never started")
"""


@pytest.mark.parametrize(
    "sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=["kill-9", "ctrl-c", "sigterm"]
)
def test_a_signal_mid_install_keeps_the_working_venv_and_the_next_run_repairs(
    host: Host, sig: signal.Signals
) -> None:
    """kill -9, Ctrl-C or SIGTERM while pip installs a changed requirements set: Ctrl-C and
    SIGTERM end with 130; the venv in use still imports; the next run completes the change.
    pip, because its install lasts seconds: a window to signal in. uv, from its cache, is done
    in a fraction of one (the fake-host unit tests interrupt uv's install at will)."""
    requirements, plan = f"{host.project}/requirements.txt", f"{host.project}/devenv.toml"
    original, original_plan = host.read(requirements), host.read(plan)
    try:
        write(host, plan, original_plan.replace("[python]\n", '[python]\ninstaller = "pip"\n'))
        assert host.devenv("host-install")[0] == 0  # the pip venv the signal interrupts a change of
        _, before = host.run(["readlink", f"{host.project}/.venv"])
        # A package of its own per case: a set an earlier case installed would be reused, not built.
        extra = {signal.SIGKILL: "six==1.17.0", signal.SIGINT: "idna==3.10"}.get(
            sig, "zipp==3.21.0"
        )
        write(host, requirements, f"{original}{extra}\n")
        result: dict[str, tuple[int, str]] = {}
        # setsid -w: host-install leads its own process group, and its exit status comes back.
        runner = threading.Thread(
            target=lambda: result.update(
                run=host.run(["setsid", "-w", "devenv", "-C", host.project, "host-install"])
            ),
        )
        runner.start()
        try:
            code, out = host.run(["python3", "-c", SIGNAL_PIP, str(int(sig))], user="root")
            assert code == 0, out
        finally:
            runner.join(timeout=600)
        code, out = result["run"]
        if sig is signal.SIGKILL:
            assert code == 128 + signal.SIGKILL, out[-2000:]
        else:
            assert code == 130, out[-2000:]
            assert "devenv: interrupted" in out
            assert "Traceback" not in out
        assert host.run(["readlink", f"{host.project}/.venv"])[1] == before
        code, out = host.run([f"{host.project}/.venv/bin/python", "-c", SMOKE])
        assert code == 0, out

        code, out = host.devenv("host-install")  # the next run repairs: it completes the change
        assert code == 0, out[-3000:]
        code, after = host.run(["readlink", f"{host.project}/.venv"])
        assert after != before
        module = extra.split("==")[0]
        assert host.run([f"{host.project}/.venv/bin/python", "-c", f"import {module}"])[0] == 0
    finally:  # the next tests start from the plan and requirements they had
        write(host, requirements, original)
        write(host, plan, original_plan)
    code, out = host.devenv("host-install")
    assert code == 0, out[-3000:]


def test_with_db_gets_a_vector_query_through(host: Host) -> None:
    code, out = install_json(host, "/tmp/db.json", "--with-db")
    assert code == 0, out[-5000:]
    steps = statuses(report(host, "/tmp/db.json"))
    assert steps["postgres-server"] == steps["db-cluster"] == "changed"
    assert steps["extension-pgvector"] == "changed"
    assert steps["requirements"] == "unchanged"
    urls = [line.split("=", 1)[1] for line in out.splitlines() if line.startswith("DATABASE_URL=")]
    assert urls == [f"postgresql://{host.user}@/app?host=/var/run/postgresql&port=5432"], out

    code, out = host.run([f"{host.project}/.venv/bin/python", "-c", VECTOR_ROUND_TRIP, urls[0]])
    assert (code, out.strip()) == (0, "2 [4.0, 5.0, 6.0]"), out

    code, out = install_json(host, "/tmp/db2.json", "--with-db")
    assert code == 0, out[-5000:]
    assert report(host, "/tmp/db2.json")["changed"] == 0, out


def test_parity_with_the_images_of_the_same_plan(host: Host) -> None:
    # Root talks to the engine's socket; the venv and packages compared are the same.
    code, out = host.devenv("parity", "--with-db", user="root", timeout=600)
    assert code == 0, out[-5000:]
    assert "parity: no difference" in out


def test_doctor_is_satisfied(host: Host) -> None:
    code, out = host.devenv("doctor", "--json")
    assert code == 0, out
    lines = out.splitlines()
    document = "\n".join(lines[lines.index("{") :])  # stderr holds the `+ cmd` lines before it
    checks = {c["name"]: c["level"] for c in json.loads(document)["checks"]}
    assert checks["packages"] == checks["plan venv"] == checks["sudo"] == "ok", checks


def test_without_sudo_rights_the_message_is_clear(
    engine: Engine,
    bare_host_image: str,  # noqa: F811
    built_project: BuiltProject,
) -> None:
    box = start_host(
        engine, bare_host_image, user="nosudo", project="/home/nosudo/proj", docker_socket=False
    )
    try:
        box.put_project(built_project.root, box.project, "nosudo")
        started = time.monotonic()
        code, out = box.devenv("host-install", timeout=60)
        elapsed = time.monotonic() - started
        assert code == 1, out
        # stdout and stderr reach us through the engine as two streams: their lines may
        # interleave in any order, so the error line is found, not expected last.
        errors = [ln for ln in out.splitlines() if ln.startswith("devenv: error: ")]
        assert len(errors) == 1, out
        last = errors[0]
        assert last.startswith("devenv: error: System packages needs root, but `sudo -n`"), out
        assert "password" in last and "nothing was installed" in last
        assert "Traceback" not in out
        assert elapsed < 30, elapsed  # a clear refusal, not a hang on a prompt
        code, _ = box.run(["test", "-e", f"{box.project}/.venv"])
        assert code == 1
    finally:
        stop_host(box)


def test_engine_permission_denied_is_one_clear_line(
    engine: Engine,
    bare_host_image: str,  # noqa: F811
    built_project: BuiltProject,
) -> None:
    """A user outside the socket's group: one line naming the socket, pointing to host-install."""
    box = start_host(
        engine, bare_host_image, user="dev", project="/home/dev/proj", docker_socket=True
    )
    try:
        box.put_project(built_project.root, box.project, "dev")
        code, out = box.devenv("build", timeout=120)
    finally:
        stop_host(box)
    assert code == 1, out
    errors = [ln for ln in out.splitlines() if ln.startswith("devenv: error: ")]
    assert len(errors) == 1 and "Traceback" not in out, out
    assert "permission denied" in errors[0] and "/var/run/docker.sock" in errors[0]
    assert "devenv host-install" in errors[0]
