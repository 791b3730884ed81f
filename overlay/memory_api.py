"""Session memory and taught facts as library calls (the CLI and the HTTP API call these).

HTTP shapes built from these functions:
- ``POST /v1/sessions/{id}/turns``   → ``{"session_id", "added": append_turns(...)}``
- ``GET /v1/sessions/{id}/memory``   → ``{"session_id", "results": [memory_result(h) …]}``
- ``GET|POST /v1/sessions/{id}/facts`` → ``session_facts`` / ``add_fact``
- ``DELETE /v1/sessions/{id}``       → ``forget_session``
- ``GET|POST /v1/facts``             → ``get_taught_facts`` / ``teach_fact``
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from memory.embeddings import Embedder
from memory.errors import InvalidInput, SessionNotFound
from memory.facts import Fact, normalise_key
from memory.sessions import MemoryConfig, SessionMemory, validate_session
from memory.taught import TaughtFact, TaughtFacts
from memory.types import Hit
from memory.vectors import VectorStore
from overlay.context import Context, Count, build_context, memory_line
from overlay.services import Services


class _LazyEmbedder:
    """The services' embedder, loaded only when a text must be embedded (so ``memory
    show``, ``forget`` and fact edits start in milliseconds)."""

    def __init__(self, services: Services) -> None:
        self._services = services

    @property
    def name(self) -> str:
        return self._services.embedder.name

    @property
    def dim(self) -> int:
        return self._services.embedder.dim

    @property
    def max_tokens(self) -> int:
        return self._services.embedder.max_tokens

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._services.embedder.embed(texts)

    def count_tokens(self, text: str) -> int:
        return self._services.embedder.count_tokens(text)


def session_memory(services: Services) -> SessionMemory:
    """The tenant's session memory (one per process and tenant; caches are shared)."""

    s = services.settings
    # resolve the stores first: ``shared`` holds the lock they are created under
    client, chroma = services.redis.client, services.chroma
    embedder = cast(Embedder, _LazyEmbedder(services))
    cfg = MemoryConfig(
        embed_assistant=s.memory_embed_assistant,
        fact_bonus=s.memory_fact_bonus,
        recency_weight=s.memory_recency_weight,
        recency_halflife=s.memory_recency_halflife,
        lexical_weight=s.memory_lexical_weight,
        ef_search=s.hnsw_ef_search,
    )

    def build() -> SessionMemory:
        return SessionMemory(client, chroma, embedder, services.namespace, cfg)

    mem: SessionMemory = services.shared(f"session_memory:{services.tenant}", build)
    return mem


def taught_facts(services: Services) -> TaughtFacts:
    """The tenant's taught facts: the weight table plus a small semantic index."""
    index = VectorStore(
        services.chroma,
        f"{services.tenant}.taught.facts",
        services.embedder,
        services.settings.hnsw_ef_search,
    )
    return TaughtFacts(services.weights, index)


def _known(mem: SessionMemory, session: str) -> None:
    if not mem.exists(validate_session(session)):
        raise SessionNotFound(f"no session {session!r}")


# --- turns -------------------------------------------------------------------------


def append_turns(
    services: Services, session: str, turns: Sequence[dict[str, Any]], user: str | None = None
) -> int:
    """Append turns ({role, content, ts?}) without generating; returns how many were added."""
    if not isinstance(turns, Sequence) or isinstance(turns, str):
        raise InvalidInput("turns must be a list of {role, content, ts?}")
    return len(session_memory(services).append(session, turns, user=user))


def log_turn(
    services: Services, session: str, role: str, text: str, user: str | None = None
) -> int:
    """Log one turn of a live chat (facts extracted, no model call); returns its turn id."""
    return session_memory(services).append(session, [{"role": role, "content": text}], user)[0].id


def memory_search(
    services: Services, session: str, q: str, k: int = 5, must_exist: bool = True
) -> list[Hit]:
    """Earlier turns and facts of ``session`` most relevant to ``q``, best first."""
    mem = session_memory(services)
    if must_exist:
        _known(mem, session)
    if not 1 <= k <= 100:
        raise InvalidInput("k must be between 1 and 100")
    return mem.search(session, q, k)


def memory_result(hit: Hit) -> dict[str, Any]:
    """The HTTP/JSON shape of one memory: ``{id, kind, text, score, ts}`` (+ details)."""
    meta = hit.metadata
    out = {"id": hit.id, "kind": hit.kind, "text": hit.text, "score": round(hit.score, 6)}
    out["ts"] = meta.get("ts")
    for extra in ("role", "key", "value", "history", "session"):
        if meta.get(extra) is not None:
            out[extra] = meta[extra]
    return out


def show_session(services: Services, session: str, last: int | None = None) -> dict[str, Any]:
    """Everything the session holds: its user, turns (the last ``last``) and facts."""
    mem = session_memory(services)
    _known(mem, session)
    start = -last if last else 0
    return {
        "session_id": session,
        "user": mem.user_of(session),
        "count": mem.count(session),
        "turns": [t.to_dict() for t in mem.turns(session, start, -1)],
        "facts": [fact_result(f) for f in mem.facts(session)],
    }


def forget_session(services: Services, session: str) -> None:
    """Remove every trace of ``session`` from Redis and Chroma (404 if unknown)."""
    mem = session_memory(services)
    _known(mem, session)
    mem.forget(session)


# --- session facts -----------------------------------------------------------------


def fact_result(fact: Fact) -> dict[str, Any]:
    return {**fact.to_dict(), "history_line": fact.history_line()}


