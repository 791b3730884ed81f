"""One place that turns exceptions into JSON errors: ``{"error": {"type", "message"}}``.

The status comes from the exception class (see ``memory.errors``): ``NotFound`` 404,
``InvalidInput`` 400, ``TooLarge`` 413, ``Unauthorized`` 401, ``Busy`` 429 with
``Retry-After``, ``StoreUnavailable`` 503. Request validation is 422, unknown routes
404, wrong methods 405 — all in the same shape. Anything unexpected is logged with
its traceback and answered 500 with a generic message; a connection failure that
escaped a store wrapper is still answered 503, never a stack trace.

A message speaks of the caller's own objects only: no paths, hosts, ports, internal key
or collection names. What the server knows beyond that (an error's ``detail``, the
traceback) goes to the log under the request id that the response's ``X-Request-Id`` carries.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from memory.errors import Busy, OverlayError, StoreUnavailable

log = logging.getLogger("overlay.api")

_HTTP_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "busy",
    503: "unavailable",
}


def error_response(
    status: int, type_: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The one error body every endpoint uses."""
    body = {"error": {"type": type_, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def _connection_failure(exc: BaseException) -> bool:
    """A store's connection error that escaped its wrapper (redis, chroma's httpx)."""
    import httpx
    import redis

    return isinstance(exc, redis.ConnectionError | redis.TimeoutError | httpx.TransportError)


def _format_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def _overlay_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OverlayError)
    headers = None
    if isinstance(exc, Busy):
        headers = _retry_after(exc.retry_after)
    elif isinstance(exc, StoreUnavailable):
        headers = _retry_after(5)
    where = (_request_id(request), request.method, request.url.path)
    if isinstance(exc, StoreUnavailable):
        log.warning("[%s] %s %s: %s (%s)", *where, exc.message, exc.detail or "-")
    elif exc.status_code >= 500:
        log.error("[%s] %s %s: %s (%s)", *where, exc.message, exc.detail or "-", exc_info=exc)
        return error_response(500, "internal_error", "internal server error")
    elif exc.detail:
        log.info("[%s] %s %s: %s (%s)", *where, exc.message, exc.detail)
    return error_response(exc.status_code, exc.type, exc.message, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "invalid_request", _format_validation(exc))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    message = str(exc.detail) if exc.detail else "error"
    if status == 404 and message == "Not Found":
        message = f"no route {request.method} {request.url.path}"
    headers = dict(exc.headers) if exc.headers else None
    return error_response(status, _HTTP_TYPES.get(status, "http_error"), message, headers)


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    # runs outside every middleware (Starlette's ServerErrorMiddleware): tag the id here
    rid = _request_id(request)
    tag = {"X-Request-Id": rid}
    if _connection_failure(exc):
        log.warning(
            "[%s] store unreachable on %s %s: %s", rid, request.method, request.url.path, exc
        )
        return error_response(
            503,
            "store_unavailable",
            "a store (Redis or Chroma) is unreachable; retry shortly",
            {**_retry_after(5), **tag},
        )
    log.error("[%s] unhandled error on %s %s", rid, request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal server error", tag)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; called once by ``create_app``."""
    handlers: dict[Any, Any] = {
        OverlayError: _overlay_error,
        RequestValidationError: _validation_error,
        StarletteHTTPException: _http_error,
        Exception: _unhandled,
    }
    for exc_class, handler in handlers.items():
        app.add_exception_handler(exc_class, handler)
