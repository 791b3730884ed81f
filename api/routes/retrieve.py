"""``POST /v1/retrieve``: ranked candidates, the same as ``overlay retrieve``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import QueueDep, ServicesDep
from api.limits import check_length
from api.responses import CollectionList
from api.schemas import ERRORS, Result, RetrieveRequest, RetrieveResponse
from memory.types import Hit
from overlay.services import Services
from overlay.turn import retrieve

router = APIRouter(tags=["retrieval"], responses=ERRORS)


def result_row(hit: Hit) -> Result:
    """The contract's result row (``id, source, text, score, kind``) of a ranked hit."""
    return Result.model_validate(hit.to_dict())


def _retrieve(services: Services, body: RetrieveRequest) -> list[Result]:
    collection = services.require_collection(body.collection or services.settings.collection)
    k = body.k or services.settings.retrieve.top_k
    hits = retrieve(services, body.query, collection=collection, k=k, method=body.method)
    return [result_row(h) for h in hits]


@router.get("/v1/collections", response_model=CollectionList)
def collections(services: ServicesDep) -> CollectionList:
    """The tenant's document collections (the default one always listed)."""
    return CollectionList(collections=services.collections(), default=services.settings.collection)


@router.post("/v1/retrieve", response_model=RetrieveResponse)
async def retrieve_route(
    body: RetrieveRequest, request: Request, services: ServicesDep, queue: QueueDep
) -> RetrieveResponse:
    """Dense, sparse or hybrid candidates; ``chosen`` also lets the model score them."""
    check_length(body.query, request.app.state.settings.api.max_message_chars, "query")
    if body.method == "chosen":  # model work: through the fair queue
        results = await queue.run(services.tenant, lambda: _retrieve(services, body))
    else:
        results = await run_in_threadpool(_retrieve, services, body)
    return RetrieveResponse(query=body.query, method=body.method, results=results)
