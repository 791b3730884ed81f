"""Moving keys of the previous (untagged) Redis layout to the hash-tagged one.

Before Redis Cluster support, keys had no hash tags (``ov:acme:mem:s1:log``);
now what one script or transaction touches shares a tag
(``ov:acme:mem:{ov:acme/s1}:log``). Old keys are *migrated*, not read in place:
``find_old_keys`` lists them (``overlay doctor`` fails while any remain) and
``migrate`` moves each with DUMP/RESTORE (TTL kept) then deletes the old one, so
it works across cluster slots and a rerun finishes an interrupted run. A new key
that already exists is never overwritten: the old one is left and counted as a
conflict. Finding old keys is the one place that SCANs (once, by an operator).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from memory.stores.redis import slot_tag, store_errors

_NS = re.compile(r"^(ov:[A-Za-z0-9_-]+):(.+)$")


def new_key(key: str) -> str | None:
    """The tagged form of an old-layout ``key``, or None when it is not one we wrote."""
    m = _NS.match(key)
    if not m or "{" in key:
        return None
    ns, rest = m.groups()
    kind, _, tail = rest.partition(":")
    if kind == "w" and tail.startswith("bm25:"):
        coll, _, part = tail[5:].partition(":")
        return f"{ns}:w:bm25:{slot_tag(ns, coll)}:{part}" if part else None
    if kind == "ingest":
        coll, _, part = tail.partition(":")
        return f"{ns}:ingest:{slot_tag(ns, coll)}:{part}" if part else None
    if kind == "mem":
        if tail == "sessions":
            return f"{ns}:mem:{slot_tag(ns)}:sessions"
        session, _, part = tail.rpartition(":")
        return f"{ns}:mem:{slot_tag(ns, session)}:{part}" if session else None
    if kind in ("w", "memuser", "tf", "turn") and tail:
        return f"{ns}:{kind}:{slot_tag(ns)}:{tail}"
    return None


def find_old_keys(client: Any, limit: int | None = None) -> Iterator[str]:
    """Keys under ``ov:*`` without a hash tag (every node of a cluster is scanned)."""
    seen = 0
    with store_errors():
        for key in client.scan_iter(match="ov:*", count=1000):
            if "{" not in key:
                yield key
                seen += 1
                if limit is not None and seen >= limit:
                    return


@dataclass
class MigrationReport:
    moved: int = 0
    conflicts: list[str] = field(default_factory=list)  # new key existed: old one kept
    unknown: list[str] = field(default_factory=list)  # untagged, but not a layout we wrote

    def to_dict(self) -> dict[str, Any]:
        return {"moved": self.moved, "conflicts": self.conflicts, "unknown": self.unknown}


def migrate(client: Any, progress: Callable[[int], None] | None = None) -> MigrationReport:
    """Move every old-layout key to its tagged name (idempotent; see the module doc)."""
    report = MigrationReport()
    for old in list(find_old_keys(client)):
        new = new_key(old)
        if new is None:
            report.unknown.append(old)
            continue
        with store_errors():
            dumped = client.dump(old)
            if dumped is None:  # gone meanwhile
                continue
            if client.exists(new):
                report.conflicts.append(old)
                continue
            ttl = max(int(client.pttl(old)), 0)
            client.restore(new, ttl, dumped)
            client.delete(old)
        report.moved += 1
        if progress is not None:
            progress(report.moved)
    return report
