"""The database checks of `devenv verify`, over psycopg 3 + pgvector-python.

Everything here works on an open connection (or on plain data): starting containers is
devenv.verify.lifecycle's job. The expected answers (nearest neighbours, distances) are computed in
Python from the same float32 values the server stores, so the checks need no fixtures.
"""

from __future__ import annotations

import math
import random
import re
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from devenv.plan.model import Plan
from devenv.rules.distro import EXTENSION_SQL_NAMES
from devenv.verify.report import CheckFailed, Checks, CheckSpec

if TYPE_CHECKING:  # psycopg is imported when first used: meanwhile the server initialises
    import psycopg

Vec = tuple[float, ...]
Metric = Callable[[Vec, Vec], float]

TABLE = "devenv_verify_items"
HNSW_INDEX = "devenv_verify_hnsw"
IVFFLAT_INDEX = "devenv_verify_ivfflat"
DIM = 8
ROWS = 200
LISTS = 10  # IVFFlat lists; probes = LISTS makes the index search exhaustive
K = 5

# Every statement is a literal: no value is ever formatted into SQL.
CREATE_TABLE = (
    "CREATE TABLE devenv_verify_items (id integer PRIMARY KEY, embedding vector(8) NOT NULL)"
)
INSERT = "INSERT INTO devenv_verify_items (id, embedding) VALUES (%s, %s)"
COUNT = "SELECT count(*) FROM devenv_verify_items"
READ_BACK = "SELECT embedding FROM devenv_verify_items WHERE id = %s"
CREATE_HNSW = (
    "CREATE INDEX devenv_verify_hnsw ON devenv_verify_items"
    " USING hnsw (embedding vector_cosine_ops)"
)
CREATE_IVFFLAT = (
    "CREATE INDEX devenv_verify_ivfflat ON devenv_verify_items"
    " USING ivfflat (embedding vector_l2_ops) WITH (lists = 10)"
)
NEAREST = {
    "<=>": "SELECT id FROM devenv_verify_items ORDER BY embedding <=> %s LIMIT %s",
    "<->": "SELECT id FROM devenv_verify_items ORDER BY embedding <-> %s LIMIT %s",
}
EXPLAIN_NEAREST = {op: f"EXPLAIN (FORMAT JSON) {query}" for op, query in NEAREST.items()}
EXACT = {  # ef_search above the row count, every IVFFlat list probed: exact answers on purpose
    "<=>": "SET LOCAL hnsw.ef_search = 400",
    "<->": "SET LOCAL ivfflat.probes = 10",
}
DISTANCES = "SELECT %s <-> %s, %s <=> %s, %s <#> %s"
EXTVERSION = "SELECT extversion FROM pg_extension WHERE extname = %s"
EXTENSIONS = "SELECT extname, extversion FROM pg_extension ORDER BY extname"
CREATE_MARKER = "CREATE TABLE IF NOT EXISTS devenv_verify_marker (note text NOT NULL)"
INSERT_MARKER = "INSERT INTO devenv_verify_marker (note) VALUES (%s)"
COUNT_MARKER = "SELECT count(*) FROM devenv_verify_marker WHERE note = %s"
SEED = 20240917
# The server sums float32 products; Python sums doubles of the same float32 values.
REL_TOL = 1e-5
ABS_TOL = 1e-6


# --- data and maths -----------------------------------------------------------------------------


def float32(value: float) -> float:
    """`value` rounded to the float32 the server stores in a vector."""
    rounded: float = struct.unpack("f", struct.pack("f", value))[0]
    return rounded


def sample_vectors(count: int, dim: int = DIM, seed: int = SEED) -> tuple[Vec, ...]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test vectors, not secrets
    return tuple(tuple(float32(rng.uniform(-1.0, 1.0)) for _ in range(dim)) for _ in range(count))


def query_vector(dim: int = DIM, seed: int = SEED + 1) -> Vec:
    return sample_vectors(1, dim, seed)[0]


def l2_distance(a: Vec, b: Vec) -> float:
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


