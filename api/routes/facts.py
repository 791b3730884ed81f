"""Taught facts: ``POST /v1/facts`` teaches (subject, relation) → object; ``GET`` lists."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from api.deps import ServicesDep
from api.schemas import ERRORS, FactRequest
from overlay import remembering

router = APIRouter(prefix="/v1/facts", tags=["facts"], responses=ERRORS)


@router.get("")
def get_facts(
    services: ServicesDep,
    subject: str | None = Query(None, max_length=500),
    relation: str | None = Query(None, max_length=200),
) -> dict[str, Any]:
    """All objects of (subject, relation), or the best fact of each pair (of ``subject``)."""
    facts = remembering.get_taught_facts(services, subject or None, relation or None)
    return {"facts": [f.to_dict() for f in facts]}


@router.post("")
def post_fact(body: FactRequest, services: ServicesDep) -> dict[str, Any]:
    """Teach a fact; a question about it is then answered from the table, cited."""
    fact = remembering.teach_fact(services, body.subject, body.relation, body.object)
    return {"fact": fact.to_dict()}
