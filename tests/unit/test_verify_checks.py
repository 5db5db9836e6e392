"""What verify expects, computed without a server: vectors, distances, order, versions,
EXPLAIN plans, and the catalogue of checks for a plan."""

from __future__ import annotations

import math
import random

import pytest

from devenv.plan.model import load_plan
from devenv.verify import db as verify_db
from devenv.verify import dev as verify_dev
from devenv.verify.db import (
    Snapshot,
    compare_snapshots,
    cosine_distance,
    float32,
    index_scans,
    l2_distance,
    nearest,
    negative_inner_product,
    order_problem,
    plan_summary,
    sample_vectors,
    upstream_version,
)
from devenv.verify.report import CheckFailed
from tests.conftest import MakeProject


@pytest.mark.parametrize(
    ("deb", "upstream"),
    [
        ("0.8.0-1", "0.8.0"),
        ("1:0.8.0-1+b1", "0.8.0"),
        ("0.6.0-1.pgdg24.04+1", "0.6.0"),
        ("0.8.0+dfsg-2", "0.8.0"),
        ("0.7.4", "0.7.4"),
        ("0.5.1~rc1-1", "0.5.1"),
    ],
)
def test_upstream_version(deb: str, upstream: str) -> None:
    assert upstream_version(deb) == upstream


def test_sample_vectors_are_float32_and_reproducible() -> None:
    rows = sample_vectors(20, 8, seed=3)
    assert rows == sample_vectors(20, 8, seed=3) != sample_vectors(20, 8, seed=4)
    assert all(len(v) == 8 and all(float32(x) == x for x in v) for v in rows)


def test_distances_match_their_definitions() -> None:
    a, b = (1.0, 0.0, 0.0), (0.0, 2.0, 0.0)
    assert l2_distance(a, b) == pytest.approx(math.sqrt(5))
    assert cosine_distance(a, b) == pytest.approx(1.0)
    assert cosine_distance(a, (3.0, 0.0, 0.0)) == pytest.approx(0.0)
    assert negative_inner_product((1.0, 2.0), (3.0, 4.0)) == -11.0


def test_order_problem_accepts_the_right_order_and_ties_only() -> None:
    rows = sample_vectors(50, 4, seed=1)
    query = sample_vectors(1, 4, seed=2)[0]
    right = nearest(rows, query, l2_distance, 5)
    assert order_problem(right, rows, query, l2_distance, 5) is None
    wrong = [right[1], right[0], *right[2:]]
    assert "Python says" in (order_problem(wrong, rows, query, l2_distance, 5) or "")
    assert order_problem(right[:4], rows, query, l2_distance, 5) is not None
    tied = ((1.0, 0.0), (0.0, 1.0), (5.0, 5.0))  # 0 and 1 are equally near to the query
    assert order_problem([1, 0], tied, (0.0, 0.0), l2_distance, 2) is None


def test_order_problem_with_random_permutations_never_passes_a_wrong_set() -> None:
    rows = sample_vectors(100, 8, seed=5)
    query = sample_vectors(1, 8, seed=6)[0]
    rng = random.Random(0)
    for _ in range(50):
        got = rng.sample(range(100), 5)
        if got != nearest(rows, query, cosine_distance, 5):
            assert order_problem(got, rows, query, cosine_distance, 5) is not None


EXPLAIN = [
    {
        "Plan": {
            "Node Type": "Limit",
            "Plans": [
                {
                    "Node Type": "Index Scan",
                    "Index Name": "devenv_verify_hnsw",
                    "Relation Name": "devenv_verify_items",
                }
            ],
        }
    }
]


def test_explain_plan_reading() -> None:
    assert index_scans(EXPLAIN) == ["devenv_verify_hnsw"]
    assert plan_summary(EXPLAIN) == "Limit > Index Scan using devenv_verify_hnsw"
    assert index_scans([{"Plan": {"Node Type": "Seq Scan"}}]) == []


def test_restart_comparison() -> None:
    before = Snapshot(
        marker="m",
        extensions=(("plpgsql", "1.0"), ("vector", "0.8.0")),
        vector_rows=200,
        nearest=(1, 2, 3),
    )
    assert "200 vector rows" in compare_snapshots(before, before)
    lost = Snapshot(marker="", extensions=(("plpgsql", "1.0"),), vector_rows=0, nearest=())
    with pytest.raises(CheckFailed) as caught:
        compare_snapshots(before, lost)
    assert "marker row" in str(caught.value) and "vector 0.8.0" in str(caught.value)


def test_catalogue_for_a_pgvector_plan(make_project: MakeProject) -> None:
    root = make_project(
        '[environment]\nbase = "debian:trixie"\n[postgres]\nversion = 17\n'
        '[python]\nsmoke = ["psycopg", "pgvector.psycopg"]\n'
    )
    plan = load_plan(root)
    specs = verify_db.catalogue(plan, "db:1") + verify_dev.catalogue(plan, "dev:1")
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    for required in (
        "db-start",
        "db-server-version",
        "db-extension-vector",
        "db-extension-vector-version",
        "db-vector-table",
        "db-hnsw-index",
        "db-ivfflat-index",
        "db-knn-hnsw",
        "db-knn-ivfflat",
        "db-distances",
        "db-restart",
        "db-no-password",
        "dev-start",
        "dev-python",
        "dev-pip-check",
        "dev-import-psycopg",
        "dev-import-pgvector.psycopg",
        "dev-pg-config",
        "dev-libpq",
        "dev-db-roundtrip",
    ):
        assert required in names
    assert all(need in names for s in specs for need in s.needs)
    version = next(s for s in specs if s.name == "db-extension-vector-version")
    assert "postgresql-17-pgvector" in version.title


def test_catalogue_without_extensions(make_project: MakeProject) -> None:
    root = make_project(
        '[environment]\nbase = "debian:trixie"\n[postgres]\nversion = 17\nextensions = []\n'
    )
    plan = load_plan(root)
    specs = verify_db.catalogue(plan, "db:1") + verify_dev.catalogue(plan, "dev:1")
    names = [s.name for s in specs]
    assert not [n for n in names if n.startswith("db-") and ("vector" in n or "knn" in n)]
    assert all(need in names for s in specs for need in s.needs)


def test_literal_sql_agrees_with_the_constants() -> None:
    assert f"vector({verify_db.DIM})" in verify_db.CREATE_TABLE
    assert f"lists = {verify_db.LISTS}" in verify_db.CREATE_IVFFLAT
    assert verify_db.EXACT["<->"].endswith(f"probes = {verify_db.LISTS}")
    assert int(verify_db.EXACT["<=>"].rsplit("=", 1)[1]) > verify_db.ROWS
    assert "vector_cosine_ops" in verify_db.CREATE_HNSW
