"""Session memory: import turns, look up memories, session facts, forget a session."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Header, Query

from api.deps import ServicesDep
from api.responses import (
    ForgetResponse,
    SessionFactRecord,
    SessionFactResponse,
    SessionFactsResponse,
    SessionResponse,
)
from api.schemas import (
    ERRORS,
    Memory,
    MemoryResponse,
    SessionFactRequest,
    TurnsRequest,
    TurnsResponse,
)
from memory.tables.idempotency import Idempotency, fingerprint
from overlay import remembering

router = APIRouter(prefix="/v1/sessions", tags=["sessions"], responses=ERRORS)


@router.get("/{session_id}")
def get_session(
    session_id: str, services: ServicesDep, last: int | None = Query(None, ge=1, le=1000)
) -> SessionResponse:
    """The session's user, turn count, turns (the last ``last``) and facts."""
    return SessionResponse.model_validate(remembering.show_session(services, session_id, last))


@router.post("/{session_id}/turns", response_model=TurnsResponse)
def post_turns(
    session_id: str,
    body: TurnsRequest,
    services: ServicesDep,
    idempotency_key: str | None = Header(None, max_length=128),
) -> TurnsResponse:
    """Append turns without generating (import history); facts are extracted on the way.

    An error answer has logged nothing a retry would duplicate. With an ``Idempotency-Key``
    header, a retry of a request that succeeded gets the same answer and adds nothing.
    """
    turns = [t.model_dump(exclude_none=True) for t in body.turns]

    def append() -> dict[str, Any]:
        added = remembering.append_turns(services, session_id, turns)
        return {"session_id": session_id, "added": added}

    idem = Idempotency(services.redis.client, services.namespace)
    fp = fingerprint(json.dumps(turns, sort_keys=True))
    done = idem.run(f"turns:{session_id}", idempotency_key, append, fp)
    return TurnsResponse.model_validate(done)


@router.get("/{session_id}/memory")
def get_memory(
    session_id: str,
    services: ServicesDep,
    q: str = Query(..., min_length=1, max_length=4000, description="What to look up."),
    k: int = Query(5, ge=1, le=100),
) -> MemoryResponse:
    """Earlier turns and facts of the session most relevant to ``q``, best first."""
    hits = remembering.memory_search(services, session_id, q, k)
    results = [Memory.model_validate(remembering.memory_result(h)) for h in hits]
    return MemoryResponse(session_id=session_id, results=results)


@router.get("/{session_id}/facts")
def get_facts(session_id: str, services: ServicesDep) -> SessionFactsResponse:
    """The session's facts (latest value per key, with history)."""
    facts = remembering.session_facts(services, session_id)
    records = [SessionFactRecord.model_validate(remembering.fact_result(f)) for f in facts]
    return SessionFactsResponse(session_id=session_id, facts=records)


@router.post("/{session_id}/facts")
def post_fact(
    session_id: str, body: SessionFactRequest, services: ServicesDep
) -> SessionFactResponse:
    """Set a fact by hand; an earlier value of the key stays in its history."""
    fact = remembering.add_fact(services, session_id, body.key, body.value)
    record = SessionFactRecord.model_validate(remembering.fact_result(fact))
    return SessionFactResponse(session_id=session_id, fact=record)


@router.delete("/{session_id}")
def delete_session(session_id: str, services: ServicesDep) -> ForgetResponse:
    """Forget everything about the session: turns, facts, embedded memories."""
    remembering.forget_session(services, session_id)
    return ForgetResponse(session_id=session_id, forgotten=True)
