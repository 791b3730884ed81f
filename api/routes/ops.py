"""Operations: liveness, readiness (stores reachable), Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from api.errors import error_response
from api.responses import HealthResponse, ReadyResponse
from api.schemas import ErrorResponse
from memory.errors import OverlayError

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> HealthResponse:
    """The process is up and its event loop answers (no store is touched)."""
    return HealthResponse(status="ok")


def _store_status(request: Request) -> dict[str, str]:
    services = request.app.state.services
    status: dict[str, str] = {}
    for name in ("redis", "chroma"):
        try:
            ok = getattr(services, name).ping()
        except OverlayError as exc:
            status[name] = f"unreachable: {exc.message}"
            continue
        status[name] = "ok" if ok else "unreachable"
    return status


@router.get("/readyz", response_model=ReadyResponse, responses={503: {"model": ErrorResponse}})
async def readyz(request: Request) -> ReadyResponse | JSONResponse:
    """200 when Redis and Chroma answer; 503 naming the store that does not."""
    status = await run_in_threadpool(_store_status, request)
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
    registry = request.app.state.registry
    if registry is not None:
        m.adapters_loaded.set(len(registry.loaded))
    return Response(m.render(), media_type=CONTENT_TYPE_LATEST)
