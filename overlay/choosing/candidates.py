"""Gathering ranked candidates from the stores: dense, sparse, or both fused.

- ``dense``  — nearest chunks in the vector store (score: cosine similarity);
- ``sparse`` — BM25 over the semantic weight table (score: BM25);
- ``hybrid`` — reciprocal rank fusion of both (score: the fused RRF score),
  weighted by ``settings.retrieve.dense_weight`` / ``sparse_weight``, constant ``rrf_k``;
- ``chosen`` — hybrid candidates re-ranked by the model: ``overlay.turn.retrieve``.

Degraded mode: ``sparse`` needs Redis only (chunk texts are kept there too); ``hybrid``
with Chroma down answers from sparse and marks each hit ``metadata["degraded"] = True``.

Every hit carries its provenance in ``metadata`` (the dense and sparse ranks
and scores it was fused from).
"""

from __future__ import annotations

import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from memory.errors import InvalidInput, StoreUnavailable
from memory.stores.sparse import SparseIndex
from memory.stores.vectors import VectorStore
from memory.tables.chunks import ChunkTexts
from memory.tables.manifest import SourceManifest
from memory.types import CollectionSize, Hit
from overlay.choosing.questions import question_core
from overlay.choosing.rrf import rrf

if TYPE_CHECKING:
    from overlay.services import Services

METHODS = ("dense", "sparse", "hybrid")
log = logging.getLogger("overlay.retrieve")
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="retrieve")


def sparse_index(services: Services, collection: str) -> SparseIndex:
    s = services.settings
    return SparseIndex(services.weights, collection, s.retrieve.bm25_k1, s.retrieve.bm25_b)


def collection_size(services: Services, collection: str) -> CollectionSize:
    """How many sources ``collection`` holds (its manifest) and how many chunks (its sparse
    index): a round trip each."""
    sources = SourceManifest(services.redis.client, services.namespace, collection).count()
    return CollectionSize(sources, sparse_index(services, collection).stats().chunks)


def retrieve(
    services: Services,
    query: str,
    collection: str = "default",
    k: int = 10,
    method: str = "hybrid",
) -> list[Hit]:
    """The ``k`` best candidates for ``query`` from ``collection``, best first."""
    if not query or not query.strip():
        raise InvalidInput("the query is empty")
    if not 1 <= k <= 1000:
        raise InvalidInput(f"k must be between 1 and 1000, not {k}")
    if method not in METHODS:
        names = ", ".join((*METHODS, "chosen"))
        raise InvalidInput(f"unknown method {method!r}: use one of {names}")
    manifest = SourceManifest(services.redis.client, services.namespace, collection)
    hidden = manifest.hidden()
    depth = min(k + len(hidden), 1000)  # room for the hits that are filtered out below
    texts = ChunkTexts(services.redis.client, manifest.prefix)
    if method == "dense":
        hits = services.vectors(collection).search(query, depth)
    elif method == "sparse":
        hits = _sparse(services, texts, query, collection, depth)
    else:
        try:
            hits = _hybrid(services, services.vectors(collection), query, collection, depth)
        except StoreUnavailable as exc:  # Chroma down: degrade to Redis-only candidates
            log.warning("dense retrieval unavailable (%s); answering from sparse", exc.detail)
            hits = _sparse(services, texts, query, collection, depth)
            for h in hits:
                h.metadata["degraded"] = True
    # an ingest that has not committed (running, or killed) never shows its chunks
    return [h for h in hits if h.id not in hidden][:k] if hidden else hits


def _sparse(
    services: Services, texts: ChunkTexts, query: str, collection: str, k: int
) -> list[Hit]:
    """BM25 over Redis, texts from Redis: works with Chroma down (older chunks, stored
    before texts were kept in Redis, come from Chroma while it answers)."""
    ranked = sparse_index(services, collection).search(query, k)
    hits = texts.get([cid for cid, _ in ranked])
    missing = [cid for cid, _ in ranked if cid not in hits]
    if missing:
        with contextlib.suppress(StoreUnavailable):
            hits.update(_fetch(services.vectors(collection), missing))
    return [_with(hits[cid], score) for cid, score in ranked if cid in hits]


def _hybrid(
    services: Services, vectors: VectorStore, query: str, collection: str, k: int
) -> list[Hit]:
    """Dense and sparse fused by RRF. A question with a leading scope ("In the Mozilla Public
    License, what is Executable Form?") is also searched without it ("what is Executable
    Form?") and both pairs of lists are fused: the scope's words alone favour whatever repeats
    the document's name, the rest alone finds the passage in any document; a chunk in both wins.
    The hits' dense and sparse ranks and scores are the whole question's."""
    s = services.settings
    depth = max(s.retrieve.hybrid_depth_factor * k, s.retrieve.hybrid_min_depth)
    core = question_core(query)
    queries = [query] if core == query or not core.strip() else [query, core]
    lists: list[list[str]] = []
    found: list[tuple[list[Hit], list[tuple[str, float]]]] = []
    for q in queries:
        sparse_job = _POOL.submit(sparse_index(services, collection).search, q, depth)
        dense = vectors.search(q, depth)
        sparse = sparse_job.result()
        found.append((dense, sparse))
        lists += [[h.id for h in dense], [cid for cid, _ in sparse]]
    weights = [s.retrieve.dense_weight, s.retrieve.sparse_weight] * len(queries)
    # a tie (one chunk first by one method, another by the other, say) goes to BM25's better
    # rank, then the embedding's, then the id: on development questions hybrid's first chunk
    # held the answer more often than with the id alone on all three domains (SQuAD 0.700 →
    # 0.717, TAT-QA 0.717 → 0.733, PolicyQA 0.443 → 0.475; the embedding's rank first: 0.717,
    # 0.750, 0.437)
    sparse_lists, dense_lists = range(1, len(lists), 2), range(0, len(lists), 2)
    fused = rrf(lists, weights, s.retrieve.rrf_k, ties=(sparse_lists, dense_lists))[:k]
    dense, sparse = found[0]
    by_id = {h.id: h for d, _ in reversed(found) for h in d}
    missing = [cid for cid, _ in fused if cid not in by_id]
    by_id.update(_fetch(vectors, missing))
    dense_rank = {h.id: (i + 1, h.score) for i, h in enumerate(dense)}
    sparse_rank = {cid: (i + 1, sc) for i, (cid, sc) in enumerate(sparse)}
    out = []
    for cid, score in fused:
        if cid not in by_id:
            continue  # indexed in Redis but gone from Chroma: never show a textless hit
        hit = _with(by_id[cid], score)
        for name, ranks in (("dense", dense_rank), ("sparse", sparse_rank)):
            if cid in ranks:
                hit.metadata[f"{name}_rank"], hit.metadata[f"{name}_score"] = ranks[cid]
        out.append(hit)
    return out


def _fetch(vectors: VectorStore, ids: list[str]) -> dict[str, Hit]:
    return {h.id: h for h in vectors.get(ids=ids)} if ids else {}


def _with(hit: Hit, score: float) -> Hit:
    return Hit(hit.id, hit.text, float(score), hit.source, hit.kind, dict(hit.metadata))
