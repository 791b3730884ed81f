"""Chunk texts in Redis beside the sparse postings, so sparse retrieval needs no Chroma.

Per collection, next to its manifest (``<manifest prefix>:chunks``): a hash, chunk id →
JSON ``{text, meta}``. The writer stores a batch's texts with its postings and deletes
them with its garbage; a chunk missing here (ingested before this table existed) is
fetched from Chroma instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from memory.stores.redis import store_errors
from memory.types import Hit


class ChunkTexts:
    """Text and metadata of a collection's chunks, by id."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.r = client
        self.key = f"{prefix}:chunks"

    def put(self, rows: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """Store ``(id, text, metadata)`` rows (twice is the same as once)."""
        if rows:
            mapping = {i: json.dumps({"text": t, "meta": m}) for i, t, m in rows}
            with store_errors():
                self.r.hset(self.key, mapping=mapping)

    def get(self, ids: Sequence[str]) -> dict[str, Hit]:
        """The stored chunks among ``ids`` as hits (score 1.0)."""
        if not ids:
            return {}
        with store_errors():
            raw = self.r.hmget(self.key, list(ids))
        out = {}
        for cid, row in zip(ids, raw, strict=True):
            if row:
                d = json.loads(row)
                meta = d.get("meta") or {}
                out[cid] = Hit(cid, d.get("text", ""), 1.0, str(meta.get("source", "")),
                               str(meta.get("kind", "chunk")), meta)  # fmt: skip
        return out

    def remove(self, ids: Sequence[str]) -> None:
        if ids:
            with store_errors():
                self.r.hdel(self.key, *ids)
