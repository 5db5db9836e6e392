"""Fake host tools for the host-mode unit tests: no root, no network, no apt.

One small Python script stands in for dpkg-query, apt-get, sudo, env, runuser, python3 (and the
venv's python and uv), pg_lsclusters, pg_ctlcluster, pg_createcluster, psql, createuser, createdb,
pg_config, bash. It logs every call (argv and a few environment variables) and keeps its state —
installed packages, clusters, roles — in a folder, so the runner sees a consistent machine.
PATH holds only the fakes, so nothing real is ever run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TOOLS = (
    "dpkg-query",
    "apt-get",
    "sudo",
    "env",
    "runuser",
    "python3",
    "pg_lsclusters",
    "pg_ctlcluster",
    "pg_createcluster",
    "psql",
    "createuser",
    "createdb",
    "pg_config",
    "bash",  # only the [postgres] init runner calls it: logged, not run
)

FAKE = textwrap.dedent(
    """\
    import json, os, sys, time
    from pathlib import Path

    name, args = os.path.basename(sys.argv[0]), sys.argv[1:]
    state = Path(os.environ["FAKE_STATE"])
    keys = ("DEBIAN_FRONTEND", "PGPORT", "PGDATABASE", "POSTGRES_USER", "POSTGRES_DB")
    seen = {k: os.environ[k] for k in keys if k in os.environ}
    with open(state / "log.jsonl", "a") as log:
        log.write(json.dumps({"argv": [name, *args], "env": seen}) + "\\n")

    def load(key, default):
        path = state / f"{key}.json"
        return json.loads(path.read_text()) if path.exists() else default

    def save(key, value):
        (state / f"{key}.json").write_text(json.dumps(value))

    def flag(key):
        return (state / key).exists()

    hang_at = state / "hang-at"  # a command holding this text hangs, to be killed there
    if hang_at.exists() and hang_at.read_text() in " ".join([name, *args]):
        time.sleep(120)

    def execute(argv):
        os.execv(str(state.parent / "bin" / argv[0]), argv)

    if name == "dpkg-query":
        installed, rc = load("installed", {}), 0
        for package in args[2:]:
            if package in installed:
                print(f"{package}\\tinstall ok installed\\t{installed[package]}")
            else:
                print(f"dpkg-query: no packages found matching {package}", file=sys.stderr)
                rc = 1
        sys.exit(rc)
    if name == "apt-get":
        if "update" in args:
            sys.exit(0)
        if os.environ.get("DEBIAN_FRONTEND") != "noninteractive":
            sys.exit("apt-get: would prompt")
        installed = load("installed", {})
        for spec in args[args.index("install") + 1 :]:
            if not spec.startswith("-"):
                package, _, version = spec.partition("=")
                installed[package] = version or "1.0-1"
        save("installed", installed)
        sys.exit(0)
    if name == "sudo":
        if flag("sudo-denied"):
            sys.exit(print("sudo: a password is required", file=sys.stderr) or 1)
        rest = args[1:] if args[:1] == ["-n"] else sys.exit("sudo: fake needs -n")
        rest = rest[2:] if rest[:2] == ["-u", "postgres"] else rest
        sys.exit(0) if rest == ["true"] else execute(rest)
    if name == "env":
        while "=" in args[0]:
            key, _, value = args.pop(0).partition("=")
            os.environ[key] = value
        execute(args)
    if name == "runuser":
        execute(args[3:])
    def install_requirements():  # pip's words, whichever installer: uv says much the same
        if flag("pip-hang"):
            time.sleep(120)
        if flag("pip-no-pg-config"):  # pip's words when psycopg2 can't find pg_config
            print("      Error: pg_config executable not found.")
            print("ERROR: Failed to build 'psycopg2' when getting requirements to build wheel")
            sys.exit(1)
        sys.exit(1 if flag("pip-fail") else 0)

    if name == "uv" and args[:2] == ["pip", "install"] and "-r" in args:
        install_requirements()
    if name in ("python3", "python"):
        if args == ["--version"]:
            sys.exit(print("Python 3.99.1") or 0)
        if args[:2] == ["-m", "venv"]:
            bindir = Path(args[2]) / "bin"
            bindir.mkdir(parents=True)
            (bindir / "python").symlink_to(state.parent / "bin" / "python3")
            sys.exit(0)
        if args[:3] == ["-m", "pip", "install"] and "-r" in args:
            install_requirements()
        if args[:3] == ["-m", "pip", "install"] and "uv" in args:  # the uv installer's bootstrap
            (Path(sys.argv[0]).parent / "uv").symlink_to(state.parent / "bin" / "fake-tool")
            sys.exit(0)
        if args[:3] == ["-m", "pip", "freeze"]:
            sys.exit(print("pip==25.0\\nsqlalchemy==2.0.0") or 0)
        if args[:1] == ["-c"] and "platform" in args[1]:
            sys.exit(print("3.99.1") or 0)
        sys.exit(1 if args[:1] == ["-c"] and flag("smoke-fail") else 0)
    db = load("db", {"clusters": [], "roles": ["postgres"], "databases": ["postgres"], "ext": []})
    if name == "pg_lsclusters":
        for c in db["clusters"]:
            print(f"{c['v']} main {c['port']} {c['status']} postgres /d /l")
    elif name == "pg_createcluster":
        db["clusters"].append({"v": int(args[0]), "port": 5433, "status": "down"})
    elif name == "pg_ctlcluster":
        for c in db["clusters"]:
            c["status"] = "online"
    elif name == "createuser":
        db["roles"].append(args[-1])
    elif name == "createdb":
        db["databases"].append(args[-1])
    elif name == "psql" and args == ["--version"]:
        print("psql (PostgreSQL) 17.9")
    elif name == "psql" and "-tAc" in args:
        query = args[-1]
        key = "roles" if "pg_roles" in query else "databases" if "pg_database" in query else "ext"
        print("\\n".join(db[key]))
    elif name == "psql":
        db["ext"].append("vector")
    elif name == "pg_config":
        print("PostgreSQL 17.9")
    save("db", db)
    """
)


@dataclass
class FakeHost:
    root: Path
    bin: Path
    state: Path

    def calls(self) -> list[list[str]]:
        log = self.state / "log.jsonl"
        if not log.exists():
            return []
        return [json.loads(line)["argv"] for line in log.read_text().splitlines()]

    def calls_with_env(self) -> list[dict[str, Any]]:
        log = self.state / "log.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()]

    def forget_calls(self) -> None:
        (self.state / "log.jsonl").unlink(missing_ok=True)

    def install(self, *packages: str) -> None:
        path = self.state / "installed.json"
        installed = json.loads(path.read_text()) if path.exists() else {}
        installed.update({p: "1.0-1" for p in packages})
        path.write_text(json.dumps(installed))

    def set_flag(self, name: str, on: bool = True) -> None:
        if on:
            (self.state / name).touch()
        else:
            (self.state / name).unlink(missing_ok=True)

    def hang_at(self, text: str | None) -> None:
        """Make the first command whose argv holds `text` hang (None: none hangs)."""
        path = self.state / "hang-at"
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text)

    def env(self) -> dict[str, str]:
        return {"PATH": str(self.bin), "FAKE_STATE": str(self.state)}


@pytest.fixture
def fake_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHost]:
    root = tmp_path / "machine"
    (root / "bin").mkdir(parents=True)
    (root / "state").mkdir()
    script = root / "bin" / "fake-tool"
    script.write_text(f"#!{sys.executable} -S\n{FAKE}")  # -S: no site, a faster start
    script.chmod(0o755)
    for tool in (*TOOLS, "python"):
        (root / "bin" / tool).symlink_to(script)
    host = FakeHost(root=root, bin=root / "bin", state=root / "state")
    # The fake machine runs Debian 13, whatever runs the tests.
    os_release = root / "os-release"
    os_release.write_text(
        'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\n'
    )
    monkeypatch.setenv("DEVENV_OS_RELEASE", str(os_release))
    for key, value in host.env().items():
        monkeypatch.setenv(key, value)
    for key in ("DEBIAN_FRONTEND", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "VIRTUAL_ENV"):
        monkeypatch.delenv(key, raising=False)
    yield host


def test_fake_apt_insists_on_noninteractive_and_dpkg_sees_its_installs(
    fake_host: FakeHost,
) -> None:
    def run(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, env={**os.environ, **env}, capture_output=True, text=True, check=False
        )

    assert run("apt-get", "install", "-y", "libpq-dev").returncode != 0
    assert run("apt-get", "install", "-y", "libpq-dev", DEBIAN_FRONTEND="noninteractive")
    out = run("dpkg-query", "-W", "-f=x", "libpq-dev", "nope")
    assert (out.returncode, out.stdout) == (1, "libpq-dev\tinstall ok installed\t1.0-1\n")
    assert [c[0] for c in fake_host.calls()] == ["apt-get", "apt-get", "dpkg-query"]
