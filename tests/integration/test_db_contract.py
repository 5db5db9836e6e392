"""The db image against the official postgres image's documented entrypoint contract.

One test per behaviour (issue 13's list), each on containers of the db image of a small plan
on each base (Debian 13 with PostgreSQL 17, Ubuntu 24.04 with 16: the default plan's), run
through the engine the way `docker run` would. Everything made here is named `dbc-...` and
removed afterwards.
"""

from __future__ import annotations

import gzip
import io
import lzma
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devenv.container.build import Progress, build_images
from devenv.container.compose import Compose
from devenv.container.engine import Engine
from devenv.plan import db_init
from devenv.plan.model import load_plan
from devenv.render.labels import LABEL_PREFIX
from devenv.steps.model import DB_DATA
from devenv.verify.db import judge_init_log
from tests.integration.conftest import base as ensure_base_once
from tests.integration.conftest import devenv_cli

PLAN = """\
[environment]
name = "dbc-{id}"
base = "{base}"

[postgres]
version = {major}

[python]
requirements = ["requirements.txt"]
smoke = []

[devcontainer]
forward_ports = []
"""
READY = "database system is ready to accept connections"
INIT_DONE = "PostgreSQL init process complete; ready for start up."
SKIPPED = "PostgreSQL Database directory appears to contain a database; Skipping initialization"
LABELS = {f"{LABEL_PREFIX}test": "dbc-contract"}
PASSWORD = "dbc-secret-pw"


