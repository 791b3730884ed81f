"""The ask-turn log: what each answered question saw and cited, kept for feedback.

``turn_id`` → (query, candidate ids, cited ids, collection, time), one Redis hash
per turn with a TTL: feedback on a turn is possible while it lives, and old
turns clean themselves up. One pipelined round trip per write.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from memory.stores.redis import Client, slot_tag, store_errors


@dataclass
class TurnRecord:
    """One logged ask turn."""

    turn_id: str
    query: str
    candidates: list[str]  # ids the model scored, best first
    cited: list[str]  # ids the answer cited
    collection: str = ""
    ts: float = field(default_factory=time.time)


class TurnLog:
    """Ask turns under ``<namespace>:turn:{<namespace>}:<id>``, each expiring after ``ttl`` s."""

    def __init__(self, client: Client, namespace: str, ttl: int = 7 * 86400) -> None:
        self.r: Any = client
        self.ns = namespace
        self.ttl = ttl

    def key(self, turn_id: str) -> str:
        return f"{self.ns}:turn:{slot_tag(self.ns)}:{turn_id}"

    @staticmethod
    def new_id() -> str:
        return "turn_" + uuid.uuid4().hex[:20]

    def record(
        self,
        query: str,
        candidates: Sequence[str],
        cited: Sequence[str],
        collection: str = "",
        turn_id: str | None = None,
    ) -> TurnRecord:
        """Log a turn and return it (with a fresh id unless one is given)."""
        rec = TurnRecord(turn_id or self.new_id(), query, list(candidates), list(cited), collection)
        mapping: dict[Any, Any] = {
            "query": rec.query,
            "candidates": json.dumps(rec.candidates),
            "cited": json.dumps(rec.cited),
            "collection": rec.collection,
            "ts": repr(rec.ts),
        }
        with store_errors():
            pipe = self.r.pipeline(transaction=True)
            pipe.hset(self.key(rec.turn_id), mapping=mapping)
            pipe.expire(self.key(rec.turn_id), self.ttl)
            pipe.execute()
        return rec

    def get(self, turn_id: str) -> TurnRecord | None:
        """The turn, or None when unknown or expired."""
        with store_errors():
            row: dict[str, str] = self.r.hgetall(self.key(turn_id))  # type: ignore[assignment]
        if not row:
            return None
        return TurnRecord(
            turn_id,
            row["query"],
            json.loads(row["candidates"]),
            json.loads(row["cited"]),
            row.get("collection", ""),
            float(row["ts"]),
        )
