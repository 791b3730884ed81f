"""The ingestion manifest in Redis: what each source put into a collection.

Per tenant namespace and collection (``P = <ns>:ingest:{<ns>/<collection>}``, one
Redis Cluster hash slot per collection, so the commit's MULTI is single-slot):

- ``P:manifest`` — hash, source → JSON record (content hash, chunk ids, time);
- ``P:pending``  — hash, source → JSON list of chunk ids being written right now;
- ``P:garbage``  — set of chunk ids that a committed change made obsolete;
- ``P:lock``     — one ingesting writer per collection (owner ``host:pid:token``).

The pipeline writes ``pending`` before it touches the vector store, commits a
source by swapping manifest/pending/garbage in one MULTI, and deletes the
garbage afterwards. Whatever moment a run dies at, the next one finds in
``pending`` and ``garbage`` exactly the chunks that may be orphans.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from memory.errors import Busy
from memory.stores.localserver import pid_alive
from memory.stores.redis import Client, slot_tag, store_errors

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


@dataclass
class SourceRecord:
    """One committed source: its content hash and the chunks it owns."""

    source: str
    content_hash: str
    chunk_ids: list[str]
    ingested_at: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def chunks(self) -> int:
        return len(self.chunk_ids)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> SourceRecord:
        return cls(**json.loads(raw))


class SourceManifest:
    """Manifest, pending writes, garbage and the writer lock of one collection."""

    def __init__(self, client: Client, namespace: str, collection: str) -> None:
        self.r: Any = client  # decode_responses=True: str replies
        self.prefix = f"{namespace}:ingest:{slot_tag(namespace, collection)}"
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)
        self._owner = ""

    def _k(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    @staticmethod
    def key_pattern(name: str) -> str:
        """A ``SCAN`` pattern matching key ``name`` of every namespace and collection."""
        return f"*:ingest:*:{name}"

    @staticmethod
    def parse_key(key: str, name: str) -> tuple[str, str] | None:
        """``(namespace, collection)`` of a key matched by ``key_pattern(name)``."""
        head, sep, _ = key.rpartition(f":{name}")
        namespace, mid, tagged = head.rpartition(":ingest:")
        prefix = "{" + namespace + "/"  # the hash tag: {namespace/collection}
        if not (sep and mid and tagged.startswith(prefix) and tagged.endswith("}")):
            return None
        collection = tagged[len(prefix) : -1]
        return (namespace, collection) if namespace and collection else None

    # --- reads ----------------------------------------------------------------
    def get(self, source: str) -> SourceRecord | None:
        with store_errors():
            raw = self.r.hget(self._k("manifest"), source)
        return SourceRecord.from_json(raw) if raw else None

    def count(self) -> int:
        """How many sources the manifest holds."""
        with store_errors():
            return int(self.r.hlen(self._k("manifest")))

    def all(self) -> dict[str, SourceRecord]:
        with store_errors():
            rows = self.r.hgetall(self._k("manifest"))
        return {s: SourceRecord.from_json(raw) for s, raw in rows.items()}

    def pending(self) -> dict[str, list[str]]:
        with store_errors():
            rows = self.r.hgetall(self._k("pending"))
        return {s: json.loads(raw) for s, raw in rows.items()}

    def garbage(self) -> list[str]:
        with store_errors():
            return sorted(self.r.smembers(self._k("garbage")))

    def hidden(self) -> set[str]:
        """Chunk ids that retrieval must not return: written by an ingest that has not
        committed (alive or killed), or committed as obsolete but not yet deleted.

        One round trip when nothing is pending (the usual case), two otherwise.
        """
        with store_errors():
            pipe = self.r.pipeline(transaction=False)
            pipe.hgetall(self._k("pending"))
            pipe.smembers(self._k("garbage"))
            pending, garbage = pipe.execute()
            hidden = set(garbage)
            if pending:
                sources = list(pending)
                current = self.r.hmget(self._k("manifest"), sources)
                for source, raw in zip(sources, current, strict=True):
                    keep = set(SourceRecord.from_json(raw).chunk_ids) if raw else set()
                    hidden.update(i for i in json.loads(pending[source]) if i not in keep)
        return hidden

    # --- writes -----------------------------------------------------------------
    def begin(self, source: str, chunk_ids: list[str]) -> None:
        """Record that ``chunk_ids`` are about to be written for ``source``."""
        with store_errors():
            self.r.hset(self._k("pending"), source, json.dumps(chunk_ids))

    def commit(self, record: SourceRecord, obsolete: Iterable[str]) -> None:
        """Make ``record`` current and mark ``obsolete`` chunk ids as garbage, atomically."""
        obsolete = list(obsolete)
        with store_errors():
            pipe = self.r.pipeline(transaction=True)
            pipe.hset(self._k("manifest"), record.source, record.to_json())
            pipe.hdel(self._k("pending"), record.source)
            if obsolete:
                pipe.sadd(self._k("garbage"), *obsolete)
            pipe.execute()

    def drop_source(self, source: str, chunk_ids: Iterable[str]) -> None:
        """Forget ``source`` and mark its chunks as garbage, atomically."""
        ids = list(chunk_ids)
        with store_errors():
            pipe = self.r.pipeline(transaction=True)
            pipe.hdel(self._k("manifest"), source)
            if ids:
                pipe.sadd(self._k("garbage"), *ids)
            pipe.execute()

    def abandon(self, source: str) -> None:
        with store_errors():
            self.r.hdel(self._k("pending"), source)

    def collected(self, ids: Iterable[str]) -> None:
        """The garbage ``ids`` are gone from every store."""
        ids = list(ids)
        if ids:
            with store_errors():
                self.r.srem(self._k("garbage"), *ids)

    # --- the writer lock ----------------------------------------------------------
    def acquire(self, wait: float = 10.0, ttl_ms: int = 120_000) -> None:
        """Become the collection's only writer, or raise ``Busy`` after ``wait`` seconds.

        A lock left by a dead process on this host is taken over at once.
        """
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + wait
        with store_errors():
            while True:
                if self.r.set(self._k("lock"), owner, nx=True, px=ttl_ms):
                    self._owner = owner
                    return
                held = self.r.get(self._k("lock")) or ""
                if _owner_dead(held):
                    self.r.delete(self._k("lock"))
                    continue
                if time.monotonic() >= deadline:
                    raise Busy(
                        "another ingestion is writing to this collection; retry shortly",
                        5.0,
                        f"lock held by {held}",
                    )
                time.sleep(0.05)

    def refresh(self, ttl_ms: int = 120_000) -> bool:
        """Extend the lock if this writer still holds it; ``False`` if it was lost."""
        if not self._owner:
            return False
        with store_errors():
            return bool(self._renew(keys=[self._k("lock")], args=[self._owner, ttl_ms]))

    def release(self) -> None:
        if self._owner:
            with store_errors():
                self._release(keys=[self._k("lock")], args=[self._owner])
            self._owner = ""


def _owner_dead(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    return host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid))
