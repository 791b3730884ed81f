"""A session's turn vectors: in Redis while the session is small, in Chroma past a size.

Chosen by bench/sessions_scale_bench.py: a Chroma collection per session costs
a collection to create and to open cold on each lookup, and one collection per
tenant with a ``where`` filter slows as the tenant grows; a small session's
vectors in one Redis hash are written in one round trip and searched exactly in
numpy. Past ``spill_at`` vectors a session moves to its own Chroma collection
(HNSW), where a long conversation belongs.

Layout: ``ns:mem:{ns/session}:vec``, vector id → ``<base64 float32>\\n<JSON text+meta>``,
plus the field ``!chroma`` once the session has moved (in the session's hash
slot, beside its log). Moving is race-free: the add script refuses to write
once the marker is set (the writer goes to Chroma), the spill script sets the
marker and takes the fields in one step, and a lookup merges Chroma with any
fields not yet moved. Sessions written before this layout (vectors in Chroma,
no hash, ``embedded`` > 0) are read from Chroma.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from memory.embeddings import Embedder
from memory.stores.chroma import chroma_errors
from memory.stores.redis import store_errors
from memory.stores.vectors import VectorStore
from memory.types import Hit

MOVED = "!chroma"

# KEYS: vec hash, meta hash.  ARGV: field, value, field, value…  → hash length, or -1: moved
_ADD = """
if redis.call('HEXISTS', KEYS[1], '!chroma') == 1 then return -1 end
local before = tonumber(redis.call('HGET', KEYS[2], 'embedded') or '0')
if redis.call('EXISTS', KEYS[1]) == 0 and before > 0 then  -- written before this layout
  redis.call('HSET', KEYS[1], '!chroma', '1')
  return -1
