"""The query-embedding cache is not shared across tenants (issue 21: 9): bob embedding
alice's exact query must compute it, not answer from alice's entry in microseconds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from memory.embeddings import HashEmbedder
from overlay.services import Services


class Counting(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.computed: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.computed += list(texts)
        return super().embed(texts)


def test_one_tenants_cached_text_is_not_a_hit_for_another(base_services: Services) -> None:
    inner = Counting()
    svc = Services(base_services.settings, base_services.redis, base_services.chroma, inner)
    alice, bob = svc.for_tenant("alice"), svc.for_tenant("bob")
    secret = "merger with Initech closes on the 14th"
    a1 = alice.embedder.embed([secret])
    alice.embedder.embed([secret])
    assert inner.computed == [secret]  # within a tenant, the cache works
    b1 = bob.embedder.embed([secret])
    assert inner.computed == [secret, secret]  # bob's lookup computed it: no shared entry
    assert np.allclose(a1, b1)
