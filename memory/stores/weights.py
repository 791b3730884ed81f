"""The semantic weight table: key → weighted candidates, in Redis sorted sets.

It is where Overlay learns without touching model weights: term postings from
ingestion (``memory.stores.sparse``), taught facts (subject, relation → object) and
feedback (query term → candidate). Every operation is O(log n) per candidate
and many are pipelined into one round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from memory.stores.redis import Client, slot_tag, store_errors

# Lua: bump a member's weight and clamp it into [lo, hi] atomically.
_BUMP = """
local v = redis.call('ZINCRBY', KEYS[1], ARGV[1], ARGV[2])
v = tonumber(v)
local lo, hi = tonumber(ARGV[3]), tonumber(ARGV[4])
if v < lo then v = lo; redis.call('ZADD', KEYS[1], v, ARGV[2]) end
if v > hi then v = hi; redis.call('ZADD', KEYS[1], v, ARGV[2]) end
return tostring(v)
"""


class WeightTable:
    """Weighted candidates under string keys, namespaced (e.g. per tenant).

    ``key`` puts the namespace's hash tag in every key (``<ns>:w:{<ns>}:…``): a
    tenant's taught facts and feedback live in one Redis Cluster slot.
    """

    def __init__(self, client: Client, namespace: str = "ov") -> None:
        self.r: Any = client
        self.ns = namespace
        self._bump = client.register_script(_BUMP)

    def key(self, *parts: str) -> str:
        return ":".join([self.ns, "w", slot_tag(self.ns), *parts])

    def add(self, key: str, weights: Mapping[str, float]) -> None:
        """Set candidates' weights under ``key`` (replacing their old weights)."""
        if weights:
            with store_errors():
                self.r.zadd(key, dict(weights))

    def bump(
        self, key: str, candidate: str, delta: float, lo: float = -1e9, hi: float = 1e9
    ) -> float:
        """Add ``delta`` to a candidate's weight, clamped to [lo, hi]; returns the new weight."""
        with store_errors():
            return float(self._bump(keys=[key], args=[delta, candidate, lo, hi]))

    def get(self, key: str, k: int | None = None) -> list[tuple[str, float]]:
        """Candidates under ``key``, heaviest first."""
        with store_errors():
            rows: Any = self.r.zrevrange(key, 0, (k or 0) - 1, withscores=True)
        return [(str(m), float(s)) for m, s in rows]

    def get_many(
        self, keys: Sequence[str], k: int | None = None
    ) -> dict[str, list[tuple[str, float]]]:
        """``get`` for many keys in one round trip."""
        if not keys:
            return {}
        with store_errors():
            pipe = self.r.pipeline(transaction=False)
            for key in keys:
                pipe.zrevrange(key, 0, (k or 0) - 1, withscores=True)
            rows = pipe.execute()
        return {key: [(m, float(s)) for m, s in row] for key, row in zip(keys, rows, strict=True)}

    def weight(self, key: str, candidate: str) -> float | None:
        with store_errors():
            v = self.r.zscore(key, candidate)
        return None if v is None else float(v)

    def remove(self, key: str, candidates: Iterable[str] | None = None) -> None:
        """Remove some candidates under ``key``, or the whole key."""
        with store_errors():
            if candidates is None:
                self.r.delete(key)
            else:
                members = list(candidates)
                if members:
                    self.r.zrem(key, *members)