@dataclass
class Container:
    engine: Engine
    id: str

    def logs(self) -> str:
        raw: bytes = self.engine.api.logs(self.id, stdout=True, stderr=True)
        return raw.decode("utf-8", "replace")

    def status(self) -> dict[str, Any]:
        state: dict[str, Any] = self.engine.api.inspect_container(self.id)["State"]
        return state

    def wait_ready(self, limit: float = 90.0) -> str:
        """The log once the real server (not the init one) accepts connections."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            log = self.logs()
            for mark in (INIT_DONE, SKIPPED):
                if mark in log and READY in log.split(mark, 1)[1]:
                    return log
            if not self.status()["Running"]:
                pytest.fail(f"the db container exited: {self.status()}\n{log}")
            time.sleep(0.2)
        pytest.fail(f"not ready after {limit}s:\n{self.logs()}")

    def wait_exit(self, limit: float = 60.0) -> tuple[int, str]:
        status = self.engine.api.wait(self.id, timeout=limit)
        return int(status["StatusCode"]), self.logs()

    def exec(
        self, argv: Sequence[str], user: str = "postgres", env: dict[str, str] | None = None
    ) -> tuple[int, str]:
        made = self.engine.api.exec_create(self.id, list(argv), user=user, environment=env)
        out: bytes = self.engine.api.exec_start(made["Id"])
        code = int(self.engine.api.exec_inspect(made["Id"])["ExitCode"])
        return code, out.decode("utf-8", "replace")

    def stat(self, argv: Sequence[str], user: str = "postgres") -> tuple[int, str]:
        """A read-only probe that always prints (stat): once more when the engine handed back
        no output for a command that succeeded (Docker 20.10 under load, seen once in CI)."""
        code, out = self.exec(argv, user=user)
        if code == 0 and not out.strip():
            code, out = self.exec(argv, user=user)
        return code, out

    def psql(self, sql: str, *, db: str = "postgres", as_user: str = "postgres") -> str:
        """`sql` as the superuser `postgres` over the local socket (trusted, as in the
        official image)."""
        argv = [
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-tA",
            "-U",
            "postgres",
            "-d",
            db,
            "-c",
            sql,
        ]
        code, out = self.exec(argv, user=as_user)
        if code == 0 and not out.strip() and _reads_only(sql):
            code, out = self.exec(argv, user=as_user)  # no output handed back: see stat()
        assert code == 0, out
        return out.strip()

    def ip(self) -> str:
        networks = self.engine.api.inspect_container(self.id)["NetworkSettings"]["Networks"]
        return str(next(iter(networks.values()))["IPAddress"])

    def over_tcp(self, sql: str, *, user: str, db: str, password: str | None) -> tuple[int, str]:
        """psql from inside the container to its own network address: a remote client for
        pg_hba.conf (not the local socket, not 127.0.0.1)."""
        env = {"PGPASSWORD": password} if password is not None else {}
        argv = ["psql", "-X", "-w", "-tA", "-h", self.ip(), "-U", user, "-d", db, "-c", sql]
        return self.exec(argv, env=env)

    def stop(self) -> None:
        self.engine.api.stop(self.id, timeout=20)


@dataclass(frozen=True)
class Base:
    id: str
    ref: str
    distro: str
    codename: str
    version: str
    major: int  # the PostgreSQL its archive has with pgvector

    @property
    def plan(self) -> str:
        return PLAN.format(id=self.id, base=self.ref, major=self.major)


BASES = (
    Base(
        id="debian13",
        ref="debian:trixie",
        distro="debian",
        codename="trixie",
        version="13",
        major=17,
    ),
    Base(
        id="ubuntu2404",
        ref="ubuntu:24.04",
        distro="ubuntu",
        codename="noble",
        version="24.04",
        major=16,
    ),
)


@dataclass(frozen=True)
class Image:
    ref: str
    base: Base


@dataclass
class Db:
    """Runs containers of the db image; removes every container and volume it made."""

    engine: Engine
    image: str
    base: Base
    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def volume(self) -> str:
        name = f"dbc-{uuid.uuid4().hex[:10]}"
        self.engine.api.create_volume(name=name, labels=LABELS)
        self.volumes.append(name)
        return name

    def start(
        self,
        argv: Sequence[str] | None = None,
        *,
        env: dict[str, str] | None = None,
        user: str = "",
        mounts: dict[str, str] | None = None,
        network: bool = False,
        entrypoint: Sequence[str] | None = None,
        image: str | None = None,
    ) -> Container:
        binds = {src: {"bind": dst, "mode": "rw"} for src, dst in (mounts or {}).items()}
        made = self.engine.api.create_container(
            image=image or self.image,
            command=list(argv) if argv is not None else None,
            entrypoint=list(entrypoint) if entrypoint is not None else None,
            user=user,
            environment=env or {},
            name=f"dbc-{uuid.uuid4().hex[:10]}",
            labels=LABELS,
            host_config=self.engine.api.create_host_config(
                network_mode="bridge" if network else "none", binds=binds
            ),
        )
        self.containers.append(made["Id"])
        self.engine.api.start(made["Id"])
        return Container(self.engine, made["Id"])

    def run(self, argv: Sequence[str] | None = None, **kw: Any) -> tuple[int, str]:
        return self.start(argv, **kw).wait_exit()

    def server(self, argv: Sequence[str] | None = None, **kw: Any) -> Container:
        kw.setdefault("env", {"POSTGRES_PASSWORD": PASSWORD})
        container = self.start(argv, **kw)
        container.wait_ready()
        return container

    def cleanup(self) -> None:
        for cid in self.containers:
            self.engine.api.remove_container(cid, force=True, v=True)
        for name in self.volumes:
            self.engine.api.remove_volume(name, force=True)


@pytest.fixture(scope="module", params=BASES, ids=[b.id for b in BASES])
def db_image(
    request: pytest.FixtureRequest,
    engine: Engine,
    trixie_base: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Image:
    base: Base = request.param
    if base.ref != trixie_base:  # bootstrapped only if the engine lacks it
        ensure_base_once(engine, base.ref, base.distro, base.codename, base.version)
    root = tmp_path_factory.mktemp(f"dbc-{base.id}")
    (root / "devenv.toml").write_text(base.plan)
    (root / "requirements.txt").write_text("")
    summary = build_images(load_plan(root), engine, Progress(), targets=("db",), log=lambda _: None)
    return Image(ref=summary.images["db"], base=base)


@pytest.fixture
def db(engine: Engine, db_image: Image) -> Iterator[Db]:
    runner = Db(engine, db_image.ref, db_image.base)
    try:
        yield runner
    finally:
        runner.cleanup()


def init_folder(tmp_path: Path, files: dict[str, bytes], executable: Sequence[str] = ()) -> str:
    folder = tmp_path / "initdb"
    folder.mkdir()
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        path.chmod(0o755 if name in executable else 0o644)
    return str(folder)


# -- privileges and data folders ------------------------------------------------------------------


def test_starts_as_root_and_the_server_runs_as_postgres(db: Db) -> None:
    config = db.engine.api.inspect_image(db.image)["Config"]
    assert config["User"] in ("", "root")  # images built FROM it can RUN apt-get
    container = db.server()
    code, out = container.exec(["ps", "-o", "user=", "-p", "1"], user="root")
    if code != 0:  # no procps: ask /proc
        code, out = container.stat(["stat", "-c", "%U", "/proc/1"], user="root")
    assert (code, out.strip()) == (0, "postgres")


def test_volume_is_declared(db: Db) -> None:
    config = db.engine.api.inspect_image(db.image)["Config"]
    assert DB_DATA in (config.get("Volumes") or {})


def test_derived_image_can_run_apt_get(db: Db, tmp_path: Path) -> None:
    context = io.BytesIO()
    dockerfile = f"FROM {db.image}\nRUN apt-get check && touch /etc/dbc-derived\n".encode()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    context.seek(0)
    tag = f"dbc-derived:{uuid.uuid4().hex[:8]}"
    stream = db.engine.api.build(
        fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True, decode=True
    )
    messages = list(stream)
    try:
        errors = [m for m in messages if "error" in m]
        assert not errors, errors
        code, _ = db.run(["test", "-f", "/etc/dbc-derived"], image=tag)
        assert code == 0
    finally:
        db.engine.api.remove_image(tag, force=True)


def test_root_owned_bind_mount_is_handed_to_postgres(db: Db, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    assert data.stat().st_uid == 0
    container = db.server(mounts={str(data): DB_DATA})
    assert container.psql("SELECT 1") == "1"
    assert (data / "PG_VERSION").read_text().strip() == str(db.base.major)
    assert data.stat().st_uid != 0 and oct(data.stat().st_mode & 0o777) == "0o700"


def test_pgdata_on_a_fresh_path(db: Db) -> None:
    env = {"POSTGRES_PASSWORD": PASSWORD, "PGDATA": "/srv/dbc/nested/pgdata"}
    container = db.server(env=env)
    assert container.psql("SHOW data_directory") == "/srv/dbc/nested/pgdata"


def test_volume_made_by_the_official_image_is_kept(db: Db) -> None:
    volume = db.volume()
    first = db.server(mounts={volume: DB_DATA})
    first.psql("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('from before')")
    first.stop()
    # The official image's postgres user is uid 999: make the volume look like its work.
    code, out = db.run(["chown", "-R", "999:999", DB_DATA], entrypoint=[], mounts={volume: DB_DATA})
    assert code == 0, out
    again = db.start(mounts={volume: DB_DATA})  # no password: it must not re-initialise
    log = again.wait_ready()
    assert SKIPPED in log and "initdb" not in log.split(SKIPPED, 1)[0]
    assert again.psql("SELECT note FROM kept") == "from before"
    code, owner = again.stat(["stat", "-c", "%U", f"{DB_DATA}/base"])
    assert (code, owner.strip()) == (0, "postgres")


def test_arbitrary_user(db: Db) -> None:
    # The official image's documented way: a PGDATA below the world-writable volume folder.
    env = {"POSTGRES_PASSWORD": PASSWORD, "PGDATA": f"{DB_DATA}/pgdata"}
    container = db.server(env=env, user="1000:1000")
    code, out = container.stat(["stat", "-c", "%u:%g", "/proc/1"], user="root")
    assert (code, out.strip()) == (0, "1000:1000")
    code, out = container.stat(["stat", "-c", "%u", "/var/run/postgresql/.s.PGSQL.5432"])
    assert (code, out.strip()) == (0, "1000")
    assert container.psql("SELECT 1", as_user="1000:1000") == "1"


def test_user_root(db: Db) -> None:
    container = db.server(user="root")
    code, out = container.stat(["stat", "-c", "%U", "/proc/1"], user="root")
    assert (code, out.strip()) == (0, "postgres")


def test_socket_folder_is_writable_by_other_users(db: Db) -> None:
    code, out = db.run(["stat", "-c", "%a %U", "/var/run/postgresql"])
    assert (code, out.strip()) == (0, "3777 postgres")


# -- settings -------------------------------------------------------------------------------------


FILE_VALUES = {"PASSWORD": "from-a-file", "USER": "filer", "DB": "filed"}


@pytest.mark.parametrize("variable", list(FILE_VALUES))
def test_file_variable(db: Db, tmp_path: Path, variable: str) -> None:
    """POSTGRES_<variable>_FILE names a file holding the value; the others are set plainly."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "value").write_text(FILE_VALUES[variable] + "\n")
    env = {f"POSTGRES_{k}": v for k, v in FILE_VALUES.items() if k != variable}
    env[f"POSTGRES_{variable}_FILE"] = "/run/dbc/value"
    container = db.server(env=env, mounts={str(secrets): "/run/dbc"}, network=True)
    code, out = container.over_tcp(
        "SELECT current_user, current_database()", user="filer", db="filed", password="from-a-file"
    )
    assert (code, out.strip()) == (0, "filer|filed"), out
    code, out = container.over_tcp("SELECT 1", user="filer", db="filed", password="wrong")
    assert code != 0 and "password authentication failed" in out


