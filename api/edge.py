"""What every request passes first: a request id, and the key check of operational endpoints.

``RequestId`` gives each request an id (the caller's ``X-Request-Id`` when it is a short
token, else a fresh one), keeps it in ``request.state.request_id`` for the error log and
answers it in the ``X-Request-Id`` header. ``OpsGuard`` makes ``/metrics``, ``/docs``,
``/redoc`` and ``/openapi.json`` need a valid key in keyed mode, unless
``open_ops_endpoints`` is set. Both are plain ASGI middleware (no body buffering).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import tenant_for_key
from api.errors import error_response

_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
OPS_PATHS = frozenset({"/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


class RequestId:
    """Tag every HTTP request and its response with an ``X-Request-Id``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        rid = given if _ID_OK.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-Id"] = rid
            await send(message)

        await self.app(scope, receive, tagged)


class OpsGuard:
    """In keyed mode, refuse the operational endpoints to callers without a valid key."""

    def __init__(self, app: ASGIApp, keys: dict[str, str], open_: bool = False) -> None:
        self.app = app
        self.keys = keys
        self.closed = bool(keys) and not open_

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.closed and scope["type"] == "http" and scope["path"] in OPS_PATHS:
            reason = self._refusal(Headers(scope=scope))
            if reason:
                resp = error_response(401, "unauthorized", reason, _challenge())
                await resp(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, headers: Headers) -> str:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "missing API key: send 'Authorization: Bearer <key>'"
        if tenant_for_key(self.keys, token.strip()) is None:
            return "invalid API key"
        return ""


def _challenge() -> dict[str, Any]:
    return {"WWW-Authenticate": "Bearer"}
