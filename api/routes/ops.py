"""Operations: liveness, readiness (stores reachable), Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from api.errors import error_response
from api.responses import HealthResponse, ReadyResponse
from api.schemas import ErrorResponse
from memory.errors import OverlayError
from overlay.services import Services

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> HealthResponse:
    """The process is up and its event loop answers (no store is touched)."""
    return HealthResponse(status="ok")


READY_WAIT_S = 1.5  # /readyz answers within 2 s even when a store stalls


def _ping(services: Services, name: str) -> str:
    state = str(getattr(services, name).state())
    return "stalled: it does not answer" if state == "stalled" else state


async def _probe(request: Request, name: str) -> str:
    """One store's state within ``READY_WAIT_S``; at most one ping per store in flight (a
    stalled store's pings would otherwise pile up, one per poll)."""
    state = request.app.state
    probes: dict[str, asyncio.Future[str]] | None = getattr(state, "ready_probes", None)
    if probes is None:
        state.ready_probes = probes = {}
    fut = probes.get(name)
    if fut is None or fut.done():
        loop = asyncio.get_running_loop()
        fut = probes[name] = loop.run_in_executor(None, _ping, state.services, name)
    try:
        return await asyncio.wait_for(asyncio.shield(fut), READY_WAIT_S)
    except TimeoutError:
        return f"stalled: no answer within {READY_WAIT_S:.1f} s"
    except OverlayError as exc:
        return f"unreachable: {exc.message}"


async def _store_status(request: Request) -> dict[str, str]:
    names = ("redis", "chroma")
    found = await asyncio.gather(*(_probe(request, name) for name in names))
    return dict(zip(names, found, strict=True))


@router.get("/readyz", response_model=ReadyResponse, responses={503: {"model": ErrorResponse}})
async def readyz(request: Request) -> ReadyResponse | JSONResponse:
    """200 when Redis and Chroma answer; 503 naming the store that does not, or that is
    stalled (alive but silent). Answers within 2 s whatever the stores do."""
    if request.app.state.services is None:
        return error_response(503, "store_unavailable", "not ready: starting", {"Retry-After": "5"})
    status = await _store_status(request)
    down = [name for name, s in status.items() if s != "ok"]
    if down:
        detail = "; ".join(f"{name} {status[name]}" for name in down)
        return error_response(
            503, "store_unavailable", f"not ready: {detail}", {"Retry-After": "5"}
        )
    return ReadyResponse(status="ready", stores=status)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    from prometheus_client import CONTENT_TYPE_LATEST

    m = request.app.state.metrics
    queue = request.app.state.queue
    m.queue_waiting.set(queue.waiting)
    m.queue_running.set(queue.running)
    m.warming.set(0 if request.app.state.warmer.done.is_set() else 1)
    registry = request.app.state.registry
    if registry is not None:
        m.adapters_loaded.set(len(registry.loaded))
    return Response(m.render(), media_type=CONTENT_TYPE_LATEST)