def test_password_and_password_file_together_is_an_error(db: Db) -> None:
    env = {"POSTGRES_PASSWORD": PASSWORD, "POSTGRES_PASSWORD_FILE": "/etc/hostname"}
    code, log = db.run(env=env)
    assert code == 1
    assert "both POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE are set" in log


def test_initdb_args(db: Db) -> None:
    env = {"POSTGRES_PASSWORD": PASSWORD, "POSTGRES_INITDB_ARGS": "--data-checksums -E LATIN1"}
    env["LANG"] = "C"  # LATIN1 needs a locale that allows it
    container = db.server(env=env)
    assert container.psql("SHOW data_checksums") == "on"
    assert container.psql("SHOW server_encoding") == "LATIN1"


def test_initdb_waldir(db: Db) -> None:
    env = {"POSTGRES_PASSWORD": PASSWORD, "POSTGRES_INITDB_WALDIR": "/var/lib/postgresql/wal"}
    container = db.server(env=env)
    code, out = container.exec(["readlink", f"{DB_DATA}/pg_wal"])
    assert (code, out.strip()) == (0, "/var/lib/postgresql/wal")
    code, out = container.stat(["stat", "-c", "%U %a", "/var/lib/postgresql/wal"])
    assert (code, out.strip()) == (0, "postgres 700")


