"""Session memory outside the context window: turn logs, facts, semantic lookup, forgetting.

Layout (``ns`` = the tenant namespace, e.g. ``ov:acme``; ``{…}`` are Redis Cluster
hash tags: one slot per session, one per tenant for the tenant-wide sets):

- ``ns:mem:{ns/session}:log``   list of turns (JSON: id, role, text, ts), oldest first;
- ``ns:mem:{ns/session}:seq``   turn counter (turn ids are ``0, 1, …``);
- ``ns:mem:{ns/session}:facts`` hash key → Fact JSON (current value + history);
- ``ns:mem:{ns/session}:meta``  hash: user, created, embedded;
- ``ns:mem:{ns}:sessions``      set of the tenant's sessions; ``ns:memuser:{ns}:user`` a user's;
- ``ns:w:bm25:{ns/mem|session}:*`` the BM25 index of its embedded turns
  (``memory.stores.sparse``, ``:`` in the session id written ``|``), the lexical half.

Embedded turns live in Redis beside the session's log while the session is
small (``memory.sessions.vectors``: exact search, one round trip) and move to a
Chroma collection of their own past ``redis_vectors_max`` turns; measured
against per-session collections and one tenant collection with a ``where``
filter at 1k-100k sessions in bench/sessions_scale_bench.py. Isolation stays
structural and forgetting is a DEL plus a collection drop.

Facts are scoped to their session; a session bound to a user sees the facts
of all that user's sessions (the latest value per key wins, older values form
the history). Nothing here calls a model except the embedder. The fact hash is
``memory.sessions.facts``; the ranking of lookups is ``memory.sessions.recall``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from memory.embeddings import Embedder
from memory.errors import Conflict, OverlayError
from memory.sessions.extract import Fact, extract_facts
from memory.sessions.facts import SessionFacts, sessions_key
from memory.sessions.recall import fact_hits, turn_hits
from memory.sessions.turns import MemoryConfig, Turn, turn_input, validate_session
from memory.sessions.vectors import SessionVectors
from memory.stores.chroma import ChromaStore
from memory.stores.redis import Client, slot_tag, store_errors
from memory.stores.sparse import SparseIndex
from memory.stores.vectors import VectorStore
from memory.stores.weights import WeightTable
from memory.types import Hit


class SessionMemory:
    """Turns and facts of one tenant's sessions (``namespace`` = ``services.namespace``)."""

    def __init__(
        self,
        client: Client,
        chroma: ChromaStore,
        embedder: Embedder,
        namespace: str,
        config: MemoryConfig | None = None,
    ) -> None:
        self.r: Any = client
        self.chroma = chroma
        self.embedder = embedder
        self.ns = namespace
        self.cfg = config or MemoryConfig()
        self._facts = SessionFacts(client, namespace)
        self._weights = WeightTable(client, namespace)
        self._cols: OrderedDict[str, VectorStore] = OrderedDict()
        self._lock = threading.Lock()

    # --- keys and collections ------------------------------------------------
    def key(self, session: str, part: str) -> str:
        return f"{self.ns}:mem:{slot_tag(self.ns, session)}:{part}"

    def user_key(self, user: str) -> str:
        return f"{self.ns}:memuser:{slot_tag(self.ns)}:{user}"

    def collection_name(self, session: str) -> str:
        return f"{self.ns.replace(':', '.')}.mem.{session}"

    def _vectors(self, session: str) -> SessionVectors:
        return SessionVectors(self.r, self.key(session, "vec"), self.key(session, "meta"),
                              lambda: self._collection(session), self.embedder,
                              self.cfg.redis_vectors_max)  # fmt: skip

    def _collection(self, session: str) -> VectorStore:
        with self._lock:
            vs = self._cols.pop(session, None) or VectorStore(
                self.chroma, self.collection_name(session), self.embedder, self.cfg.ef_search
            )
            self._cols[session] = vs
            while len(self._cols) > 1024:
                self._cols.popitem(last=False)
        return vs

    def _sparse(self, session: str) -> SparseIndex:
        return SparseIndex(self._weights, "mem|" + session.replace(":", "|"))

    # --- writing -----------------------------------------------------------------
    def append(
        self,
        session: str,
        turns: Sequence[dict[str, Any]],
        user: str | None = None,
        extract: bool = True,
    ) -> list[Turn]:
        """Log ``turns`` ({role, content|text, ts?}), extract facts, embed; no model call."""
        validate_session(session)
        items = [turn_input(t) for t in turns]
        if not items:
            return []
        with store_errors():
            self._bind_user(session, user)
            last = int(self.r.incrby(self.key(session, "seq"), len(items)))
        logged = [
            Turn(last - len(items) + i, role, text, ts) for i, (role, text, ts) in enumerate(items)
        ]
        # embed first: a store that fails here (Chroma down: 503) leaves nothing in the log
        # that a retry would duplicate (only the id counter moved on)
        self._embed_turns(session, logged)
        with store_errors():
            pipe = self.r.pipeline(transaction=False)
            pipe.rpush(self.key(session, "log"), *[json.dumps(t.to_dict()) for t in logged])
            pipe.hsetnx(self.key(session, "meta"), "created", time.time())
            pipe.sadd(sessions_key(self.ns), session)
            pipe.execute()
        if extract:
            for t in logged:
                if t.role == "user":
                    for fact in extract_facts(t.text):
                        fact.ts, fact.session, fact.turn = t.ts, session, str(t.id)
                        self.set_fact(session, fact)
        return logged

    def _bind_user(self, session: str, user: str | None) -> None:
        if not user:
            return
        validate_session(user)
        bound = self.r.hget(self.key(session, "meta"), "user")
        if bound and bound != user:
            raise Conflict(f"session {session!r} belongs to another user")
        if not bound:
            pipe = self.r.pipeline(transaction=False)
            pipe.hset(self.key(session, "meta"), "user", user)
            pipe.sadd(self.user_key(user), session)
            pipe.execute()

    def _embed_turns(self, session: str, turns: list[Turn]) -> None:
        roles = ("user", "assistant") if self.cfg.embed_assistant else ("user",)
        chosen = [t for t in turns if t.role in roles]
        if not chosen:
            return
        metas = [
            {
                "kind": "turn",
                "role": t.role,
                "ts": t.ts,
                "turn": t.id,
                "source": f"session:{session}",
            }
            for t in chosen
        ]
        ids = [f"t{t.id}" for t in chosen]
        self._vectors(session).add(ids, [t.text for t in chosen], metas)
        self._sparse(session).add([(i, t.text) for i, t in zip(ids, chosen, strict=True)])
        with store_errors():
            self.r.hincrby(self.key(session, "meta"), "embedded", len(chosen))

    def set_fact(self, session: str, fact: Fact) -> bool:
        """Store ``fact`` under its key; an older value is kept in the history."""
        return self._facts.set(validate_session(session), fact)

    def remove_fact(self, session: str, key: str) -> int:
        """Remove ``key`` from every session whose facts this session sees."""
        return self._facts.remove(self._fact_sessions(session), key)

    # --- reading -------------------------------------------------------------------
    def user_of(self, session: str) -> str | None:
        with store_errors():
            user = self.r.hget(self.key(validate_session(session), "meta"), "user")
        return str(user) if user else None

    def _fact_sessions(self, session: str) -> list[str]:
        user = self.user_of(session)
        if not user:
            return [session]
        with store_errors():
            others = self.r.smembers(self.user_key(user))
        return [session, *sorted(str(s) for s in others if s != session)]

    def facts(self, session: str) -> list[Fact]:
        """Current facts this session sees (its own, plus its user's), newest first."""
        return self._facts.read(self._fact_sessions(session))

    def turns(self, session: str, start: int = 0, end: int = -1) -> list[Turn]:
        """Logged turns by position (Redis LRANGE semantics: negative = from the end)."""
        with store_errors():
            rows = self.r.lrange(self.key(validate_session(session), "log"), start, end)
        return [Turn(**json.loads(row)) for row in rows]

    def count(self, session: str) -> int:
        with store_errors():
            return int(self.r.llen(self.key(validate_session(session), "log")))

    def exists(self, session: str) -> bool:
        with store_errors():
            return bool(self.r.sismember(sessions_key(self.ns), validate_session(session)))

    def sessions(self) -> list[str]:
        with store_errors():
            return sorted(str(s) for s in self.r.smembers(sessions_key(self.ns)))

    def search(
        self, session: str, query: str, k: int = 5, exclude: Iterable[int] = ()
    ) -> list[Hit]:
        """Earlier turns and facts ranked by similarity, word overlap, recency and fact priority."""
        validate_session(session)
        if k <= 0 or not query.strip():
            return []
        vec = self.embedder.embed([query])[0]
        with store_errors():
            pipe = self.r.pipeline(transaction=False)
            pipe.get(self.key(session, "seq"))
            pipe.hget(self.key(session, "meta"), "embedded")
            last, embedded = pipe.execute()
        hits = self._fact_hits(session, vec, query)
        if int(embedded or 0) > 0:
            hits += self._turn_hits(session, vec, query, k, int(last or 0) - 1, set(exclude),
                                    int(embedded))  # fmt: skip
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    def _turn_hits(
        self, session: str, vec: np.ndarray, query: str, k: int, last: int, exclude: set[int],
        embedded: int,
    ) -> list[Hit]:  # fmt: skip
        """Dense and lexical candidates (``candidates × k`` each), scored together."""
        cfg = self.cfg
        n = cfg.candidates * k + len(exclude)
        try:
            found = self._vectors(session).search(vec, n, embedded)
        except OverlayError:
            with self._lock:  # another process may have forgotten and re-created it
                self._cols.pop(session, None)
            found = self._vectors(session).search(vec, n, embedded)
        lexical = dict(self._sparse(session).search(query, n)) if cfg.lexical_weight else {}
        seen = {h.id for h in found}
        found += self._vectors(session).score([i for i in lexical if i not in seen], vec, embedded)
        return turn_hits(session, found, last, exclude, cfg.recency_weight,
                         cfg.recency_halflife, lexical, cfg.lexical_weight)  # fmt: skip

    def _fact_hits(self, session: str, vec: np.ndarray, query: str) -> list[Hit]:
        facts = self.facts(session)
        if not facts:
            return []
        sims = self.embedder.embed([f.text for f in facts]) @ vec
        return fact_hits(session, facts, sims, query, self.cfg.fact_bonus, self.cfg.cue_bonus)

    # --- forgetting ------------------------------------------------------------------
    def forget(self, session: str) -> bool:
        """Remove every trace of the session from Redis and Chroma; False if unknown."""
        validate_session(session)
        known = self.exists(session)
        user = self.user_of(session)
        self._vectors(session).drop()
        self._sparse(session).drop()
        with self._lock:
            self._cols.pop(session, None)
        with store_errors():
            pipe = self.r.pipeline(transaction=False)
            for part in ("log", "seq", "facts", "meta", "vec"):  # cluster pipeline: 1 key a DEL
                pipe.delete(self.key(session, part))
            pipe.srem(sessions_key(self.ns), session)
            if user:
                pipe.srem(self.user_key(user), session)
            pipe.execute()
        return known
