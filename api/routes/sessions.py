"""Session memory: import turns, look up memories, session facts, forget a session."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep
from api.responses import (
    ForgetResponse,
    ImportResponse,
    SessionFactRecord,
    SessionFactResponse,
    SessionFactsResponse,
    SessionResponse,
    SessionTurnRecord,
    TurnRemoved,
)
from api.schemas import (
    ERRORS,
    ErrorResponse,
    FactCorrection,
    Memory,
    MemoryResponse,
    SessionFactRequest,
    TurnsRequest,
    TurnsResponse,
)
from memory.errors import InvalidInput
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
    since: str | None = Query(None, max_length=40, description="Said at or after (epoch or ISO)."),
    until: str | None = Query(None, max_length=40, description="Said at or before (epoch or ISO)."),
) -> MemoryResponse:
    """Earlier turns and facts of the session most relevant to ``q``, best first."""
    hits = remembering.memory_search(services, session_id, q, k, since=since, until=until)
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


class NDJSONResponse(PlainTextResponse):
    media_type = "application/x-ndjson"


_LINES = "JSON lines (`memory.sessions.portable`): a session line, then its turns, then its facts."
_EXPORT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": _LINES,
        "content": {NDJSONResponse.media_type: {"schema": {"type": "string"}}},
    }
}
_IMPORT_BODY = {  # the route reads the raw body, so OpenAPI is told what it takes
    "requestBody": {
        "required": True,
        "description": "An export's lines, as `GET …/export` sent them.",
        "content": {NDJSONResponse.media_type: {"schema": {"type": "string"}}},
    }
}


@router.get("/{session_id}/export", response_class=NDJSONResponse, responses=_EXPORT)
def get_export(session_id: str, services: ServicesDep) -> NDJSONResponse:
    """The session as JSON lines (``memory.sessions.portable``): turns with their times,
    facts with their history. ``POST …/import`` of it into a new id restores it exactly."""
    lines = remembering.export_session(services, session_id)
    return NDJSONResponse("\n".join(lines) + "\n")


@router.post(
    "/{session_id}/import",
    responses={409: {"model": ErrorResponse, "description": "The session exists."}},
    openapi_extra=_IMPORT_BODY,
)
async def post_import(session_id: str, request: Request, services: ServicesDep) -> ImportResponse:
    """Restore an export (the body: its JSON lines) into a session that does not exist yet."""
    try:
        lines = (await request.body()).decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InvalidInput("the import is not UTF-8 text") from exc
    got = await run_in_threadpool(remembering.import_session, services, session_id, lines)
    return ImportResponse(session_id=session_id, **got)


@router.patch("/{session_id}/facts/{key}")
def patch_fact(
    session_id: str, key: str, body: FactCorrection, services: ServicesDep
) -> SessionFactResponse:
    """Correct one fact; its old value stays in the history (404 if there is no such fact)."""
    fact = remembering.correct_fact(services, session_id, key, body.value)
    record = SessionFactRecord.model_validate(remembering.fact_result(fact))
    return SessionFactResponse(session_id=session_id, fact=record)


@router.delete("/{session_id}/facts/{key}")
def delete_fact(session_id: str, key: str, services: ServicesDep) -> ForgetResponse:
    """Remove one fact (every value of its key this session sees)."""
    remembering.remove_fact(services, session_id, key)
    return ForgetResponse(session_id=session_id, forgotten=True)


@router.delete("/{session_id}/turns/{turn_id}")
def delete_turn(session_id: str, turn_id: int, services: ServicesDep) -> TurnRemoved:
    """Remove one turn, its vectors and the facts it stated."""
    removed = remembering.delete_turn(services, session_id, turn_id)
    return TurnRemoved(session_id=session_id, removed=SessionTurnRecord.model_validate(removed))
