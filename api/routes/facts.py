"""Taught facts: ``POST /v1/facts`` teaches (subject, relation) → object; ``GET`` lists."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import ServicesDep
from api.responses import TaughtFactRecord, TaughtFactResponse, TaughtFactsResponse
from api.schemas import ERRORS, FactRequest
from overlay import remembering

router = APIRouter(prefix="/v1/facts", tags=["facts"], responses=ERRORS)


@router.get("")
def get_facts(
    services: ServicesDep,
    subject: str | None = Query(None, max_length=500),
    relation: str | None = Query(None, max_length=200),
) -> TaughtFactsResponse:
    """All objects of (subject, relation), or the best fact of each pair (of ``subject``)."""
    facts = remembering.get_taught_facts(services, subject or None, relation or None)
    return TaughtFactsResponse(facts=[TaughtFactRecord.model_validate(f.to_dict()) for f in facts])


@router.post("")
def post_fact(body: FactRequest, services: ServicesDep) -> TaughtFactResponse:
    """Teach a fact; a question about it is then answered from the table, cited."""
    fact = remembering.teach_fact(services, body.subject, body.relation, body.object)
    return TaughtFactResponse(fact=TaughtFactRecord.model_validate(fact.to_dict()))
