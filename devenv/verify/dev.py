"""The dev-image checks of `devenv verify`: what runs inside the dev container, and how its
answers are judged.

Small Python programs run with the image's venv interpreter (`python -c PROGRAM ARGS`, never
through a shell): a probe (Python version, smoke imports, pip check, pg_config, libpq, and which
Postgres drivers the venv holds), devenv's own round trip to the db container over the private
network (psql, which every plan installs), and one round trip through each driver the project
installed (psycopg 3, psycopg2, asyncpg, and SQLAlchemy on each of them), with pgvector-python's
integration for it when that is installed. Plan values reach them only as arguments and
environment, and each prints one marked JSON line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from devenv.plan.model import Plan
from devenv.steps.model import Mode, python_path, venv_path
from devenv.verify.db import DIM, Vec, cosine_distance, float32, order_problem, sample_vectors
from devenv.verify.report import CheckFailed, Checks, CheckSpec, one_line

PROBE_MARK = "DEVENV-PROBE "
ROUNDTRIP_MARK = "DEVENV-ROUNDTRIP "
ROUNDTRIP_ROWS = 50
ROUNDTRIP_K = 3
DB_ALIAS = "db"  # the db container's name on the private network

PROBE = r"""
import ctypes, ctypes.util, importlib, importlib.metadata, importlib.util, json, os, subprocess, sys
os.nice(10)  # the db server initialises meanwhile: it is the one on the critical path
pip = subprocess.Popen([sys.executable, "-m", "pip", "check"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
out = {"python": sys.version.split()[0], "executable": sys.executable, "imports": {}}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        out["imports"][name] = None
    except BaseException as exc:
        out["imports"][name] = "%s: %s" % (type(exc).__name__, exc)
try:
    r = subprocess.run(["pg_config", "--version"], capture_output=True, text=True)
    out["pg_config"] = {"code": r.returncode, "output": (r.stdout + r.stderr).strip()}
except OSError as exc:
    out["pg_config"] = {"code": None, "output": str(exc)}
try:
    lib = ctypes.CDLL(ctypes.util.find_library("pq") or "libpq.so.5")
    out["libpq"] = {"version": lib.PQlibVersion(), "error": None}
except (OSError, AttributeError) as exc:
    out["libpq"] = {"version": None, "error": str(exc)}
try:
    import psycopg
    out["psycopg"] = {"version": psycopg.__version__, "impl": psycopg.pq.__impl__,
                      "libpq": psycopg.pq.version()}
except BaseException:
    out["psycopg"] = None
try:  # top-level module -> the distributions that provide it (3.10+)
    dists = importlib.metadata.packages_distributions()
except AttributeError:
    dists = {}
out["packages"] = {}
for name in ("psycopg", "psycopg2", "asyncpg", "sqlalchemy", "greenlet", "pgvector", "numpy"):
    try:
        found = importlib.util.find_spec(name) is not None  # finds, never imports
    except (ImportError, ValueError):
        found = False
    if found:
        dist = (dists.get(name) or [name])[0]
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = None
        out["packages"][name] = {"dist": dist, "version": version}
text, _ = pip.communicate()
out["pip_check"] = {"code": pip.returncode, "output": text.strip()}
print("DEVENV-PROBE " + json.dumps(out), flush=True)
"""

# devenv's own client: psql (postgresql-client is in every plan). The SQL and devenv's sample
# data are arguments; psql interpolates the variables as quoted literals.
PSQL = r"""
import json, subprocess, sys
sql, variables = sys.argv[1], sys.argv[2:]
argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
for variable in variables:
    argv += ["-v", variable]
out = {}
try:
    out["version"] = subprocess.run(["psql", "--version"], capture_output=True, text=True,
                                    timeout=30).stdout.strip()
    r = subprocess.run(argv + ["-f", "-"], input=sql, capture_output=True, text=True, timeout=120)
    out.update(code=r.returncode, stdout=r.stdout.strip(), stderr=r.stderr.strip())
except (OSError, subprocess.SubprocessError) as exc:
    out.update(code=None, stdout="", stderr="%s: %s" % (type(exc).__name__, exc))
print("DEVENV-ROUNDTRIP " + json.dumps(out), flush=True)
"""

PSQL_VECTOR = """\
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TEMP TABLE devenv_roundtrip (id integer PRIMARY KEY, embedding vector(8) NOT NULL);
INSERT INTO devenv_roundtrip (id, embedding)
  SELECT (ordinality - 1)::integer, value::text::vector
  FROM json_array_elements(:'rows'::json) WITH ORDINALITY;
SELECT json_build_object(
  'ids', json_agg(id ORDER BY distance, id),
  'embeddings', json_agg(embedding::text ORDER BY distance, id),
  'server', current_setting('server_version'))
FROM (SELECT id, embedding, embedding <=> :'query'::vector AS distance
      FROM devenv_roundtrip ORDER BY distance, id LIMIT :k) AS nearest;
"""

PSQL_PLAIN = """\
CREATE TEMP TABLE devenv_roundtrip (id integer PRIMARY KEY, note text NOT NULL);
INSERT INTO devenv_roundtrip (id, note)
  SELECT n, 'row ' || n FROM generate_series(0, :rows - 1) AS n;
SELECT json_build_object(
  'ids', (SELECT json_agg(id ORDER BY id DESC)
          FROM (SELECT id FROM devenv_roundtrip ORDER BY id DESC LIMIT :k) AS last),
  'server', current_setting('server_version'));
"""

# One round trip per driver named in argv[2:], each in its own try: a driver that fails to
# import or connect says so without hiding the others. Vectors are written the way the
# installed pgvector-python takes them (numpy arrays where numpy is, else pgvector.Vector; a
# text literal cast to vector without pgvector-python) and read back whatever its version
# returns (ndarray, Vector, list or text), normalised to a list of floats.
DRIVERS_PROGRAM = r"""
import asyncio, functools, importlib, importlib.util, json, os, re, sys
data = json.loads(sys.argv[1])
rows, query, k, vector = data["rows"], data["query"], data["k"], data["vector"]
ENV = os.environ

def have(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False

try:
    numpy = importlib.import_module("numpy") if have("numpy") else None
except Exception:
    numpy = None  # pgvector-python then fails its own import, and says why

def as_list(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode()
    if isinstance(value, str):
        return [float(x) for x in value.strip().strip("[]").split(",")]
    for method in ("tolist", "to_list"):  # numpy.ndarray; pgvector.Vector
        if hasattr(value, method):
            return [float(x) for x in getattr(value, method)()]
    return [float(x) for x in value]

def literal(values):
    return "[" + ",".join(repr(float(x)) for x in values) + "]"

def writer(integration):
    if not integration:
        return literal
    if numpy is not None:
        return lambda values: numpy.array(values, dtype=numpy.float32)
    from pgvector import Vector  # pgvector-python without numpy (0.5+)
    return Vector

class Stage:
    name = "import"

def statements(integration, dollar):
    cast, out = ("", "") if integration else ("::text::vector", "::text")
    if vector:
        sql = [
            "CREATE TEMP TABLE devenv_roundtrip (id integer PRIMARY KEY,"
            " embedding vector(%d) NOT NULL)" % len(query),
            "INSERT INTO devenv_roundtrip (id, embedding) VALUES ($1, $2%s)" % cast,
            "SELECT id, embedding%s, embedding <=> $1%s FROM devenv_roundtrip"
            " ORDER BY embedding <=> $1%s, id LIMIT $2" % (out, cast, cast),
        ]
    else:
        sql = [
            "CREATE TEMP TABLE devenv_roundtrip (id integer PRIMARY KEY, note text NOT NULL)",
            "INSERT INTO devenv_roundtrip (id, note) VALUES ($1, $2)",
            "SELECT id FROM devenv_roundtrip ORDER BY id DESC LIMIT $1",
        ]
    sql.append("SELECT current_setting('server_version')")
    if dollar:
        return sql, [lambda params: params] * len(sql)
    # %s placeholders in order of appearance: $1 twice is the first parameter twice
    order = [[int(n) - 1 for n in re.findall(r"\$(\d+)", s)] for s in sql]
    return ([re.sub(r"\$\d+", "%s", s) for s in sql],
            [lambda params, o=o: tuple(params[i] for i in o) for o in order])

def exercise(integration, execute, executemany, fetch, dollar):
    sql, binds = statements(integration, dollar)
    wrap = writer(integration) if vector else None
    execute(sql[0], ())
    if vector:
        executemany(sql[1], [binds[1]((i, wrap(v))) for i, v in enumerate(rows)])
        found = fetch(sql[2], binds[2]((wrap(query), k)))
    else:
        executemany(sql[1], [binds[1]((i, "row %d" % i)) for i in range(len(rows))])
        found = fetch(sql[2], binds[2]((k,)))
    server = fetch(sql[3], ())[0][0]
    return found, server, wrap

def answer(found, server, wrap):
    out = {"ids": [int(r[0]) for r in found], "server": server}
    if vector:
        out["embeddings"] = [as_list(r[1]) for r in found]
        out["wrote"] = type(wrap(query)).__name__
        out["read"] = type(found[0][1]).__name__ if found else None
    return out

def via_psycopg(stage, integration):
    import psycopg
    if integration:
        from pgvector.psycopg import register_vector
    stage.name = "connect"
    with psycopg.connect(autocommit=True) as conn:
        stage.name = "query"
        if integration:
            register_vector(conn)
        cur = conn.cursor()
        def fetch(sql, params):
            return cur.execute(sql, params).fetchall()
        return answer(*exercise(integration, cur.execute, cur.executemany, fetch, False))

def via_psycopg2(stage, integration):
    import psycopg2
    if integration:
        from pgvector.psycopg2 import register_vector
    stage.name = "connect"
    conn = psycopg2.connect("")
    try:
        conn.autocommit = True
        stage.name = "query"
        if integration:
            register_vector(conn)
        cur = conn.cursor()
        def fetch(sql, params):
            cur.execute(sql, params)
            return cur.fetchall()
        return answer(*exercise(integration, cur.execute, cur.executemany, fetch, False))
    finally:
        conn.close()

def via_asyncpg(stage, integration):
    import asyncpg
    if integration:
        from pgvector.asyncpg import register_vector
    loop = asyncio.new_event_loop()
    try:
        stage.name = "connect"
        conn = loop.run_until_complete(asyncpg.connect(timeout=10))
        try:
            stage.name = "query"
            if integration:
                loop.run_until_complete(register_vector(conn))
            def execute(sql, params):
                loop.run_until_complete(conn.execute(sql, *params))
            def executemany(sql, params):
                loop.run_until_complete(conn.executemany(sql, params))
            def fetch(sql, params):
                return loop.run_until_complete(conn.fetch(sql, *params))
            return answer(*exercise(integration, execute, executemany, fetch, True))
        finally:
            loop.run_until_complete(conn.close())
    finally:
        loop.close()

def via_sqlalchemy(stage, integration, dialect):
    import sqlalchemy as sa
    importlib.import_module(dialect)
    if integration:
        from pgvector.sqlalchemy import Vector
    old = tuple(int(p) for p in re.findall(r"\d+", sa.__version__)[:2]) < (1, 4)
    parts = dict(username=ENV["PGUSER"], password=ENV["PGPASSWORD"], host=ENV["PGHOST"],
                 port=int(ENV["PGPORT"]), database=ENV["PGDATABASE"])
    make_url = sa.engine.url.URL if old else sa.engine.url.URL.create
    url = make_url("postgresql+" + dialect, **parts)

    def work(conn):
        stage.name = "query"
        if not vector:
            conn.execute(sa.text("CREATE TEMP TABLE devenv_roundtrip (id integer PRIMARY KEY,"
                                 " note text NOT NULL)"))
            conn.execute(sa.text("INSERT INTO devenv_roundtrip (id, note) VALUES (:id, :note)"),
                         [{"id": i, "note": "row %d" % i} for i in range(len(rows))])
            found = conn.execute(sa.text("SELECT id FROM devenv_roundtrip ORDER BY id DESC"
                                         " LIMIT :k"), {"k": k}).fetchall()
            server = conn.execute(sa.text("SELECT current_setting('server_version')")).scalar()
            return found, server, None
        conn.execute(sa.text("CREATE TEMP TABLE devenv_roundtrip (id integer PRIMARY KEY,"
                             " embedding vector(%d) NOT NULL)" % len(query)))
        wrap = writer(integration)
        if integration:
            table = sa.Table("devenv_roundtrip", sa.MetaData(),
                             sa.Column("id", sa.Integer, primary_key=True),
                             sa.Column("embedding", Vector(len(query))))
            conn.execute(table.insert(),
                         [{"id": i, "embedding": wrap(v)} for i, v in enumerate(rows)])
            distance = table.c.embedding.cosine_distance(wrap(query))
            columns = [table.c.id, table.c.embedding, distance]
            select = sa.select(columns) if old else sa.select(*columns)
            found = conn.execute(select.order_by(distance, table.c.id).limit(k)).fetchall()
        else:
            conn.execute(sa.text("INSERT INTO devenv_roundtrip (id, embedding)"
                                 " VALUES (:id, CAST(CAST(:embedding AS text) AS vector))"),
                         [{"id": i, "embedding": wrap(v)} for i, v in enumerate(rows)])
            found = conn.execute(sa.text(
                "SELECT id, CAST(embedding AS text), embedding <=> CAST(CAST(:q AS text) AS vector)"
                " FROM devenv_roundtrip ORDER BY embedding <=> CAST(CAST(:q AS text) AS vector), id"
                " LIMIT :k"), {"q": wrap(query), "k": k}).fetchall()
        server = conn.execute(sa.text("SELECT current_setting('server_version')")).scalar()
        return found, server, wrap

    if dialect != "asyncpg":
        engine = sa.create_engine(url)
        try:
            stage.name = "connect"
            with engine.connect() as conn:
                return answer(*work(conn))
        finally:
            engine.dispose()
    from sqlalchemy.ext.asyncio import create_async_engine

    async def main():
        engine = create_async_engine(url)
        try:
            stage.name = "connect"
            async with engine.connect() as conn:
                return await conn.run_sync(work)
        finally:
            await engine.dispose()

    return answer(*asyncio.run(main()))

VIA = {"psycopg": via_psycopg, "psycopg2": via_psycopg2, "asyncpg": via_asyncpg}
for dialect in ("psycopg", "psycopg2", "asyncpg"):
    VIA["sqlalchemy-" + dialect] = functools.partial(via_sqlalchemy, dialect=dialect)
out = {}
for spec in sys.argv[2:]:
    name, _, integration = spec.partition(":")
    stage = Stage()
    try:
        out[name] = VIA[name](stage, integration)
    except BaseException as exc:
        text = " ".join(str(exc).split())
        out[name] = {"stage": stage.name, "error": "%s: %s" % (type(exc).__name__, text) if text
                     else type(exc).__name__}
print("DEVENV-ROUNDTRIP " + json.dumps(out), flush=True)
"""


def python(plan: Plan) -> str:
    return python_path(venv_path(plan, Mode.CONTAINER))


def probe_argv(plan: Plan) -> list[str]:
    return [python(plan), "-c", PROBE, *plan.python.smoke]


def has_vector(plan: Plan) -> bool:
    return "pgvector" in plan.postgres.extensions


def roundtrip_rows() -> tuple[Vec, ...]:
    return sample_vectors(ROUNDTRIP_ROWS, DIM, seed=7)


def roundtrip_query() -> Vec:
    return sample_vectors(1, DIM, seed=8)[0]


def roundtrip_argv(plan: Plan) -> list[str]:
    """devenv's own round trip: psql, with devenv's sample data as psql variables."""
    if not has_vector(plan):
        variables = [f"rows={ROUNDTRIP_ROWS}", f"k={ROUNDTRIP_K}"]
        return [python(plan), "-c", PSQL, PSQL_PLAIN, *variables]
    rows = json.dumps([list(v) for v in roundtrip_rows()])
    query = json.dumps(list(roundtrip_query()))
    variables = [f"rows={rows}", f"query={query}", f"k={ROUNDTRIP_K}"]
    return [python(plan), "-c", PSQL, PSQL_VECTOR, *variables]


# --- the project's drivers --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Driver:
    """A way the project talks to PostgreSQL, proved by a round trip of its own."""

    name: str  # the check is dev-db-<name>
    label: str
    modules: tuple[str, ...]  # top-level modules it needs (the probe reports which exist)
    integration: str  # pgvector-python's module for it


DRIVERS = (
    Driver(name="psycopg", label="psycopg 3", modules=("psycopg",), integration="pgvector.psycopg"),
    Driver(
        name="psycopg2", label="psycopg2", modules=("psycopg2",), integration="pgvector.psycopg2"
    ),
    Driver(name="asyncpg", label="asyncpg", modules=("asyncpg",), integration="pgvector.asyncpg"),
    Driver(
        name="sqlalchemy-psycopg",
        label="SQLAlchemy (postgresql+psycopg)",
        modules=("sqlalchemy", "psycopg"),
        integration="pgvector.sqlalchemy",
    ),
    Driver(
        name="sqlalchemy-psycopg2",
        label="SQLAlchemy (postgresql+psycopg2)",
        modules=("sqlalchemy", "psycopg2"),
        integration="pgvector.sqlalchemy",
    ),
    Driver(
        name="sqlalchemy-asyncpg",
        label="SQLAlchemy's async engine (postgresql+asyncpg)",
        modules=("sqlalchemy", "asyncpg"),
        integration="pgvector.sqlalchemy",
    ),
)
CLIENT_MODULES = ("psycopg", "psycopg2", "asyncpg")
AFTER = "dev-db-roundtrip"  # driver checks are listed after devenv's own round trip


@dataclass(frozen=True, kw_only=True)
class Package:
    dist: str  # the distribution that provides the module: psycopg2-binary for psycopg2
    version: str | None

    def __str__(self) -> str:
        return f"{self.dist} {self.version}" if self.version else self.dist


def version_tuple(version: str | None) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version or "")[:2])


@dataclass(frozen=True, kw_only=True)
class Stack:
    """What the probe found in the venv: the drivers to check, and what is not checked."""

    packages: dict[str, Package]
    drivers: tuple[Driver, ...]
    notes: tuple[str, ...]

    @property
    def pgvector(self) -> Package | None:
        return self.packages.get("pgvector")

    def describe(self, driver: Driver) -> str:
        """'asyncpg 0.30.0 with pgvector 0.4.2 and numpy 2.2.6'"""
        used = ", ".join(str(self.packages[m]) for m in driver.modules)
        extras = [str(p) for p in (self.pgvector, self.packages.get("numpy")) if p]
        return used + (f" with {' and '.join(extras)}" if extras else "")

    def summary(self) -> str:
        names = [*CLIENT_MODULES, "sqlalchemy", "pgvector", "numpy"]
        found = [str(self.packages[n]) for n in names if n in self.packages]
        return ", ".join(found) or "none"


def _sqlalchemy_gap(driver: Driver, packages: dict[str, Package]) -> str | None:
    """Why SQLAlchemy cannot use `driver`'s dialect in this venv, or None."""
    version = packages["sqlalchemy"].version
    known = version_tuple(version)
    what = f"{driver.label} not checked"
    if "asyncpg" in driver.modules:
        if known and known < (1, 4):
            return f"SQLAlchemy {version} has no asyncpg dialect (1.4 added it): {what}"
        if "greenlet" not in packages:
            return (
                "SQLAlchemy's async engine needs greenlet, which the venv lacks "
                f"(sqlalchemy[asyncio] installs it): {what}"
            )
    if "psycopg" in driver.modules and known and known < (2, 0):
        return f"SQLAlchemy {version} has no psycopg 3 dialect (2.0 added it): {what}"
    return None


def stack(probe: dict[str, Any]) -> Stack:
    packages = {
        str(name): Package(dist=str(found.get("dist") or name), version=found.get("version"))
        for name, found in (probe.get("packages") or {}).items()
        if isinstance(found, dict)
    }
    drivers: list[Driver] = []
    notes: list[str] = []
    for driver in DRIVERS:
        if not all(m in packages for m in driver.modules):
            continue
        gap = _sqlalchemy_gap(driver, packages) if "sqlalchemy" in driver.modules else None
        if gap:
            notes.append(gap)
        else:
            drivers.append(driver)
    if not any(m in packages for m in CLIENT_MODULES):
        notes.append(
            "the venv holds no Postgres driver (psycopg, psycopg2, asyncpg): "
            "dev-db-roundtrip's psql is the only client checked"
        )
    return Stack(packages=packages, drivers=tuple(drivers), notes=tuple(notes))


def driver_specs(plan: Plan, found: Stack) -> tuple[CheckSpec, ...]:
    if not has_vector(plan):
        what = "an insert and a query"
    elif found.pgvector:
        what = "pgvector insert + nearest-neighbour query through {}"
    else:
        what = "pgvector insert + nearest-neighbour query (text literals: no pgvector-python)"
    return tuple(
        CheckSpec(
            name=f"dev-db-{d.name}",
            title=f"the project's {d.label} reaches the db from the dev container: "
            + what.format(d.integration),
            group="dev",
            needs=(AFTER,),
        )
        for d in found.drivers
    )


def drivers_argv(plan: Plan, found: Stack) -> list[str]:
    payload = {
        "rows": [list(v) for v in roundtrip_rows()],
        "query": list(roundtrip_query()),
        "k": ROUNDTRIP_K,
        "vector": has_vector(plan),
    }
    # Without the extension there is no vector type for pgvector-python to register.
    integration = found.pgvector is not None and has_vector(plan)
    specs = [f"{d.name}:{d.integration if integration else ''}" for d in found.drivers]
    return [python(plan), "-c", DRIVERS_PROGRAM, json.dumps(payload), *specs]


def catalogue(plan: Plan, image: str) -> tuple[CheckSpec, ...]:
    def spec(name: str, title: str, *needs: str) -> CheckSpec:
        return CheckSpec(name=name, title=title, group="dev", needs=needs)

    specs = [
        spec("dev-start", f"{image} starts on a private network"),
        spec("dev-python", f"{python(plan)} runs and reports its version", "dev-start"),
        spec(
            "dev-pip-check",
            "pip check: installed packages have compatible dependencies",
            "dev-python",
        ),
    ]
    specs += [spec(f"dev-import-{m}", f"import {m}", "dev-python") for m in plan.python.smoke]
    specs += [
        spec("dev-pg-config", "pg_config --version", "dev-python"),
        spec("dev-libpq", "libpq's version (PQlibVersion)", "dev-python"),
    ]
    vector = has_vector(plan)
    specs.append(
        spec(
            AFTER,
            f"from the dev container, devenv's psql reaches the db over the private network: "
            f"{'pgvector insert + similarity query' if vector else 'a query'} "
            "(then one check per Postgres driver the venv holds)",
            "dev-python",
            "db-extension-vector" if vector else "db-start",
        )
    )
    return tuple(specs)


# --- judging the probe ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Exec:
    """What an exec in a container returned."""

    code: int | None
    stdout: str
    stderr: str

    def tail(self, lines: int = 5) -> str:
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return " | ".join(line.strip() for line in text[-lines:] if line.strip())


def marked_json(result: Exec, mark: str) -> dict[str, Any]:
    """The JSON a program printed after `mark`, or CheckFailed with its exit code and output."""
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(mark):
            data = json.loads(line[len(mark) :])
            if isinstance(data, dict):
                return data
    raise CheckFailed(f"exit code {result.code}: {result.tail() or 'no output'}")


def libpq_text(version: Any) -> str:
    """PQlibVersion() -> text: 170012 -> '17.12', 90624 -> '9.6.24'."""
    number = int(version)
    if number >= 100000:
        return f"{number // 10000}.{number % 10000}"
    return f"{number // 10000}.{number // 100 % 100}.{number % 100}"


def judge_probe(checks: Checks, plan: Plan, probe: dict[str, Any]) -> None:
    """Record every check the probe answers (dev-python is recorded by the caller)."""
    info = checks.info["dev"]

    def pip_check() -> str:
        pip = probe.get("pip_check") or {}
        if pip.get("code") != 0:
            raise CheckFailed(f"pip check exit code {pip.get('code')}: {pip.get('output', '')}")
        return one_line(str(pip.get("output", "")))

    def smoke(module: str) -> Any:
        def run() -> str:
            error = (probe.get("imports") or {}).get(module, "not tried")
            if error is not None:
                raise CheckFailed(f"import {module}: {error}")
            return f"import {module} works"

        return run

    def pg_config() -> str:
        result = probe.get("pg_config") or {}
        output = str(result.get("output", ""))
        if result.get("code") == 0:
            info["pg_config"] = output
            return output
        if "libpq-dev" not in plan.system.packages:
            return f"not installed (libpq-dev is not in the plan): {output}"
        raise CheckFailed(f"pg_config --version failed: {output}")

    def libpq() -> str:
        result = probe.get("libpq") or {}
        if result.get("version") is None:
            raise CheckFailed(f"cannot load libpq: {result.get('error')}")
        info["libpq"] = libpq_text(result["version"])
        detail = f"system libpq {info['libpq']}"
        driver = probe.get("psycopg")
        if driver:
            own = libpq_text(driver["libpq"])
            info["psycopg"] = f"{driver['version']} ({driver['impl']}, libpq {own})"
            detail += f"; psycopg {info['psycopg']}"
        return detail

    checks.run("dev-pip-check", pip_check)
    for module in plan.python.smoke:
        checks.run(f"dev-import-{module}", smoke(module))
    checks.run("dev-pg-config", pg_config)
    checks.run("dev-libpq", libpq)


def probe_detail(probe: dict[str, Any]) -> str:
    return f"Python {probe.get('python')} ({probe.get('executable')})"


def _as_floats(values: Any) -> list[float]:
    if isinstance(values, str):  # psql's text: '[0.1,-0.2]'
        return [float(x) for x in values.strip().strip("[]").split(",")]
    return [float(x) for x in values]


def result_problem(answer: dict[str, Any], *, vector: bool) -> str | None:
    """What is wrong with a round trip's answer, or None: ids by cosine as Python orders them,
    and each vector read back as the float32 values inserted (a text reader's decimals are
    rounded to float32 first, as the server stored them)."""
    ids = [int(i) for i in answer.get("ids") or []]
    if not vector:
        expected = list(range(ROUNDTRIP_ROWS - 1, ROUNDTRIP_ROWS - 1 - ROUNDTRIP_K, -1))
        return None if ids == expected else f"returned ids {ids}, not {expected}"
    rows = roundtrip_rows()
    problem = order_problem(ids, rows, roundtrip_query(), cosine_distance, ROUNDTRIP_K)
    if problem:
        return problem
    embeddings = answer.get("embeddings") or []
    if len(embeddings) != len(ids):
        return f"{len(embeddings)} vectors read back for {len(ids)} ids"
    for i, values in zip(ids, embeddings, strict=True):
        read = tuple(float32(x) for x in _as_floats(values))
        if read != rows[i]:
            return f"row {i} read back as {list(read)}, inserted {list(rows[i])}"
    return None


def judge_psql(answer: dict[str, Any], network: str, *, vector: bool) -> str:
    """dev-db-roundtrip: devenv's psql from the dev container. Every failure here is devenv's
    (its network, credentials, client package or SQL), never the project's."""
    where = f"{DB_ALIAS}:5432 over network {network}"
    if answer.get("code") != 0:
        said = one_line(str(answer.get("stderr") or answer.get("stdout") or "no output"))
        raise CheckFailed(
            f"devenv's: psql in the dev image could not do its round trip to {where} "
            f"(exit code {answer.get('code')}): {said}"
        )
    try:
        data = json.loads(str(answer.get("stdout")))
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise CheckFailed(f"devenv's: psql printed no result: {one_line(str(answer))}")
    problem = result_problem(data, vector=vector)
    if problem:
        raise CheckFailed(f"devenv's: wrong results from psql: {problem}")
    version = re.search(r"\d+(\.\d+)*", str(answer.get("version") or ""))
    client = f"psql {version.group()}" if version else "psql"
    done = (
        f"top {ROUNDTRIP_K} by cosine {data.get('ids')} as in Python, read back exactly"
        if vector
        else "read back"
    )
    return (
        f"{where} with {client}: {ROUNDTRIP_ROWS} rows inserted, {done} "
        f"(server {data.get('server')})"
    )


def judge_driver(
    driver: Driver, found: Stack, answer: dict[str, Any] | None, *, vector: bool
) -> str:
    """dev-db-<driver>: the project's driver from the dev container, after devenv's psql
    passed. A driver or pgvector-python that does not import is the project's to fix; a
    connection psql made but the driver could not, or wrong results, is devenv's."""
    who = found.describe(driver)
    if not isinstance(answer, dict):
        raise CheckFailed(f"devenv's: the driver round trip said nothing about {driver.name}")
    error = one_line(str(answer.get("error") or ""))
    stage = answer.get("stage")
    if stage == "import":
        modules = [*driver.modules, *([driver.integration] if found.pgvector and vector else [])]
        raise CheckFailed(
            f"the project's: import {', '.join(modules)} failed in the image's venv ({error}); "
            f"fix the requirements that provide them ({who}), then `devenv build`"
        )
    if stage == "connect":
        raise CheckFailed(
            f"devenv's: {who} could not connect to {DB_ALIAS}:5432 ({error}), "
            "though devenv's psql did with the same settings"
        )
    if error:
        raise CheckFailed(f"devenv's: the round trip through {who} failed ({error})")
    problem = result_problem(answer, vector=vector)
    if problem:
        raise CheckFailed(f"devenv's: wrong results through {who}: {problem}")
    if not vector:
        return f"{who}: {ROUNDTRIP_ROWS} rows inserted and read back"
    return (
        f"{who}: {ROUNDTRIP_ROWS} rows written as {answer.get('wrote')}, top {ROUNDTRIP_K} by "
        f"cosine {answer.get('ids')} as in Python, read back exactly as {answer.get('read')}"
    )
