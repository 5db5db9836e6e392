"""The HTTP API against a real PostgreSQL with pgvector (see conftest.py)."""

from __future__ import annotations

import math

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.db import HNSW_INDEX
from app.embedding import cosine_distance, embed

DOCS = [
    ("pgvector", "pgvector adds a vector type and nearest neighbour search to PostgreSQL"),
    ("HNSW", "an HNSW index makes approximate nearest neighbour search on vectors fast"),
    ("Bread", "mix flour, water, salt and yeast; bake the bread for forty minutes"),
    ("Coffee", "grind the beans, pour hot water, wait four minutes and press"),
    ("FastAPI", "FastAPI builds HTTP APIs in Python from type hints"),
]


def ingest(client: TestClient) -> dict[str, int]:
    ids = {}
    for title, body in DOCS:
        response = client.post("/documents", json={"title": title, "body": body})
        assert response.status_code == 201, response.text
        ids[title] = response.json()["id"]
    return ids


def test_health_names_postgres_and_pgvector(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["postgres"] and body["pgvector"]


def test_ingest_then_fetch_keeps_the_document_and_its_vector(
    client: TestClient, engine: Engine
) -> None:
    ids = ingest(client)
    got = client.get(f"/documents/{ids['Bread']}").json()
    assert (got["title"], got["body"]) == DOCS[2]
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT embedding::text FROM documents WHERE id = :id"), {"id": ids["Bread"]}
        ).scalar_one()
    values = [float(x) for x in stored.strip("[]").split(",")]
    expected = embed(f"{DOCS[2][0]}\n{DOCS[2][1]}")
    assert len(values) == len(expected)
    assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(values, expected))
    assert client.get("/documents/999999").status_code == 404


def test_search_ranks_by_cosine_distance(client: TestClient) -> None:
    ids = ingest(client)
    result = client.get("/search", params={"q": "nearest neighbour search on vectors", "k": 3})
    assert result.status_code == 200, result.text
    hits = result.json()["hits"]
    assert len(hits) == 3
    assert {hits[0]["id"], hits[1]["id"]} == {ids["pgvector"], ids["HNSW"]}
    distances = [h["distance"] for h in hits]
    assert distances == sorted(distances)
    query = embed("nearest neighbour search on vectors")
    best = embed(f"{DOCS[1][0]}\n{DOCS[1][1]}")
    top = next(h for h in hits if h["id"] == ids["HNSW"])
    assert math.isclose(top["distance"], cosine_distance(query, best), abs_tol=1e-5)


def test_bad_input_is_a_client_error(client: TestClient) -> None:
    assert client.get("/search", params={"q": "?!"}).status_code == 422
    assert client.get("/search", params={"q": "x", "k": 0}).status_code == 422
    assert client.post("/documents", json={"title": "?", "body": "..."}).status_code == 422
    assert client.post("/documents", json={"title": "", "body": "b"}).status_code == 422


def test_the_hnsw_index_serves_cosine_search(client: TestClient, engine: Engine) -> None:
    ingest(client)
    with engine.begin() as conn:
        indexdef = conn.execute(
            text(
                "SELECT indexdef FROM pg_indexes"
                " WHERE indexname = :name AND schemaname = current_schema()"
            ),
            {"name": HNSW_INDEX},
        ).scalar_one()
        assert "USING hnsw" in indexdef and "vector_cosine_ops" in indexdef
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = conn.execute(
            text(
                "EXPLAIN SELECT id FROM documents ORDER BY embedding <=> CAST(:q AS vector) LIMIT 3"
            ),
            {"q": str(embed("vector search"))},
        ).scalars()
        assert any(f"Index Scan using {HNSW_INDEX}" in line for line in plan)
