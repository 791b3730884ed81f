"""Helpers for the ingestion tests: what the three stores hold for a collection."""

from __future__ import annotations

from dataclasses import dataclass

from memory.stores.sparse import SparseIndex
from memory.tables.manifest import SourceManifest


@dataclass
class StoreState:
    manifest: dict[str, list[str]]  # source → chunk ids
    chroma: set[str]
    sparse: set[str]
    pending: dict[str, list[str]]
    garbage: list[str]

    @property
    def manifest_ids(self) -> set[str]:
        return {i for ids in self.manifest.values() for i in ids}

    def assert_consistent(self) -> None:
        """Exactly the manifest's chunks in Chroma and Redis: no orphans, no duplicates."""
        all_ids = [i for ids in self.manifest.values() for i in ids]
        assert len(all_ids) == len(set(all_ids)), "a chunk id belongs to two sources"
        assert self.chroma == self.manifest_ids, (
            f"chroma orphans {len(self.chroma - self.manifest_ids)}, "
            f"missing {len(self.manifest_ids - self.chroma)}"
        )
        assert self.sparse == self.manifest_ids
        assert self.pending == {} and self.garbage == []


def store_state(services, collection: str) -> StoreState:
    m = SourceManifest(services.redis.client, services.namespace, collection)
    return StoreState(
        manifest={s: r.chunk_ids for s, r in m.all().items()},
        chroma=set(services.vectors(collection).ids()),
        sparse=set(SparseIndex(services.weights, collection).all_ids()),
        pending=m.pending(),
        garbage=m.garbage(),
    )