def session_facts(services: Services, session: str) -> list[Fact]:
    mem = session_memory(services)
    _known(mem, session)
    return mem.facts(session)


def add_fact(services: Services, session: str, key: str, value: str) -> Fact:
    """Set a fact by hand (supersedes the key's value, keeping history)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("a fact needs a non-empty value")
    key = normalise_key(key)
    value = value.strip()
    text = f"my {key} is {value}"
    mem = session_memory(services)
    mem.set_fact(session, Fact(key=key, value=value, text=text))
    return next(f for f in mem.facts(session) if f.key == key)


def remove_fact(services: Services, session: str, key: str) -> int:
    mem = session_memory(services)
    _known(mem, session)
    key = key if key.startswith("note:") else normalise_key(key)
    removed = mem.remove_fact(session, key)
    if not removed:
        raise SessionNotFound(f"session {session!r} has no fact {key!r}")
    return removed


# --- taught facts --------------------------------------------------------------------


def teach_fact(
    services: Services, subject: str, relation: str, obj: str, weight: float | None = None
) -> TaughtFact:
    """Store (subject, relation) → object in the weight table; a new object goes on top."""
    return taught_facts(services).add(subject, relation, obj, weight)


def get_taught_facts(
    services: Services, subject: str | None = None, relation: str | None = None
) -> list[TaughtFact]:
    """Taught facts: all objects of (subject, relation), or the best of each pair."""
    tf = taught_facts(services)
    if subject and relation:
        return tf.get(subject, relation)
    return tf.list_facts(subject)


def remove_taught_fact(
    services: Services, subject: str, relation: str, obj: str | None = None
) -> None:
    taught_facts(services).remove(subject, relation, obj)


# --- for the chat turn -------------------------------------------------------------------

# A stored fact that matches a question well is evidence in itself: the small model's
# query likelihood rates short passages like "my name is Bob" low, so memories carry
# an evidence floor from their lookup score (linear between these two scores).
EVIDENCE_FROM, EVIDENCE_FULL = 0.7, 0.9


def memory_evidence(hit: Hit) -> float:
    """Evidence in [0, 1] that a memory or fact hit answers the question it was found for."""
    if hit.kind == "fact" and hit.metadata.get("scope") == "taught":
        score = hit.score  # cosine similarity of the question to "subject relation"
    elif hit.kind == "fact":
        score = hit.score
    else:
        # a turn is weaker evidence than a stated fact; its ranking bonuses are no evidence
        score = 0.8 * float(hit.metadata.get("similarity", hit.score))
    return max(0.0, min(1.0, (score - EVIDENCE_FROM) / (EVIDENCE_FULL - EVIDENCE_FROM)))


def memory_candidates(
    services: Services,
    question: str,
    session: str | None = None,
    k: int | None = None,
    exclude: Sequence[int] = (),
) -> list[Hit]:
    """Memories and taught facts worth offering the chooser for ``question``, best first.

    Earlier questions are left out (they hold no answer); every hit carries
    ``metadata["memory_evidence"]``, the floor the chooser may use for it.
    """
    s = services.settings
    k = s.memory_k if k is None else k
    if k <= 0:
        return []
    hits: list[Hit] = []
    if session:
        found = session_memory(services).search(session, question, 2 * k, exclude=exclude)
        hits += [h for h in found if h.kind == "fact" or not h.text.rstrip().endswith("?")]
    hits += taught_facts(services).search(question, k)
    hits = [h for h in hits if h.score >= s.memory_min_score]
    for h in hits:
        h.metadata["memory_evidence"] = memory_evidence(h)
    hits.sort(key=lambda h: h.score, reverse=True)
    return hits[:k]


@dataclass
class SessionTurn:
    """What session memory contributes to one chat turn."""

    turn_id: int
    candidates: list[Hit]  # memories and taught facts that compete with the documents
    facts: list[str]  # for the prompt: facts, then relevant earlier turns
    recent: list[tuple[str, str]]  # (role, content), oldest first
    context: Context


def session_turn(
    services: Services, question: str, session: str, count: Count, system: str = ""
) -> SessionTurn:
    """Log the user's message (facts extracted, no model call), gather memories, and fit
    the session's part of the prompt into half the context budget (the documents get
    the rest) with the model's own token ``count``."""
    s = services.settings
    mem = session_memory(services)
    n = s.memory_recent_turns
    recent = [t.to_dict() for t in mem.turns(session, -n, -1)] if n else []
    turn_id = log_turn(services, session, "user", question)
    hits = memory_candidates(services, question, session, exclude=[turn_id])
    facts = mem.facts(session)
    hit_keys = [h.metadata.get("key") for h in hits if h.kind == "fact"]
    facts.sort(key=lambda f: hit_keys.index(f.key) if f.key in hit_keys else len(hit_keys))
    ctx = build_context(
        count,
        s.context_budget // 2,
        system=system,
        question=question,
        facts=[f.text for f in facts],
        memories=[h for h in hits if h.kind == "turn"],
        recent=recent,
    )
    lines = ctx.facts + [memory_line(h) for h in ctx.memories]
    turns = [(m["role"], m["content"]) for m in ctx.recent]
    return SessionTurn(turn_id, hits, lines, turns, ctx)


def remember_answer(services: Services, session: str, text: str) -> None:
    """Log the assistant's answer (embedded only if ``memory_embed_assistant``)."""
    if text.strip():
        session_memory(services).append(session, [{"role": "assistant", "content": text}])