def test_host_auth_method_trust(db: Db) -> None:
    container = db.server(env={"POSTGRES_HOST_AUTH_METHOD": "trust"}, network=True)
    code, out = container.over_tcp("SELECT 1", user="postgres", db="postgres", password=None)
    assert (code, out.strip()) == (0, "1"), out
    assert "POSTGRES_HOST_AUTH_METHOD=trust" in container.logs()


def test_host_auth_method_md5(db: Db) -> None:
    env = {"POSTGRES_PASSWORD": PASSWORD, "POSTGRES_HOST_AUTH_METHOD": "md5"}
    container = db.server(env=env, network=True)
    code, out = container.exec(["tail", "-n", "1", f"{DB_DATA}/pg_hba.conf"])
    assert out.strip() == "host all all all md5"
    code, out = container.over_tcp("SELECT 1", user="postgres", db="postgres", password=PASSWORD)
    assert (code, out.strip()) == (0, "1"), out
    code, out = container.over_tcp("SELECT 1", user="postgres", db="postgres", password=None)
    assert code != 0


def test_default_host_auth_is_scram_with_the_password(db: Db) -> None:
    container = db.server(network=True)
    code, out = container.exec(["tail", "-n", "1", f"{DB_DATA}/pg_hba.conf"])
    assert out.strip() == "host all all all scram-sha-256"
    code, out = container.over_tcp("SELECT 1", user="postgres", db="postgres", password=None)
    assert code != 0