def cosine_distance(a: Vec, b: Vec) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return 1.0 - dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def negative_inner_product(a: Vec, b: Vec) -> float:
    return -sum(x * y for x, y in zip(a, b, strict=True))


# SQL operator -> (its name, the same distance computed in Python)
OPERATORS: dict[str, tuple[str, Metric]] = {
    "<->": ("L2", l2_distance),
    "<=>": ("cosine", cosine_distance),
    "<#>": ("negative inner product", negative_inner_product),
}


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def nearest(rows: Sequence[Vec], query: Vec, metric: Metric, k: int) -> list[int]:
    """Ids (indexes into rows) of the k rows nearest to query, nearest first."""
    return sorted(range(len(rows)), key=lambda i: (metric(rows[i], query), i))[:k]


def order_problem(
    got: Sequence[int], rows: Sequence[Vec], query: Vec, metric: Metric, k: int
) -> str | None:
    """None if `got` is the k nearest in the right order (rows whose distances tie within the
    float32 tolerance may swap); else what is wrong."""
    expected = nearest(rows, query, metric, k)
    if list(got) == expected:
        return None
    if len(got) == k and all(0 <= i < len(rows) for i in got):
        wanted = [metric(rows[i], query) for i in expected]
        seen = [metric(rows[i], query) for i in got]
        if len(set(got)) == k and all(close(a, b) for a, b in zip(seen, wanted, strict=True)):
            return None
    return f"got ids {list(got)}, Python says {expected}"


def upstream_version(deb_version: str) -> str:
    """The upstream part of a Debian version: '1:0.8.0-1+b1' -> '0.8.0',
    '0.6.0-1.pgdg24.04+1' -> '0.6.0', '0.8.0+dfsg-2' -> '0.8.0'."""
    version = deb_version.strip().split(":", 1)[-1]
    if "-" in version:
        version = version.rsplit("-", 1)[0]
    return re.split(r"[+~]", version, maxsplit=1)[0]


def plan_nodes(plan: Any) -> Iterator[dict[str, Any]]:
    """Every node of an `EXPLAIN (FORMAT JSON)` result."""
    if isinstance(plan, list):
        for item in plan:
            yield from plan_nodes(item)
    elif isinstance(plan, dict):
        if "Node Type" in plan:
            yield plan
        for key in ("Plan", "Plans"):
            if key in plan:
                yield from plan_nodes(plan[key])


def index_scans(plan: Any) -> list[str]:
    """Names of the indexes an `EXPLAIN (FORMAT JSON)` plan scans."""
    return [str(n["Index Name"]) for n in plan_nodes(plan) if "Index Name" in n]


def plan_summary(plan: Any) -> str:
    return " > ".join(
        str(n["Node Type"]) + (f" using {n['Index Name']}" if "Index Name" in n else "")
        for n in plan_nodes(plan)
    )


# --- the catalogue ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Extension:
    plan_name: str  # "pgvector"
    sql_name: str  # "vector"
    package: str  # "postgresql-17-pgvector"


def extensions(plan: Plan) -> tuple[Extension, ...]:
    return tuple(
        Extension(plan_name=e, sql_name=EXTENSION_SQL_NAMES[e], package=p.split("=", 1)[0])
        for e, p in zip(plan.postgres.extensions, plan.postgres.packages.extensions, strict=True)
    )


def has_pgvector(plan: Plan) -> bool:
    return "pgvector" in plan.postgres.extensions


def catalogue(plan: Plan, image: str) -> tuple[CheckSpec, ...]:
    major = plan.postgres.version
    specs = [
        _spec("db-start", f"{image} starts with testcontainers and takes connections on its port"),
        _spec(
            "db-server-version", f"the server's major version is the plan's ({major})", "db-start"
        ),
    ]
    if plan.postgres.init:
        specs.append(
            _spec(
                "db-init-scripts",
                f"the init scripts of {', '.join(plan.postgres.init)} ran, in order, without error",
                "db-start",
            )
        )
    for ext in extensions(plan):
        specs += _extension_specs(ext)
    if has_pgvector(plan):
        specs += _vector_specs()
    specs += [
        _spec(
            "db-restart",
            "a restart on the same data volume keeps the rows and extensions",
            "db-start",
        ),
        _spec("db-no-password", "without a password the container refuses to start, saying why"),
    ]
    return tuple(specs)


