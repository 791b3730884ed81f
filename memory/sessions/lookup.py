"""Lookups of sessions too large for an in-process table (``MemoryConfig.index_max_turns``):
the stores' own top lists, dense (``candidates × k`` nearest vectors) and lexical (the Redis
BM25 index), scored together by ``memory.sessions.recall.turn_hits``."""

from __future__ import annotations

import numpy as np

from memory.sessions.recall import turn_hits
from memory.sessions.turns import MemoryConfig
from memory.sessions.vectors import SessionVectors
from memory.stores.sparse import SparseIndex
from memory.types import Hit


def top_list_hits(
    session: str, vectors: SessionVectors, sparse: SparseIndex, cfg: MemoryConfig,
    vec: np.ndarray, query: str, k: int, last: int, exclude: set[int], embedded: int,
) -> list[Hit]:  # fmt: skip
    """Turn hits from the dense and lexical top lists (turns alone: ``t<id>`` vectors)."""
    n = 2 * (cfg.candidates * k + len(exclude))  # two vectors a turn
    found = [h for h in vectors.search(vec, n, embedded) if h.id.startswith("t")]
    lexical = dict(sparse.search(query, n)) if cfg.lexical_weight else {}
    seen = {h.id for h in found}
    found += vectors.score([i for i in lexical if i not in seen], vec, embedded)
    return turn_hits(session, found, last, exclude, cfg.recency_weight,
                     cfg.recency_halflife, lexical, cfg.lexical_weight)  # fmt: skip
