"""``POST /v1/retrieve``: ranked candidates, the same as ``overlay retrieve``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import QueueDep, ServicesDep
from api.responses import CollectionList
from api.schemas import ERRORS, Result, RetrieveRequest, RetrieveResponse
from memory.types import Hit
from overlay.request import TurnRequest, resolve_retrieve
from overlay.services import Services
from overlay.turn import retrieve

router = APIRouter(tags=["retrieval"], responses=ERRORS)


def result_row(hit: Hit) -> Result:
    """The contract's result row (``id, source, text, score, kind``) of a ranked hit."""
    return Result.model_validate(hit.to_dict())


def _resolved(services: Services, body: RetrieveRequest) -> TurnRequest:
    return resolve_retrieve(
        services, body.query, k=body.k, collection=body.collection, method=body.method
    )


def _retrieve(services: Services, req: TurnRequest) -> list[Result]:
    return [result_row(h) for h in retrieve(services, req)]


@router.get("/v1/collections", response_model=CollectionList)
def collections(services: ServicesDep) -> CollectionList:
    """The tenant's document collections (the default one always listed)."""
    return CollectionList(collections=services.collections(), default=services.settings.collection)


@router.post("/v1/retrieve", response_model=RetrieveResponse)
async def retrieve_route(
    body: RetrieveRequest, services: ServicesDep, queue: QueueDep
) -> RetrieveResponse:
    """Dense, sparse or hybrid candidates; ``chosen`` also lets the model score them."""
    req = await run_in_threadpool(_resolved, services, body)  # checked before any work
    if req.method == "chosen":  # model work: through the fair queue
        results = await queue.run(services.tenant, lambda: _retrieve(services, req))
    else:
        results = await run_in_threadpool(_retrieve, services, req)
    return RetrieveResponse(query=body.query, method=body.method, results=results)
