"""Writing a source's chunks to the vector store and the sparse index, crash-safely.

Order of one replace (``O`` = old chunk ids, ``N`` = new ones):

1. ``pending[source] = N``                    (Redis, before anything else)
2. embed + upsert ``N − O`` into Chroma, then index them in the sparse table
3. one MULTI: ``manifest[source] = N``, drop ``pending[source]``, ``garbage += O − N``
4. delete the garbage from Chroma and the sparse table, then from ``garbage``

The new version is stored before the old one is deleted, so a failed run never
loses a document. A run killed anywhere leaves at most ``pending`` ids (not
committed: deleted by the next run) and ``garbage`` ids (committed as obsolete:
deleted by the next run); every step is idempotent. ``reconcile`` does that
clean-up under the collection's writer lock, before any new write.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence

from ingest.split import Chunk
from ingest.types import Budget, IngestServices, Progress, ProgressEvent
from memory.errors import OverlayError, StoreUnavailable
from memory.stores.sparse import SparseIndex
from memory.stores.vectors import VectorStore
from memory.tables.chunks import ChunkTexts
from memory.tables.manifest import SourceManifest, SourceRecord

BATCH = 64
DELETE_BATCH = 1000
log = logging.getLogger("overlay.ingest")


class CollectionWriter:
    """The one writer of a collection's chunks, manifest and sparse postings.

    While it is open, a thread renews its lock every third of ``lock_ttl_ms``, so a long
    ingestion keeps it and a dead one (its process gone) loses it within the TTL. A run
    that fails inside (bad input, its time budget, its client gone) deletes what it wrote.
    """

    lock_ttl_ms = 120_000
    lock_wait_s = 10.0

    def __init__(self, services: IngestServices, collection: str) -> None:
        s = services.settings
        self.services = services
        self.collection = collection
        self.manifest = SourceManifest(services.redis.client, services.namespace, collection)
        self.sparse = SparseIndex(
            services.weights, collection, s.retrieve.bm25_k1, s.retrieve.bm25_b
        )
        self.texts = ChunkTexts(services.redis.client, self.manifest.prefix)
        self._vectors: VectorStore | None = None
        self.removed = 0  # orphan chunks that entering (reconcile) deleted
        self.budget = Budget()
        self._stop = threading.Event()

    @property
    def vectors(self) -> VectorStore:
        if self._vectors is None:
            self._vectors = self.services.vectors(self.collection)
        return self._vectors

    def __enter__(self) -> CollectionWriter:
        self.manifest.acquire(self.lock_wait_s, self.lock_ttl_ms)
        self._stop = threading.Event()
        threading.Thread(target=self._renew, name="overlay-lock-renew", daemon=True).start()
        try:
            self.vectors.existing()  # refuses another embedder's collection early; creates none
            self.removed = self.reconcile()
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc is not None and not isinstance(exc, StoreUnavailable):
            with contextlib.suppress(OverlayError):  # else the next writer cleans up
                self.reconcile()  # nothing half-written: drop this run's uncommitted chunks
        self._close()

    def _close(self) -> None:
        self._stop.set()
        self.manifest.release()

    def _renew(self) -> None:
        stop = self._stop
        while not stop.wait(self.lock_ttl_ms / 3000):
            try:
                if not self.manifest.refresh(self.lock_ttl_ms) and not stop.is_set():
                    log.error("the writer lock of collection %r was lost", self.collection)
                    return
            except StoreUnavailable:
                continue  # try again next period; the TTL leaves room

    def reconcile(self) -> int:
        """Delete what an interrupted run may have left behind; returns chunks removed."""
        removed = 0
        for source, ids in self.manifest.pending().items():
            rec = self.manifest.get(source)
            keep = set(rec.chunk_ids) if rec else set()
            orphans = [i for i in ids if i not in keep]
            self._delete(orphans)
            self.manifest.abandon(source)
            removed += len(orphans)
        garbage = self.manifest.garbage()
        if garbage:
            self._delete(garbage)
            self.manifest.collected(garbage)
        return removed + len(garbage)

    def write(
        self,
        record: SourceRecord,
        chunks: Sequence[Chunk],
        progress: Progress | None = None,
    ) -> int:
        """Replace the source's chunks by ``chunks``; returns how many were written."""
        old = self.manifest.get(record.source)
        old_ids = set(old.chunk_ids) if old else set()
        record.chunk_ids = [c.id for c in chunks]
        self.manifest.begin(record.source, record.chunk_ids)
        _emit(progress, "pending", record.source)
        todo = [c for c in chunks if c.id not in old_ids]
        for i in range(0, len(todo), BATCH):
            self.budget.check()
            batch = todo[i : i + BATCH]
            texts = [c.text for c in batch]
            indexed = [c.indexed() for c in batch]  # contextual header (and title) + text
            ids = [c.id for c in batch]
            vecs = self.vectors.embedder.embed([c.embedded() for c in batch])
            self.vectors.add(ids, texts, [c.metadata() for c in batch], vecs)
            _emit(progress, "vectors", record.source, len(batch))
            self.texts.put([(c.id, c.text, c.metadata()) for c in batch])
            self.sparse.add(list(zip(ids, indexed, strict=True)))
            _emit(progress, "sparse", record.source)
        obsolete = sorted(old_ids - set(record.chunk_ids))
        record.ingested_at = time.time()
        self.manifest.commit(record, obsolete)
        _emit(progress, "committed", record.source)
        self._collect(obsolete)
        _emit(progress, "collected", record.source)
        return len(todo)

    def remove(self, source: str) -> SourceRecord | None:
        """Delete a source everywhere; ``None`` if it is not in the manifest."""
        rec = self.manifest.get(source)
        if rec is None:
            return None
        self.manifest.drop_source(source, rec.chunk_ids)
        self._collect(rec.chunk_ids)
        return rec

    def _collect(self, ids: Sequence[str]) -> None:
        self._delete(ids)
        self.manifest.collected(ids)

    def _delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), DELETE_BATCH):
            part = ids[i : i + DELETE_BATCH]
            self.vectors.delete(ids=part)
            self.sparse.remove(part)
            self.texts.remove(part)


def _emit(progress: Progress | None, stage: str, source: str, chunks: int = 0) -> None:
    if progress is not None:
        progress(ProgressEvent(stage, source=source, chunks=chunks))