def _spec(name: str, title: str, *needs: str) -> CheckSpec:
    return CheckSpec(name=name, title=title, group="db", needs=needs)


def _extension_specs(ext: Extension) -> list[CheckSpec]:
    """An extension's checks: it is created, at the version its package installs."""
    return [
        _spec(f"db-extension-{ext.sql_name}", f"CREATE EXTENSION {ext.sql_name}", "db-start"),
        _spec(
            f"db-extension-{ext.sql_name}-version",
            f"extversion of {ext.sql_name} is the version {ext.package} installs",
            f"db-extension-{ext.sql_name}",
        ),
    ]


def _vector_specs() -> list[CheckSpec]:
    """pgvector's checks (run_vector_checks runs them)."""
    return [
        _spec("db-vector-table", f"a vector({DIM}) table takes {ROWS} rows", "db-extension-vector"),
        _spec("db-hnsw-index", "an HNSW index (vector_cosine_ops) builds", "db-vector-table"),
        _spec(
            "db-ivfflat-index",
            f"an IVFFlat index (vector_l2_ops, lists={LISTS}) builds",
            "db-vector-table",
        ),
        _spec(
            "db-knn-hnsw",
            f"cosine top {K} in Python's order; EXPLAIN uses the HNSW index",
            "db-hnsw-index",
        ),
        _spec(
            "db-knn-ivfflat",
            f"L2 top {K} in Python's order; EXPLAIN uses the IVFFlat index",
            "db-ivfflat-index",
        ),
        _spec("db-distances", "server distances (<->, <=>, <#>) match Python's", "db-vector-table"),
    ]


# --- the init scripts ------------------------------------------------------------------------

_INIT_LINE = re.compile(r": (running|sourcing|ignoring) (/docker-entrypoint-initdb\.d/\S+)$")


def judge_init_log(log: str, expected: Sequence[str]) -> str:
    """The pass detail, or CheckFailed: the entrypoint's log must name every expected file
    (container paths), in that order, and nothing else from the init folder."""
    seen = [(m[1], m[2]) for m in map(_INIT_LINE.search, log.splitlines()) if m]
    if [path for _, path in seen] != list(expected):
        raise CheckFailed(
            f"the entrypoint ran {[path for _, path in seen]}, the plan's folders hold "
            f"{list(expected)}"
        )
    ran = sum(1 for verb, _ in seen if verb != "ignoring")
    ignored = len(seen) - ran
    return f"{ran} ran in order" + (f", {ignored} ignored (not *.sh or *.sql*)" if ignored else "")


# --- checks on a live server ------------------------------------------------------------------

Conn: TypeAlias = "psycopg.Connection[tuple[Any, ...]]"


@dataclass(frozen=True, kw_only=True)
class Target:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    def connect(self, timeout: float = 10.0) -> Conn:
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.dbname,
            autocommit=True,
            connect_timeout=max(1, int(timeout)),
        )


def _vector(values: Vec) -> Any:
    from pgvector import Vector

    return Vector(list(values))


def _register(conn: Conn) -> None:
    from pgvector.psycopg import register_vector

    register_vector(conn)


def _scalar(conn: Conn, query: str, params: Sequence[Any] = ()) -> Any:
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise CheckFailed(f"{query!r} returned no row")
    return row[0]


