"""What every request passes first: a request id, and the key check of operational endpoints.

``RequestId`` gives each request an id (the caller's ``X-Request-Id`` when it is a short
token, else a fresh one), keeps it in ``request.state.request_id`` for the error log and
answers it in the ``X-Request-Id`` header. ``OpsGuard`` makes ``/metrics``, ``/docs``,
``/redoc`` and ``/openapi.json`` need a valid key in keyed mode, unless
``open_ops_endpoints`` is set. ``LocalGuard`` keeps keyless (local) mode local: binding to
loopback stops neither a web page that POSTs a form to it (no CORS preflight) nor DNS
rebinding (a name of the attacker's resolving to 127.0.0.1), so it answers only loopback
``Host`` names and refuses writes whose ``Origin`` is another site. All are plain ASGI
middleware (no body buffering).
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import tenant_for_key
from api.errors import error_response

_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
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


class LocalGuard:
    """Keyless mode: only loopback (or ``allowed``) ``Host`` names; no cross-site writes."""

    def __init__(self, app: ASGIApp, allowed: list[str] | tuple[str, ...] = ()) -> None:
        self.app = app
        self.allowed = LOOPBACK | {h.lower() for h in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            reason = self._refusal(scope["method"], Headers(scope=scope))
            if reason:
                await error_response(403, "forbidden", reason)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _local(self, host: str) -> bool:
        if host in self.allowed or host.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def _refusal(self, method: str, headers: Headers) -> str:
        host = _hostname(headers.get("host", "localhost"))
        if not self._local(host):
            return (
                "this server runs without API keys and answers loopback host names only; "
                "set API keys (OVERLAY_API_KEYS) or allowed host names (OVERLAY_API__ALLOWED_HOSTS)"
            )
        origin = headers.get("origin")
        if method in SAFE_METHODS or origin is None:
            return ""
        if origin == "null" or not self._local(_hostname(urlsplit(origin).netloc)):
            return "cross-site request refused: without API keys only local pages may write"
        return ""


def _hostname(netloc: str) -> str:
    """``host`` of ``host:port`` / ``[v6]:port``, lower case, without a trailing dot."""
    netloc = netloc.rsplit("@", 1)[-1].strip().lower()
    if netloc.startswith("["):
        return netloc[1:].split("]", 1)[0]
    return netloc.rsplit(":", 1)[0].rstrip(".") if netloc.count(":") <= 1 else netloc
