"""Taught facts: tenant-wide (subject, relation) → object in the semantic weight table.

A fact taught again with a new object puts that object on top; older objects
keep their lower weights. A registry hash maps fact ids to their display form
and an optional vector index makes them searchable by meaning.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from memory.errors import InvalidInput
from memory.stores.redis import slot_tag, store_errors
from memory.stores.vectors import VectorStore
from memory.stores.weights import WeightTable
from memory.types import Hit


@dataclass
class TaughtFact:
    subject: str
    relation: str
    object: str
    weight: float = 1.0
    ts: float = 0.0

    @property
    def text(self) -> str:
        return f"{self.subject} {self.relation} {self.object}"

    @property
    def id(self) -> str:
        return (
            "fact:"
            + hashlib.sha1(f"{_norm(self.subject)}\x1f{_norm(self.relation)}".encode()).hexdigest()[
                :16
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subject": self.subject,
            "relation": self.relation,
            "object": self.object,
            "weight": self.weight,
            "text": self.text,
        }


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.strip().lower())


def _part(s: str) -> str:
    """One part of a ``:``-joined key, escaped: ``("a:b", "c")`` and ``("a", "b:c")`` differ
    (a part without ``%`` or ``:`` is unchanged, so keys written before stay valid)."""
    return _norm(s).replace("%", "%25").replace(":", "%3A")


def validate_triple(subject: str, relation: str, obj: str) -> tuple[str, str, str]:
    parts = [re.sub(r"\s+", " ", (p or "").strip()) for p in (subject, relation, obj)]
    if not all(parts):
        raise InvalidInput("a fact needs a non-empty subject, relation and object")
    if any(len(p) > 500 for p in parts):
        raise InvalidInput("subject, relation and object are limited to 500 characters each")
    return parts[0], parts[1], parts[2]


class TaughtFacts:
    """Tenant-wide taught facts: the weight table holds (subject, relation) → object.

    Teaching a new object for the same (subject, relation) puts it on top; the
    old objects stay with their lower weights (nothing is destroyed). A registry
    hash maps each fact id to its display form so the facts can be listed and
    looked up by meaning (through the optional ``index``, e.g. from ``overlay.services``).
    """

    def __init__(self, weights: WeightTable, index: VectorStore | None = None) -> None:
        self.w = weights
        self.index = index  # semantic index of "subject relation" texts, for lookup
        self.registry = f"{weights.ns}:tf:{slot_tag(weights.ns)}:registry"

    def _key(self, subject: str, relation: str) -> str:
        return self.w.key("fact", _part(subject), _part(relation))

    def add(self, subject: str, relation: str, obj: str, weight: float | None = None) -> TaughtFact:
        subject, relation, obj = validate_triple(subject, relation, obj)
        key = self._key(subject, relation)
        current = self.w.get(key)
        if weight is None:
            top = current[0][1] if current else 0.0
            same = bool(current) and current[0][0] == obj
            weight = top if same else top + 1.0
        self.w.add(key, {obj: float(weight)})
        fact = TaughtFact(subject, relation, obj, float(weight), time.time())
        with store_errors():
            self.w.r.hsetnx(self.registry, fact.id, json.dumps([subject, relation, fact.ts]))
        if self.index is not None:
            self.index.add(
                [fact.id],
                [f"{subject} {relation}"],
                [{"kind": "fact", "subject": subject, "relation": relation}],
            )
        return self.get(subject, relation)[0]

    def search(self, query: str | np.ndarray, k: int = 5) -> list[Hit]:
        """Taught facts whose subject and relation are closest to ``query``, best first."""
        if self.index is None or k <= 0 or not self.index.exists():
            return []
        found = self.index.search(query, k)
        out = []
        for h in found:
            s, r = str(h.metadata.get("subject", "")), str(h.metadata.get("relation", ""))
            best = self.get(s, r)[:1]
            if best:
                fact = TaughtFact(s, r, best[0].object, best[0].weight)
                out.append(self.as_hit(fact, h.score))
        return out

    def get(self, subject: str, relation: str) -> list[TaughtFact]:
        """Objects known for (subject, relation), heaviest first (as first written)."""
        fid = TaughtFact(subject, relation, "").id
        with store_errors():
            raw = self.w.r.hget(self.registry, fid)
        if raw:
            subject, relation = json.loads(raw)[:2]
        return [
            TaughtFact(subject, relation, o, w) for o, w in self.w.get(self._key(subject, relation))
        ]

    def list_facts(self, subject: str | None = None) -> list[TaughtFact]:
        """The best object of every taught (subject, relation), optionally of one subject."""
        with store_errors():
            rows = self.w.r.hgetall(self.registry)
        pairs = [json.loads(v) for v in rows.values()]
        if subject:
            pairs = [p for p in pairs if _norm(p[0]) == _norm(subject)]
        keys = [self._key(p[0], p[1]) for p in pairs]
        best = self.w.get_many(keys, 1)
        out = []
        for (s, r, ts), key in zip(pairs, keys, strict=True):
            if best.get(key):
                o, w = best[key][0]
                out.append(TaughtFact(s, r, o, w, float(ts)))
        return sorted(out, key=lambda f: (f.subject.lower(), f.relation.lower()))

    def remove(self, subject: str, relation: str, obj: str | None = None) -> None:
        key = self._key(subject, relation)
        self.w.remove(key, [obj] if obj else None)
        if obj is None or not self.w.get(key):
            fid = TaughtFact(subject, relation, "").id
            with store_errors():
                self.w.r.hdel(self.registry, fid)
            if self.index is not None and self.index.exists():
                self.index.delete([fid])

    def as_hit(self, fact: TaughtFact, score: float) -> Hit:
        return Hit(
            id=fact.id,
            text=fact.text,
            score=score,
            source="facts",
            kind="fact",
            metadata={**fact.to_dict(), "scope": "taught"},
        )
