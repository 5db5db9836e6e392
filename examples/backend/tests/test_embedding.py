"""The embedding needs no database: deterministic, unit length, words decide."""

from __future__ import annotations

import math

import pytest

from app.embedding import DIM, EmptyText, cosine_distance, embed


def test_same_text_same_vector_of_unit_length() -> None:
    a = embed("PostgreSQL stores vectors")
    assert a == embed("PostgreSQL stores vectors")
    assert len(a) == DIM
    assert math.isclose(math.sqrt(sum(x * x for x in a)), 1.0)


def test_known_values_do_not_drift() -> None:
    """Stored vectors must stay comparable across releases, machines and Python runs."""
    hello = embed("hello")
    assert [(i, x) for i, x in enumerate(hello) if x] == [(167, 1.0)]
    both = embed("hello postgres")
    assert [(i, round(x, 6)) for i, x in enumerate(both) if x] == [(25, 0.707107), (167, 0.707107)]
    assert embed("Hello, HELLO!") == embed("hello hello") == hello


def test_a_bag_of_words_ignores_order_case_and_punctuation() -> None:
    assert embed("Vector search, with Postgres!") == embed("postgres WITH search vector")


def test_shared_words_are_closer_than_unrelated_ones() -> None:
    query = embed("fast vector search in postgres")
    related = embed("postgres can search vector columns fast with an index")
    unrelated = embed("a recipe for bread with flour water and salt")
    assert cosine_distance(query, related) < cosine_distance(query, unrelated)
    assert math.isclose(cosine_distance(query, query), 0.0, abs_tol=1e-12)


def test_no_words_no_vector() -> None:
    with pytest.raises(EmptyText):
        embed("  ... !!! ")