# -- the password check ---------------------------------------------------------------------------


def test_refuses_to_initialise_without_a_password(db: Db) -> None:
    code, log = db.run()
    assert code == 1
    assert "POSTGRES_PASSWORD" in log and "superuser password is not specified" in log


def test_restart_without_a_password_on_an_initialised_folder(db: Db) -> None:
    volume = db.volume()
    db.server(mounts={volume: DB_DATA}).stop()
    again = db.start(mounts={volume: DB_DATA})
    assert SKIPPED in again.wait_ready()


def test_version_and_other_commands_run_as_given(db: Db) -> None:
    code, out = db.run(["postgres", "--version"])
    assert code == 0 and out.startswith(f"postgres (PostgreSQL) {db.base.major}."), out
    code, out = db.run(["id", "-u"])
    assert (code, out.strip()) == (0, "0")
    code, out = db.run(["bash", "-c", 'echo "$0 $1"', "given", "as-is"])
    assert (code, out.strip()) == (0, "given as-is")


# -- arguments ------------------------------------------------------------------------------------


def test_server_settings_reach_the_server(db: Db) -> None:
    container = db.server(["-c", "shared_buffers=48MB"])
    assert container.psql("SHOW shared_buffers") == "48MB"
    code, out = container.stat(["stat", "-c", "%U", "/proc/1"], user="root")
    assert (code, out.strip()) == (0, "postgres")


def test_server_settings_reach_the_init_server(db: Db, tmp_path: Path) -> None:
    folder = init_folder(
        tmp_path, {"setting.sql": b"CREATE TABLE seen AS SELECT current_setting('work_mem') AS v;"}
    )
    container = db.server(
        ["postgres", "-c", "work_mem=7MB"],
        env={"POSTGRES_PASSWORD": PASSWORD},
        mounts={folder: "/docker-entrypoint-initdb.d"},
    )
    assert container.psql("SELECT v FROM seen") == "7MB"


def test_ready_is_logged_twice_on_first_start(db: Db) -> None:
    log = db.server().logs()
    assert log.count(READY) == 2


# -- init scripts ---------------------------------------------------------------------------------


def test_init_folder_exists(db: Db) -> None:
    code, out = db.run(["stat", "-c", "%F", "/docker-entrypoint-initdb.d"])
    assert (code, out.strip()) == (0, "directory")


def test_init_files_of_every_kind_in_order(db: Db, tmp_path: Path) -> None:
    def sql(n: int) -> bytes:
        return f"INSERT INTO steps VALUES ({n}, current_user);\n".encode()

    files = {
        "00-table.sql": b"CREATE TABLE steps (n int, who text);\n",
        # bash features: an executable script runs with its own shebang, not sh.
        "10-exec.sh": b"#!/bin/bash\nset -e\nparts=(INSERT INTO steps VALUES \"(10, 'exec')\")\n"
        b'[[ -n "$POSTGRES_USER" ]]\npsql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" '
        b'-d "$POSTGRES_DB" -c "${parts[*]}"\n',
        # Sourced: it sees the entrypoint's helpers and the old "${psql[@]}" array.
        "20-sourced.sh": b"docker_process_sql -c \"INSERT INTO steps VALUES (20, 'sourced')\"\n"
        b'"${psql[@]}" -c "INSERT INTO steps VALUES (21, \'psql-array\')"\n',
        "30-plain.sql": sql(30),
        "40-gz.sql.gz": gzip.compress(sql(40)),
        "50-xz.sql.xz": lzma.compress(sql(50)),
        "70-ignored.txt": b"not run\n",
    }
    if shutil.which("zstd"):
        files["60-zst.sql.zst"] = subprocess.run(
            ["zstd", "-q", "-c"], input=sql(60), capture_output=True, check=True
        ).stdout
    else:
        files["60-zst.sql.zst"] = _zstd_in_image(db, sql(60))
    folder = init_folder(tmp_path, files, executable=("10-exec.sh",))
    container = db.server(
        env={"POSTGRES_PASSWORD": PASSWORD, "POSTGRES_DB": "seeded"},
        mounts={folder: "/docker-entrypoint-initdb.d"},
    )
    rows = container.psql("SELECT n, who FROM steps ORDER BY ctid", db="seeded").splitlines()
    assert rows == [
        "10|exec",
        "20|sourced",
        "21|psql-array",
        "30|postgres",
        "40|postgres",
        "50|postgres",
        "60|postgres",
    ]
    assert "ignoring /docker-entrypoint-initdb.d/70-ignored.txt" in container.logs()


