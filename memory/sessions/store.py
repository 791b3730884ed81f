"""Session memory outside the context window: turn logs, facts, semantic lookup, forgetting.

Layout (``ns`` = the tenant namespace; ``{…}`` are Redis Cluster hash tags, one slot per
session, one per tenant for the tenant-wide sets):

- ``ns:mem:{ns/session}:log``   list of turns (JSON: id, role, text, ts, speaker?, when?);
- ``ns:mem:{ns/session}:seq``   turn counter (turn ids are ``0, 1, …``);
- ``ns:mem:{ns/session}:facts`` hash key → Fact JSON (current value + history);
- ``ns:mem:{ns/session}:meta``  hash: user, created, embedded, rev (moves on every change);
- ``ns:mem:{ns}:sessions``      set of the tenant's sessions; ``ns:memuser:{ns}:user`` a user's;
- ``ns:w:bm25:{ns/mem|session}:*`` the BM25 index of its embedded turns (``memory.stores.sparse``).

Each embedded turn has two vectors, alone and after its previous turn, in Redis beside the log
while the session is small (``memory.sessions.vectors``) and in a Chroma collection of its own
past ``redis_vectors_max`` turns (bench/sessions_scale_bench.py). A lookup ranks every turn of
the session from an in-process table (``memory.sessions.index``, reloaded when ``rev`` moves;
ranking in ``memory.sessions.recall``). Facts are scoped to their session; a session bound to
a user sees the facts of all that user's sessions (the latest value per key wins, older values
form the history; ``memory.sessions.facts``). Nothing here calls a model except the embedder.
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
from memory.sessions.index import TableCache, TurnTable, build_table, in_context, spoken
from memory.sessions.lookup import top_list_hits
from memory.sessions.recall import fact_hits, rank_turns, table_hits, turn_scores
from memory.sessions.turns import MemoryConfig, Turn, turn_input, validate_session
from memory.sessions.vectors import SessionVectors
from memory.sessions.when import resolve_times
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
        self._tables = TableCache()

    def key(self, session: str, part: str) -> str:
        return f"{self.ns}:mem:{slot_tag(self.ns, session)}:{part}"

    def user_key(self, user: str) -> str:
        return f"{self.ns}:memuser:{slot_tag(self.ns)}:{user}"

    def collection_name(self, session: str) -> str:
        return f"{self.ns.replace(':', '.')}.mem.{session}"

    def _vectors(self, session: str) -> SessionVectors:
        return SessionVectors(self.r, self.key(session, "vec"), self.key(session, "meta"),
                              lambda: self._collection(session), self.embedder,
                              2 * self.cfg.redis_vectors_max)  # two vectors a turn  # fmt: skip

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
        """Log ``turns`` ({role, content|text, ts?, speaker?}), extract facts, embed; no model
        call. Relative times in a turn are resolved against its ``ts`` (``Turn.when``)."""
        validate_session(session)
        items = [turn_input(t) for t in turns]
        if not items:
            return []
        with store_errors():
            self._bind_user(session, user)
            last = int(self.r.incrby(self.key(session, "seq"), len(items)))
            prev = self.r.lindex(self.key(session, "log"), -1)
        logged = [
            Turn(last - len(items) + i, role, text, ts, speaker, resolve_times(text, ts))
            for i, (role, text, ts, speaker) in enumerate(items)
        ]
        # embed first: a store that fails here (Chroma down: 503) leaves nothing in the log
        # that a retry would duplicate (only the id counter moved on)
        self._embed_turns(session, logged, Turn(**json.loads(prev)) if prev else None)
        with store_errors():
            pipe = self.r.pipeline(transaction=False)
            pipe.rpush(self.key(session, "log"), *[json.dumps(t.to_dict()) for t in logged])
            pipe.hsetnx(self.key(session, "meta"), "created", time.time())
            pipe.hincrby(self.key(session, "meta"), "rev", 1)
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

    def _embed_turns(self, session: str, turns: list[Turn], prev: Turn | None) -> None:
        """Each turn twice: alone (``t<id>``) and after its previous turn (``c<id>``)."""
        roles = ("user", "assistant") if self.cfg.embed_assistant else ("user",)
        before = dict(zip([t.id for t in turns], [prev, *turns[:-1]], strict=True))
        chosen = [t for t in turns if t.role in roles]
        if not chosen:
            return
        gap = self.cfg.sitting_gap
        ids, texts, metas = [], [], []
        for t in chosen:
            meta = {"kind": "turn", "role": t.role, "ts": t.ts, "turn": t.id,
                    "source": f"session:{session}", "speaker": t.speaker}  # fmt: skip
            context = in_context(before[t.id], t, gap)
            ids += [f"t{t.id}", f"c{t.id}"]
            texts += [spoken(t), context]
            metas += [meta, {**meta, "vec": "context"}]
        self._vectors(session).add(ids, texts, metas)
        self._sparse(session).add(list(zip(ids[0::2], texts[1::2], strict=True)))
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
        self, session: str, query: str, k: int = 5, exclude: Iterable[int] = (),
        since: float | None = None, until: float | None = None,
    ) -> list[Hit]:  # fmt: skip
        """Earlier turns and facts ranked for ``query`` (``memory.sessions.recall``), only those
        said within ``since``..``until`` (epoch seconds) when given."""
        validate_session(session)
        if k <= 0 or not query.strip():
            return []
        vec = self.embedder.embed([query])[0]
        with store_errors():
            pipe = self.r.pipeline(transaction=False)
            pipe.get(self.key(session, "seq"))
            pipe.hmget(self.key(session, "meta"), "embedded", "rev", "created")
            last, (embedded, rev, created) = pipe.execute()
        window = (since if since is not None else -np.inf, until if until is not None else np.inf)
        hits = [h for h in self._fact_hits(session, vec, query)
                if window[0] <= float(h.metadata.get("ts") or 0) <= window[1]]  # fmt: skip
        n, excluded = int(embedded or 0), set(exclude)
        table = None
        if 0 < n <= self.cfg.index_max_turns:
            stamp = (int(last or 0), n, int(rev or 0), hash(created))
            table = self._tables.get(session, stamp, lambda: build_table(
                self.turns(session), self._vectors(session).all(n), self.cfg.sitting_gap,
                self.embedder.dim))  # fmt: skip
        if table is not None and table.turns:
            hits += self._ranked(session, table, vec, query, k, excluded, window)
        elif n:  # too large for a table, or vectors without a log (written by older code)
            found = self._turn_hits(session, vec, query, k, int(last or 0) - 1, excluded, n)
            hits += [h for h in found if window[0] <= float(h.metadata["ts"] or 0) <= window[1]]
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    def _ranked(
        self, session: str, table: TurnTable, vec: np.ndarray, query: str, k: int,
        exclude: set[int], window: tuple[float, float],
    ) -> list[Hit]:  # fmt: skip
        scores = turn_scores(table, vec, query, self.cfg.weights)
        allowed = np.array([t.id not in exclude and window[0] <= t.ts <= window[1]
                            for t in table.turns], dtype=bool)  # fmt: skip
        rows = rank_turns(scores, allowed, k, self.cfg.weights.spread)
        return table_hits(session, table, rows, scores, vec, query)

    def _turn_hits(
        self, session: str, vec: np.ndarray, query: str, k: int, last: int, exclude: set[int],
        embedded: int,
    ) -> list[Hit]:  # fmt: skip
        args = (self._sparse(session), self.cfg, vec, query, k, last, exclude, embedded)
        try:
            return top_list_hits(session, self._vectors(session), *args)
        except OverlayError:
            with self._lock:  # another process may have forgotten and re-created it
                self._cols.pop(session, None)
            return top_list_hits(session, self._vectors(session), *args)

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
        self._tables.drop(session)
        with store_errors():
            pipe = self.r.pipeline(transaction=False)
            for part in ("log", "seq", "facts", "meta", "vec"):  # cluster pipeline: 1 key a DEL
                pipe.delete(self.key(session, part))
            pipe.srem(sessions_key(self.ns), session)
            if user:
                pipe.srem(self.user_key(user), session)
            pipe.execute()
        return known