def _pg_message(exc: psycopg.Error) -> str:
    """The server's primary message (one line), else the exception's first line."""
    primary = exc.diag.message_primary
    if primary:
        return primary
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def run_server_checks(
    checks: Checks,
    conn: Conn,
    plan: Plan,
    packaged: dict[str, str | None],
    unasked: Mapping[str, str] | None = None,
) -> None:
    """The server's version and the plan's extensions. `packaged` maps each extension's apt
    package to the version dpkg reports in the image (None when dpkg does not know it);
    `unasked` maps a package dpkg could not be asked about to why (the engine's error)."""
    major = plan.postgres.version

    def server_version() -> str:
        number = int(_scalar(conn, "SHOW server_version_num"))
        text = str(_scalar(conn, "SHOW server_version"))
        checks.info["postgres"]["version"] = text.split()[0]
        checks.info["postgres"]["server_version"] = text
        if number // 10000 != major:
            raise CheckFailed(f"server is PostgreSQL {text}, the plan says {major}")
        return f"PostgreSQL {text}"

    checks.run("db-server-version", server_version)
    for ext in extensions(plan):
        why = (unasked or {}).get(ext.package)
        _extension_checks(checks, conn, ext, packaged.get(ext.package), why)


def _extension_checks(
    checks: Checks, conn: Conn, ext: Extension, deb: str | None, unasked: str | None = None
) -> None:
    def create() -> str:
        import psycopg
        from psycopg import sql

        statement = sql.SQL("CREATE EXTENSION {}").format(sql.Identifier(ext.sql_name))
        try:
            conn.execute(statement)
        except psycopg.Error as exc:
            raise CheckFailed(
                f"CREATE EXTENSION {ext.sql_name} failed: {_pg_message(exc)}"
            ) from exc
        version = str(_scalar(conn, EXTVERSION, (ext.sql_name,)))
        if ext.plan_name == "pgvector":
            checks.info["postgres"]["pgvector"] = version
        return f"{ext.sql_name} {version} created"

    def version() -> str:
        got = str(_scalar(conn, EXTVERSION, (ext.sql_name,)))
        if deb is None and unasked:
            raise CheckFailed(f"dpkg-query about {ext.package} failed: {unasked}; extversion {got}")
        if deb is None:
            raise CheckFailed(f"dpkg does not know {ext.package} in the db image; extversion {got}")
        wanted = upstream_version(deb)
        if got != wanted:
            raise CheckFailed(f"extversion is {got}, but {ext.package} {deb} installs {wanted}")
        return f"{got}, as {ext.package} {deb} installs"

    checks.run(f"db-extension-{ext.sql_name}", create)
    checks.run(f"db-extension-{ext.sql_name}-version", version)  # skipped if create failed


def run_vector_checks(checks: Checks, conn: Conn) -> None:
    """A vector table, HNSW and IVFFlat indexes, nearest neighbours, distances."""
    rows = sample_vectors(ROWS)
    query = query_vector()
    # Each check names what it needs: after a failure, the rest are recorded as skipped.
    checks.run("db-vector-table", lambda: _vector_table(conn, rows))
    checks.run("db-hnsw-index", lambda: _build_index(conn, HNSW_INDEX, CREATE_HNSW))
    checks.run("db-ivfflat-index", lambda: _build_index(conn, IVFFLAT_INDEX, CREATE_IVFFLAT))
    checks.run("db-knn-hnsw", lambda: _nearest(conn, rows, query, "<=>", HNSW_INDEX))
    checks.run("db-knn-ivfflat", lambda: _nearest(conn, rows, query, "<->", IVFFLAT_INDEX))
    checks.run("db-distances", lambda: _distances(conn, rows, query))


def _vector_table(conn: Conn, rows: tuple[Vec, ...]) -> str:
    """``rows`` written to a new vector table, counted and one read back."""
    _register(conn)
    conn.execute(CREATE_TABLE)
    with conn.cursor() as cur:
        cur.executemany(INSERT, [(i, _vector(v)) for i, v in enumerate(rows)])
    count = int(_scalar(conn, COUNT))
    if count != ROWS:
        raise CheckFailed(f"inserted {ROWS} rows, the table holds {count}")
    back = _scalar(conn, READ_BACK, (7,))
    values = tuple(back.to_list() if hasattr(back, "to_list") else back)
    if values != rows[7]:
        raise CheckFailed(f"row 7 reads back as {values}, inserted {rows[7]}")
    return f"{count} rows of vector({DIM}) written, and read back equal"


