"""The cached embedder returns the inner embedder's vectors and computes each text once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from memory.embeddings import CachedEmbedder, HashEmbedder


class Counting(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.seen += list(texts)
        return super().embed(texts)


def test_cached_vectors_equal_the_inner_ones_and_are_computed_once() -> None:
    inner = Counting()
    cached = CachedEmbedder(inner, size=3)
    texts = ["a b", "c d", "a b"]
    np.testing.assert_array_equal(cached.embed(texts), HashEmbedder().embed(texts))
    assert inner.seen == ["a b", "c d"]  # duplicates in one call computed once
    cached.embed(["c d", "e f"])
    assert inner.seen == ["a b", "c d", "e f"]  # "c d" came from the cache
    cached.embed(["g h", "i j"])  # the LRU keeps 3: "a b" (least recent) is dropped
    cached.embed(["a b"])
    assert inner.seen[-1] == "a b" and len(inner.seen) == 6
    assert cached.embed([]).shape == (0, inner.dim)
    assert (cached.name, cached.dim, cached.count_tokens("x y")) == (inner.name, inner.dim, 2)