KIND_SQL = b"CREATE TABLE kind_ran (how text); INSERT INTO kind_ran VALUES ('ran');\n"
KINDS = {
    # An executable script runs with its own shebang: bash syntax must work.
    "executable-bash": (
        "k.sh",
        b"#!/bin/bash\nset -e\nq=(CREATE TABLE kind_ran AS SELECT \"'ran'\" AS how)\n"
        b'[[ -n "$POSTGRES_DB" ]] && psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" '
        b'-d "$POSTGRES_DB" -c "${q[*]}"\n',
    ),
    # A non-executable one is sourced: the entrypoint's helpers exist.
    "sourced-sh": (
        "k.sh",
        b"docker_process_sql -c \"CREATE TABLE kind_ran AS SELECT 'ran' AS how\"\n",
    ),
    "sql": ("k.sql", KIND_SQL),
    "sql.gz": ("k.sql.gz", gzip.compress(KIND_SQL)),
    "sql.xz": ("k.sql.xz", lzma.compress(KIND_SQL)),
    "sql.zst": ("k.sql.zst", b""),  # made by zstd below
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_init_file_kind(db: Db, tmp_path: Path, kind: str) -> None:
    name, data = KINDS[kind]
    if kind == "sql.zst":
        data = _zstd(db, KIND_SQL)
    executable = (name,) if kind == "executable-bash" else ()
    folder = init_folder(tmp_path, {name: data}, executable=executable)
    container = db.server(mounts={folder: "/docker-entrypoint-initdb.d"})
    assert container.psql("SELECT how FROM kind_ran") == "ran"


def _zstd(db: Db, data: bytes) -> bytes:
    if shutil.which("zstd"):
        return subprocess.run(
            ["zstd", "-q", "-c"], input=data, capture_output=True, check=True
        ).stdout
    return _zstd_in_image(db, data)


def _zstd_in_image(db: Db, data: bytes) -> bytes:
    """zstd-compressed `data`, made by the image's own zstd (the test host may lack one)."""
    container = db.start(["sleep", "60"], entrypoint=[])
    try:
        code, out = container.exec(
            ["bash", "-c", f"printf %s {data.decode()!r} | zstd -q -c | base64 -w0"]
        )
        assert code == 0, out
    finally:
        db.engine.api.stop(container.id, timeout=1)
    import base64

    return base64.b64decode(out.strip())


def test_failing_init_script_stops_the_container(db: Db, tmp_path: Path) -> None:
    folder = init_folder(tmp_path, {"bad.sql": b"SELECT no_such_function();\n"})
    code, log = db.run(
        env={"POSTGRES_PASSWORD": PASSWORD}, mounts={folder: "/docker-entrypoint-initdb.d"}
    )
    assert code != 0 and "no_such_function" in log


# -- defaults -------------------------------------------------------------------------------------


def test_locale_is_en_us_utf8(db: Db) -> None:
    container = db.server()
    assert container.psql("SELECT datcollate FROM pg_database WHERE datname = 'postgres'") == (
        "en_US.utf8"
    )
    assert container.psql("SHOW server_encoding") == "UTF8"


def test_entrypoint_is_on_path(db: Db) -> None:
    code, out = db.run(["bash", "-c", "command -v docker-entrypoint.sh"])
    assert (code, out.strip()) == (0, "/usr/local/bin/docker-entrypoint.sh")
    code, _ = db.run(["test", "-x", "/docker-entrypoint.sh"])
    assert code == 0


def test_image_keeps_no_apt_caches_or_docs(db: Db) -> None:
    argv = [
        "bash",
        "-c",
        "find /var/cache/apt /var/lib/apt/lists /usr/share/man -type f ! -name lock | wc -l;"
        " find /usr/share/doc -type f ! -name copyright | wc -l;"
        " find /usr/share/locale -type f -name '*.mo' | wc -l",
    ]
    code, out = db.run(argv)
    assert (code, out.split()) == (0, ["0", "0", "0"])


# -- clients --------------------------------------------------------------------------------------


def test_testcontainers_postgres_container(db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    monkeypatch.setenv("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
    import psycopg

    try:  # its home moved in testcontainers 4.x
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:
        from testcontainers.postgres import PostgresContainer

    container = PostgresContainer(
        db.image, username="tc", password="tcpw", dbname="tcdb", driver=None
    )
    container.with_name(f"dbc-tc-{uuid.uuid4().hex[:8]}")
    with container:
        url = container.get_connection_url()
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT current_user, current_database()").fetchone()
    assert row == ("tc", "tcdb")


def test_pgvector_regression_workload(db: Db) -> None:
    """pgvector's own tests' shape: types, HNSW and IVFFlat indexes, queries compared with an
    exact scan."""
    container = db.server()
    version = container.psql(
        "CREATE EXTENSION vector; SELECT extversion FROM pg_extension WHERE extname = 'vector'"
    )
    major, minor = (int(x) for x in version.splitlines()[-1].split(".")[:2])
    types = [("vector", "vector_l2_ops", "<->"), ("vector", "vector_cosine_ops", "<=>")]
    if (major, minor) >= (0, 7):
        types += [("halfvec", "halfvec_l2_ops", "<->"), ("sparsevec", "sparsevec_l2_ops", "<->")]
    for kind, ops, op in types:
        table = f"t_{kind}_{ops}"
        literal = (
            "format('{1:%s,2:%s,3:%s}/3', i % 7, i % 11, i % 13)"
            if kind == "sparsevec"
            else "format('[%s,%s,%s]', i % 7, i % 11, i % 13)"
        )
        query_vec = "'{1:3,2:5,3:1}/3'" if kind == "sparsevec" else "'[3,5,1]'"
        container.psql(
            f"CREATE TABLE {table} (id int PRIMARY KEY, v {kind}(3));"
            f" INSERT INTO {table} SELECT i, {literal}::{kind} FROM generate_series(1, 300) i;"
        )
        exact = container.psql(
            f"SELECT id FROM {table} ORDER BY v {op} {query_vec}::{kind}, id LIMIT 5"
        )
        methods = ["hnsw"] if kind == "sparsevec" else ["hnsw", "ivfflat"]
        for method in methods:
            with_ = " WITH (lists = 4)" if method == "ivfflat" else ""
            container.psql(f"CREATE INDEX ON {table} USING {method} (v {ops}){with_}")
            settings = "SET enable_seqscan = off; SET hnsw.ef_search = 400; SET ivfflat.probes = 4;"
            got = container.psql(
                f"{settings} SELECT id FROM {table} ORDER BY v {op} {query_vec}::{kind} LIMIT 5"
            )
            order = f"ORDER BY v {op} {query_vec}::{kind} LIMIT 5"
            plan = container.psql(f"{settings} EXPLAIN SELECT id FROM {table} {order}")
            assert "Index Scan" in plan, plan
            exact_d = _distances(container, table, op, query_vec, kind, exact)
            got_d = _distances(container, table, op, query_vec, kind, got)
            assert got_d == exact_d, (kind, method, got, exact)
            container.psql(f"DROP INDEX {table}_v_idx")


def _reads_only(sql: str) -> bool:
    """Whether running ``sql`` again changes nothing: only SELECT, SHOW, EXPLAIN and session
    SETs (what a second try after lost output may repeat)."""
    statements = [part.strip().upper() for part in sql.split(";") if part.strip()]
    return all(st.startswith(("SELECT", "SHOW", "EXPLAIN", "SET ")) for st in statements)


def _distances(c: Container, table: str, op: str, q: str, kind: str, ids: str) -> list[str]:
    wanted = ",".join(ids.split())
    out = c.psql(
        f"SELECT round((v {op} {q}::{kind})::numeric, 4) FROM {table}"
        f" WHERE id IN ({wanted}) ORDER BY 1"
    )
    return out.split()


# -- [postgres] init: the plan's folders, mounted as compose and verify mount them ------------


def test_plan_init_folders_run_in_order_and_verify_reads_the_log(db: Db, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "db/schema").mkdir(parents=True)
    (root / "db/seed").mkdir(parents=True)
    (root / "devenv.toml").write_text(
        db.base.plan.replace("[postgres]\n", '[postgres]\ninit = ["db/schema", "db/seed"]\n')
    )
    (root / "requirements.txt").write_text("")
    (root / "db/schema/001-table.sql").write_text("CREATE TABLE log (n serial, what text);\n")
    (root / "db/schema/002-more.sql.gz").write_bytes(
        gzip.compress(b"INSERT INTO log (what) VALUES ('schema gz');\n")
    )
    (root / "db/seed/10-data.sh").write_text(
        "docker_process_sql -c \"INSERT INTO log (what) VALUES ('seed sourced')\"\n"
    )
    (root / "db/seed/README.md").write_text("not run\n")
    plan = load_plan(root)
    mounts = {str(root / m.source): m.target for m in db_init.mounts(plan)}
    container = db.server(env={"POSTGRES_PASSWORD": PASSWORD, "POSTGRES_DB": "app"}, mounts=mounts)
    rows = container.psql("SELECT what FROM log ORDER BY n", db="app").splitlines()
    assert rows == ["schema gz", "seed sourced"]
    expected = [f.container for f in db_init.files(plan)]
    assert len(expected) == 4
    assert judge_init_log(container.logs(), expected) == (
        "3 ran in order, 1 ignored (not *.sh or *.sql*)"
    )


def test_compose_runs_the_plan_init_folders(db: Db, tmp_path: Path) -> None:
    """`devenv up`'s path: the generated compose.yaml mounts [postgres] init into the db
    service, whose entrypoint runs it on the new volume."""
    root = tmp_path / "proj"
    (root / "db/init").mkdir(parents=True)
    plan_text = db.base.plan.replace(
        "[postgres]\n", '[postgres]\ninit = ["db/init"]\nhost_port = 56201\n'
    )
    (root / "devenv.toml").write_text(plan_text)
    (root / "requirements.txt").write_text("")
    (root / "db/init/001.sql").write_text("CREATE TABLE from_compose AS SELECT 'seeded' AS v;\n")
    generated = devenv_cli("-C", str(root), "generate")
    assert generated.returncode == 0, generated.stderr
    compose = Compose(load_plan(root), log=lambda _: None)
    try:
        up = compose.capture("up", "-d", "--wait", "db", timeout=180)
        assert up.code == 0, up.output
        got = compose.capture(
            "exec",
            "-T",
            "db",
            "psql",
            "-U",
            "postgres",
            "-d",
            "app",
            "-tAc",
            "SELECT v FROM from_compose",
        )
        assert (got.code, got.stdout.strip()) == (0, "seeded"), got.output
    finally:
        compose.capture("down", "--volumes", "--timeout", "5", timeout=120)