end
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return redis.call('HLEN', KEYS[1])
"""

# KEYS: vec hash → its fields (flat), or nothing when another writer moved it already
_SPILL = """
if redis.call('HSETNX', KEYS[1], '!chroma', '1') == 0 then return {} end
return redis.call('HGETALL', KEYS[1])
"""


def _pack(vec: np.ndarray, text: str, meta: dict[str, Any]) -> str:
    raw = base64.b64encode(np.asarray(vec, dtype=np.float32).tobytes()).decode()
    return raw + "\n" + json.dumps({"text": text, "meta": meta}, ensure_ascii=False)


def _unpack(rows: dict[str, str]) -> tuple[list[str], list[str], np.ndarray]:
    """Ids, their JSON bodies and their vectors ``(N, dim)``, the marker left out."""
    ids = [k for k in rows if k != MOVED]
    if not ids:
        return [], [], np.zeros((0, 0), dtype=np.float32)
    parts = [rows[k].partition("\n") for k in ids]
    raw = b"".join(base64.b64decode(p[0]) for p in parts)
    return ids, [p[2] for p in parts], np.frombuffer(raw, dtype=np.float32).reshape(len(ids), -1)


def _hit(id_: str, body: str, score: float) -> Hit:
    d = json.loads(body)
    meta = d["meta"]
    return Hit(id_, d["text"], score, str(meta.get("source", "")), str(meta.get("kind", "turn")),
               meta)  # fmt: skip


def _exact(rows: dict[str, str], vec: np.ndarray, n: int | None) -> list[Hit]:
    """The ``n`` (or all) stored rows nearest to ``vec`` by cosine, best first."""
    ids, bodies, mat = _unpack(rows)
    if not ids:
        return []
    sims = mat @ np.asarray(vec, dtype=np.float32)  # (N,)
    order = np.argsort(-sims, kind="stable")[: n if n is not None else len(ids)]
    return [_hit(ids[i], bodies[i], float(sims[i])) for i in order]


class SessionVectors:
    """One session's vectors (``key`` = its hash); ``chroma`` opens its collection."""

    def __init__(
        self,
        client: Any,
        key: str,
        meta_key: str,
        chroma: Callable[[], VectorStore],
        embedder: Embedder,
        spill_at: int,
    ) -> None:
        self.r, self.key, self.meta_key = client, key, meta_key
        self._chroma, self.embedder, self.spill_at = chroma, embedder, spill_at
        self._add = client.register_script(_ADD)
        self._spill = client.register_script(_SPILL)

    def add(
        self, ids: Sequence[str], texts: Sequence[str], metas: Sequence[dict[str, Any]]
    ) -> None:
        """Store turns' vectors (embedding the texts); moves the session to Chroma past the size."""
        vecs = self.embedder.embed(list(texts))  # (N, dim)
        args: list[str] = []
        for i, t, m, v in zip(ids, texts, metas, vecs, strict=True):
            args += [i, _pack(v, t, m)]
        with store_errors():
            size = int(self._add(keys=[self.key, self.meta_key], args=args))
        if size < 0:
            self._chroma().add(ids, texts, metas, embeddings=vecs)
        elif size > self.spill_at:
            self.spill()

    def spill(self) -> None:
        """Move the session's vectors to its Chroma collection (idempotent)."""
        with store_errors():
            flat = self._spill(keys=[self.key])
        ids, bodies, mat = _unpack({flat[i]: flat[i + 1] for i in range(0, len(flat), 2)})
        if not ids:
            return
        hits = [_hit(i, b, 0.0) for i, b in zip(ids, bodies, strict=True)]
        self._chroma().add(ids, [h.text for h in hits], [h.metadata for h in hits], embeddings=mat)
        with store_errors():
            self.r.hdel(self.key, *ids)

    def _rows(self, embedded: int) -> tuple[dict[str, str], bool]:
        """The hash's rows, and whether (part of) the session lives in Chroma."""
        with store_errors():
            rows: dict[str, str] = self.r.hgetall(self.key)
        return rows, MOVED in rows or (not rows and embedded > 0)

    def search(self, vec: np.ndarray, n: int, embedded: int) -> list[Hit]:
        """The ``n`` nearest turns (exact in Redis, HNSW in Chroma once moved)."""
        rows, moved = self._rows(embedded)
        hits = _exact(rows, vec, n)
        if moved:
            seen = {h.id for h in hits}
            hits += [h for h in self._chroma().search(vec, n) if h.id not in seen]
            hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:n]

    def score(self, ids: Sequence[str], vec: np.ndarray, embedded: int) -> list[Hit]:
        """The stored ``ids`` (unknown ones skipped), scored by cosine similarity."""
        if not ids:
            return []
        with store_errors():
            got = self.r.hmget(self.key, list(ids))
        rows = {i: v for i, v in zip(ids, got, strict=True) if v}
        hits = _exact(rows, vec, None)
        rest = [i for i in ids if i not in rows]
        if rest and embedded > 0:
            with store_errors():
                moved = bool(self.r.hexists(self.key, MOVED)) or not self.r.exists(self.key)
            if moved:
                hits += self._chroma().score(rest, vec)
        return hits

    def all(self, embedded: int) -> dict[str, np.ndarray]:
        """Every stored vector by id (Redis, and Chroma once moved)."""
        rows, moved = self._rows(embedded)
        ids, _, mat = _unpack(rows)
        out = dict(zip(ids, mat, strict=True))
        col = self._chroma().existing() if moved else None
        if col is not None:
            with chroma_errors("get"):
                got = col.get(include=["embeddings"])
            for i, v in zip(got["ids"], got["embeddings"], strict=True):
                out.setdefault(i, np.asarray(v, dtype=np.float32))
        return out

    def delete(self, ids: Sequence[str]) -> None:
        """Remove ``ids`` wherever they are (unknown ones ignored)."""
        if not ids:
            return
        with store_errors():
            self.r.hdel(self.key, *ids)
        self._chroma().delete(list(ids))

    def count(self, embedded: int = 0) -> int:
        """How many turns the session holds vectors of (in Redis and, once moved, in Chroma);
        a turn has two (``t<id>`` alone, ``c<id>`` in context), counted once."""
        rows, moved = self._rows(embedded)
        col = self._chroma()
        more = [i for i in col.ids() if i.startswith("t")] if moved and col.exists() else []
        return sum(k.startswith("t") for k in rows) + len(more)

    def drop(self) -> None:
        with store_errors():
            self.r.delete(self.key)
        self._chroma().drop()