def _build_index(conn: Conn, name: str, statement: str) -> str:
    conn.execute(statement)
    return f"{name} built"


def _nearest(conn: Conn, rows: tuple[Vec, ...], query: Vec, op: str, index_name: str) -> str:
    """The server's K nearest neighbours to ``query`` by ``op``, exact, in Python's order and
    found through ``index_name``."""
    label, metric = OPERATORS[op]
    params = (_vector(query), K)
    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute(EXACT[op])
        explain = _scalar(conn, EXPLAIN_NEAREST[op], params)
        got = [int(r[0]) for r in conn.execute(NEAREST[op], params)]
    problem = order_problem(got, rows, query, metric, K)
    if problem:
        raise CheckFailed(f"{label} nearest neighbours in the wrong order: {problem}")
    used = index_scans(explain)
    if index_name not in used:
        raise CheckFailed(f"EXPLAIN does not use {index_name}: {plan_summary(explain)}")
    return f"ids {got}; EXPLAIN: {plan_summary(explain)}"


def _distances(conn: Conn, rows: tuple[Vec, ...], query: Vec) -> str:
    """The server's three distances from every tenth row to ``query`` against Python's."""
    compared = 0
    for a in rows[:: ROWS // 10]:
        got = conn.execute(DISTANCES, [_vector(a), _vector(query)] * 3).fetchone()
        if got is None:
            raise CheckFailed("the distance query returned no row")
        for server, (op, (label, metric)) in zip(got, OPERATORS.items(), strict=True):
            python = metric(a, query)
            if not close(float(server), python):
                raise CheckFailed(f"{label} ({op}): server {server!r}, Python {python!r}")
            compared += 1
    return f"{compared} distances agree within {REL_TOL:g}"


# --- persistence across a restart -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """What must survive a restart: the marker row, extension versions, vector rows."""

    marker: str
    extensions: tuple[tuple[str, str], ...]
    vector_rows: int | None  # None: no vector table to compare
    nearest: tuple[int, ...]


def prepare_restart(conn: Conn, marker: str) -> Snapshot:
    conn.execute(CREATE_MARKER)
    conn.execute(INSERT_MARKER, (marker,))
    return snapshot(conn, marker)


def snapshot(conn: Conn, marker: str) -> Snapshot:
    exts = tuple((str(n), str(v)) for n, v in conn.execute(EXTENSIONS))
    has_marker = int(_scalar(conn, COUNT_MARKER, (marker,))) > 0
    vector_rows = None
    nearest_ids: tuple[int, ...] = ()
    if _scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", (TABLE,)):
        vector_rows = int(_scalar(conn, COUNT))
        if vector_rows:
            _register(conn)
            found = conn.execute(NEAREST["<->"], (_vector(query_vector()), K))
            nearest_ids = tuple(int(r[0]) for r in found)
    return Snapshot(
        marker=marker if has_marker else "",
        extensions=exts,
        vector_rows=vector_rows,
        nearest=nearest_ids,
    )


def compare_snapshots(before: Snapshot, after: Snapshot) -> str:
    """The pass detail, or CheckFailed naming what the restart lost."""
    lost = []
    if before.marker and after.marker != before.marker:
        lost.append("the marker row")
    missing = sorted(set(before.extensions) - set(after.extensions))
    if missing:
        lost.append("extensions " + ", ".join(f"{n} {v}" for n, v in missing))
    if before.vector_rows != after.vector_rows:
        lost.append(f"vector rows ({before.vector_rows} before, {after.vector_rows} after)")
    elif before.nearest != after.nearest:
        lost.append(f"nearest neighbours ({list(before.nearest)} -> {list(after.nearest)})")
    if lost:
        raise CheckFailed("after a restart on the same volume: lost " + "; ".join(lost))
    kept = [f"{n} {v}" for n, v in after.extensions if n != "plpgsql"]
    rows = f"{after.vector_rows} vector rows, " if after.vector_rows is not None else ""
    return f"kept {rows}the marker row and {', '.join(kept) or 'plpgsql'}"
