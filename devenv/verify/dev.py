"""The dev-image checks of `devenv verify`: what runs inside the dev container, and how its
answers are judged.

Two small Python programs run with the image's venv interpreter (`python -c PROGRAM ARGS`,
never through a shell): a probe (Python version, smoke imports, pip check, pg_config, libpq)
and a pgvector round trip to the db container over the private network. Plan values reach
them only as arguments and environment, and each prints one marked JSON line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from devenv.plan.model import Plan
from devenv.steps.compile import Mode, python_path, venv_path
from devenv.verify.db import DIM, Vec, cosine_distance, order_problem, sample_vectors
from devenv.verify.report import CheckFailed, Checks, CheckSpec, one_line

PROBE_MARK = "DEVENV-PROBE "
ROUNDTRIP_MARK = "DEVENV-ROUNDTRIP "
ROUNDTRIP_ROWS = 50
ROUNDTRIP_K = 3
DB_ALIAS = "db"  # the db container's name on the private network

PROBE = r"""
import ctypes, ctypes.util, importlib, json, os, subprocess, sys
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
text, _ = pip.communicate()
out["pip_check"] = {"code": pip.returncode, "output": text.strip()}
print("DEVENV-PROBE " + json.dumps(out), flush=True)
"""

ROUNDTRIP = r"""
import json, sys
import psycopg
from pgvector.psycopg import register_vector
try:
    from pgvector import Vector
    wrap, unwrap = Vector, lambda v: v.to_list()
except ImportError:  # pgvector-python < 0.3 speaks numpy
    import numpy
    wrap = lambda v: numpy.array(v, dtype=numpy.float32)
    unwrap = lambda v: [float(x) for x in v]
data = json.loads(sys.argv[1])
rows, query, k = data["rows"], data["query"], data["k"]
with psycopg.connect(autocommit=True) as conn:
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)
    conn.execute("CREATE TEMP TABLE devenv_roundtrip (id integer PRIMARY KEY,"
                 " embedding vector(%d) NOT NULL)" % len(query))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO devenv_roundtrip (id, embedding) VALUES (%s, %s)",
                        [(i, wrap(v)) for i, v in enumerate(rows)])
    found = conn.execute("SELECT id, embedding, embedding <=> %s FROM devenv_roundtrip"
                         " ORDER BY embedding <=> %s LIMIT %s",
                         (wrap(query), wrap(query), k)).fetchall()
    server = conn.execute("SELECT current_setting('server_version')").fetchone()[0]
    host = conn.info.host
print("DEVENV-ROUNDTRIP " + json.dumps({
    "ids": [r[0] for r in found], "embeddings": [unwrap(r[1]) for r in found],
    "distances": [r[2] for r in found], "server": server, "host": host}), flush=True)
"""

ROUNDTRIP_PLAIN = r"""
import json, sys
import psycopg
data = json.loads(sys.argv[1])
with psycopg.connect(autocommit=True) as conn:
    conn.execute("CREATE TEMP TABLE devenv_roundtrip (id integer PRIMARY KEY, note text)")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO devenv_roundtrip VALUES (%s, %s)",
                        [(i, "row %d" % i) for i in range(len(data["rows"]))])
    ids = [r[0] for r in conn.execute("SELECT id FROM devenv_roundtrip ORDER BY id DESC LIMIT %s",
                                      (data["k"],))]
    server = conn.execute("SELECT current_setting('server_version')").fetchone()[0]
print("DEVENV-ROUNDTRIP " + json.dumps({"ids": ids, "server": server}), flush=True)
"""


def python(plan: Plan) -> str:
    return python_path(venv_path(plan, Mode.CONTAINER))


def probe_argv(plan: Plan) -> list[str]:
    return [python(plan), "-c", PROBE, *plan.python.smoke]


def has_vector(plan: Plan) -> bool:
    return "pgvector" in plan.postgres.extensions


def roundtrip_argv(plan: Plan) -> list[str]:
    payload = {
        "rows": [list(v) for v in roundtrip_rows()],
        "query": list(roundtrip_query()),
        "k": ROUNDTRIP_K,
    }
    program = ROUNDTRIP if has_vector(plan) else ROUNDTRIP_PLAIN
    return [python(plan), "-c", program, json.dumps(payload)]


def roundtrip_rows() -> tuple[Vec, ...]:
    return sample_vectors(ROUNDTRIP_ROWS, DIM, seed=7)


def roundtrip_query() -> Vec:
    return sample_vectors(1, DIM, seed=8)[0]


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
            "dev-db-roundtrip",
            f"from the dev container, psycopg reaches the db over the private network: "
            f"{'pgvector insert + similarity query' if vector else 'a query'}",
            "dev-start",
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


def judge_roundtrip(answer: dict[str, Any], network: str, *, vector: bool) -> str:
    rows, query = roundtrip_rows(), roundtrip_query()
    ids = [int(i) for i in answer.get("ids", [])]
    if not vector:
        expected = list(range(ROUNDTRIP_ROWS - 1, ROUNDTRIP_ROWS - 1 - ROUNDTRIP_K, -1))
        if ids != expected:
            raise CheckFailed(f"query from the dev container returned ids {ids}, not {expected}")
        return (
            f"{DB_ALIAS}:5432 over network {network}: {ROUNDTRIP_ROWS} rows inserted and "
            f"read back (server {answer.get('server')})"
        )
    problem = order_problem(ids, rows, query, cosine_distance, ROUNDTRIP_K)
    if problem:
        raise CheckFailed(f"similarity query from the dev container: {problem}")
    embeddings: Sequence[Sequence[float]] = answer.get("embeddings", [])
    for i, values in zip(ids, embeddings, strict=True):
        if tuple(float(x) for x in values) != rows[i]:
            raise CheckFailed(f"row {i} read back as {list(values)}, inserted {list(rows[i])}")
    return (
        f"{DB_ALIAS}:5432 over network {network}: {ROUNDTRIP_ROWS} rows inserted, "
        f"top {ROUNDTRIP_K} by cosine {ids} as in Python (server {answer.get('server')})"
    )
