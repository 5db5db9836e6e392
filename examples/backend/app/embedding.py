"""A deterministic, dependency-free text embedding: a hashed bag of words.

Each lower-cased word is hashed (BLAKE2b, so the same word gives the same slot on every
machine and Python run) into one of DIM slots with a sign, counted, and the vector is scaled
to unit length. Texts sharing words get a small cosine distance; no model download, so tests
are fast and exact. A real service would swap this for a model behind the same function.
"""

from __future__ import annotations

import hashlib
import math
import re

DIM = 256
_WORD = re.compile(r"[a-z0-9]+")


class EmptyText(ValueError):
    """The text has no words, so it has no direction to compare."""


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def embed(text: str, dim: int = DIM) -> list[float]:
    counts = [0.0] * dim
    for word in words(text):
        n = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        counts[n % dim] += -1.0 if n >> 63 else 1.0
    norm = math.sqrt(sum(c * c for c in counts))
    if norm == 0.0:
        raise EmptyText(f"no words to embed in {text[:40]!r}")
    return [c / norm for c in counts]


def cosine_distance(a: list[float], b: list[float]) -> float:
    """1 - cos(a, b), as pgvector's <=> computes it (for unit vectors: 1 - a.b)."""
    dot = sum(x * y for x, y in zip(a, b))
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return 1.0 - dot / norms
